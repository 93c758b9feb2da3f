"""Substring search over many short texts, vectorised with a character-pair bitmap.

For each character pair (bigram) the index keeps one bit per text: "this text contains the
pair". Any text containing the search string contains all of its pairs, so AND-ing a few bitmap
rows (microseconds, whatever the catalogue size) leaves the candidates; only those are checked
with ``Series.str.contains(regex=False)``. One- and two-character searches made of letters,
digits and spaces are answered by the bitmap alone.
"""

from __future__ import annotations

import itertools
import string

import numpy as np
import pandas as pd

__all__ = ["SearchIndex"]

# Character classes: each letter, digit and the space is its own class (exact); every other
# character shares the OTHER class, so pairs with it only narrow the candidates.
_EXACT = string.ascii_lowercase + string.digits + " "
_OTHER = len(_EXACT)
_CLASSES = _OTHER + 1
_SEPARATOR = -1
_SMALL = 1000  # candidates checked with `in` one by one up to this count
_CHUNK = 8192  # rows per block while building (a multiple of 8: blocks fill whole bytes)
_TABLE = np.full(129, _OTHER, dtype=np.int16)  # code points >= 128 use the last slot
_TABLE[0] = _SEPARATOR
for _i, _ch in enumerate(_EXACT):
    _TABLE[ord(_ch)] = _i


def _classes(codepoints: np.ndarray) -> np.ndarray:
    return _TABLE[np.minimum(codepoints, 128)]


class SearchIndex:
    """Which of ``texts`` contain a string; ``texts`` must already be lower case, without NULs."""

    def __init__(self, texts: pd.Series) -> None:
        self._texts = texts.reset_index(drop=True)
        self._values: list[str] = []
        n = self._n = len(self._texts)
        self._bytes = max(1, (n + 7) // 8)
        self._unigrams = np.zeros((_CLASSES, self._bytes), dtype=np.uint8)
        self._bigrams = np.zeros((_CLASSES * _CLASSES, self._bytes), dtype=np.uint8)
        if n == 0:
            return
        values = self._texts.tolist()
        self._values = values
        # One UTF-32 buffer for all texts, NUL-separated: code points and their text numbers.
        codepoints = np.frombuffer("\0".join(values).encode("utf-32-le"), dtype=np.uint32)
        lengths = np.fromiter((len(v) + 1 for v in values), dtype=np.int64, count=n)
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)[: len(codepoints)]
        cls = _classes(codepoints).astype(np.int64)
        keep = cls != _SEPARATOR
        self._set_bits(self._unigrams, cls[keep], rows[keep])
        pair = (cls[:-1] != _SEPARATOR) & (cls[1:] != _SEPARATOR)
        self._set_bits(self._bigrams, cls[:-1][pair] * _CLASSES + cls[1:][pair], rows[:-1][pair])

    def _set_bits(self, bitmap: np.ndarray, keys: np.ndarray, rows: np.ndarray) -> None:
        # rows ascend: fill a boolean (key, row) block per chunk of rows, then pack it to bits.
        starts = np.searchsorted(rows, np.arange(0, self._n + _CHUNK, _CHUNK))
        for chunk, (a, b) in enumerate(itertools.pairwise(starts)):
            if a == b:
                continue
            first = chunk * _CHUNK
            width = min(_CHUNK, self._n - first)
            block = np.zeros((bitmap.shape[0], width), dtype=bool)
            block[keys[a:b], rows[a:b] - first] = True
            bitmap[:, first // 8 : first // 8 + (width + 7) // 8] = np.packbits(block, axis=1)

    def __len__(self) -> int:
        return self._n

    def _unpack(self, packed: np.ndarray) -> np.ndarray:
        return np.unpackbits(packed, count=self._n).astype(bool)

    def candidates(self, needle: str) -> tuple[np.ndarray, bool]:
        """Rows that may contain ``needle`` and whether that answer is already exact."""
        if not needle:
            return np.ones(self._n, dtype=bool), True
        cls = _classes(np.frombuffer(needle.encode("utf-32-le"), dtype=np.uint32))
        cls = cls.astype(np.int64)
        exact = len(needle) <= 2 and bool((cls < _OTHER).all()) and "\0" not in needle
        if len(cls) == 1:
            return self._unpack(self._unigrams[cls[0]]), exact
        keys = np.unique(cls[:-1] * _CLASSES + cls[1:])
        packed = np.bitwise_and.reduce(self._bigrams[keys], axis=0)
        return self._unpack(packed), exact

    def contains(self, needle: str, within: np.ndarray | None = None) -> np.ndarray:
        """A boolean array: which texts contain ``needle``, looked for only ``within`` if given."""
        mask, exact = self.candidates(needle)
        if within is not None:
            mask &= within
        if exact:
            return mask
        rows = np.flatnonzero(mask)
        if len(rows) > _SMALL:
            found = self._texts.take(rows).str.contains(needle, regex=False)
            mask[rows] = found.to_numpy(dtype=bool, na_value=False)
        elif len(rows):
            # Up to about a thousand candidates, a plain `in` per text beats the pandas call
            # (its fixed cost, and a Python-level loop itself without pyarrow strings).
            values = self._values
            mask[rows] = [needle in values[i] for i in rows.tolist()]
        return mask
