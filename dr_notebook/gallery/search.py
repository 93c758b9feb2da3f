"""Substring search over many short texts, vectorised over where the search text occurs.

All texts are laid end to end (NUL-separated) as one array of code points. For every pair of
adjacent characters the index lists where it occurs (a sorted array of positions, grouped by
pair): the occurrences of a search text are found from those of its rarest pair by comparing the
remaining characters with numpy, one character at a time over the shrinking set of positions.

Typing extends the search text, so the occurrences of the text typed so far are kept and each
new character only filters them (one gather and compare over the current matches): a keystroke
costs about the number of matches, not the size of the catalogue. One-character searches use a
per-character bitmap of the texts.
"""

from __future__ import annotations

import string
from collections import OrderedDict

import numpy as np
import pandas as pd

__all__ = ["SearchIndex"]

# Character classes: each letter, digit and the space is its own class; every other character
# shares the OTHER class (its positions are then checked against the real code point).
_EXACT = string.ascii_lowercase + string.digits + " "
_OTHER = len(_EXACT)
_CLASSES = _OTHER + 1
_PAIRS = _CLASSES * _CLASSES
_SEPARATOR = -1
_TABLE = np.full(129, _OTHER, dtype=np.int16)  # code points >= 128 use the last slot
_TABLE[0] = _SEPARATOR
for _i, _ch in enumerate(_EXACT):
    _TABLE[ord(_ch)] = _i
_CACHE = 64  # search texts whose occurrences are kept


def _classes(codepoints: np.ndarray) -> np.ndarray:
    return _TABLE[np.minimum(codepoints, 128)].astype(np.int64)


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


class SearchIndex:
    """Which of ``texts`` contain a string; ``texts`` must already be lower case."""

    def __init__(self, texts: pd.Series) -> None:
        self._texts = texts.reset_index(drop=True).fillna("")
        values = [str(v) for v in self._texts.tolist()]
        n = self._n = len(values)
        # All texts end to end, NUL after each; a trailing NUL keeps look-ahead in bounds.
        self._cps = _codepoints("".join(v + "\0" for v in values) + "\0")
        lengths = np.fromiter((len(v) + 1 for v in values), dtype=np.int64, count=n)
        self._row_of = np.repeat(np.arange(n, dtype=np.int32), lengths)
        cls = _classes(self._cps)
        # Which texts hold each character class: answers one-character searches.
        self._has = np.zeros((_CLASSES, n), dtype=bool)
        keep = cls[:-1] != _SEPARATOR
        self._has[cls[:-1][keep], self._row_of[keep]] = True
        # Positions of every character pair, grouped by pair (a CSR layout).
        first, second = cls[:-2], cls[1:-1]
        valid = (first != _SEPARATOR) & (second != _SEPARATOR)
        codes = (first * _CLASSES + second)[valid]
        order = np.argsort(codes, kind="stable")
        self._positions = np.flatnonzero(valid).astype(np.int32)[order]
        self._starts = np.zeros(_PAIRS + 1, dtype=np.int64)
        np.cumsum(np.bincount(codes, minlength=_PAIRS), out=self._starts[1:])
        self._found: OrderedDict[str, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return self._n

    def _filter(self, occ: np.ndarray, needle: np.ndarray, offsets: range) -> np.ndarray:
        """Keep the start positions whose characters at ``offsets`` equal the needle's."""
        last = len(self._cps) - 1
        for k in offsets:
            if not len(occ):
                break
            occ = occ[self._cps[np.minimum(occ + k, last)] == needle[k]]
        return occ

    def occurrences(self, needle: str) -> np.ndarray:
        """Start positions of ``needle`` (two or more characters, no NUL) in the joined texts."""
        found = self._found.get(needle)
        if found is not None:
            self._found.move_to_end(needle)
            return found
        cps = _codepoints(needle)
        # The longest earlier search this one extends: only its next characters need checking.
        prefix = max((t for t in self._found if needle.startswith(t)), key=len, default="")
        if prefix:
            occ = self._filter(self._found[prefix], cps, range(len(prefix), len(cps)))
        else:
            cls = _classes(cps)
            pairs = cls[:-1] * _CLASSES + cls[1:]
            counts = self._starts[pairs + 1] - self._starts[pairs]
            j = int(np.argmin(counts))
            occ = self._positions[self._starts[pairs[j]] : self._starts[pairs[j] + 1]] - j
            occ = occ[occ >= 0]
            occ = self._filter(occ, cps, range(len(cps)))
        self._found[needle] = occ
        if len(self._found) > _CACHE:
            self._found.popitem(last=False)
        return occ

    def contains(self, needle: str, within: np.ndarray | None = None) -> np.ndarray:
        """A boolean array: which texts contain ``needle`` (and are ``within``, when given)."""
        if not needle:
            mask = np.ones(self._n, dtype=bool)
        elif "\0" in needle or (len(needle) == 1 and _classes(_codepoints(needle))[0] == _OTHER):
            # Rare cases the index does not cover: pandas checks every text.
            found = self._texts.str.contains(needle, regex=False)
            mask = found.to_numpy(dtype=bool, na_value=False)
        elif len(needle) == 1:
            mask = self._has[_classes(_codepoints(needle))[0]].copy()
        else:
            mask = np.zeros(self._n, dtype=bool)
            mask[self._row_of[self.occurrences(needle)]] = True
        if within is not None:
            mask &= within
        return mask
