"""The gallery's substring index gives exactly what a plain ``in`` test gives."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from dr_notebook.gallery.search import SearchIndex

ALPHABET = "abcxyz019 -_.&é\n<"


def _naive(texts: list[str], needle: str) -> list[bool]:
    return [needle in text for text in texts]


@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 300, 8200])
def test_matches_plain_substring_search(count: int) -> None:
    rng = random.Random(count)
    texts = ["".join(rng.choices(ALPHABET, k=rng.randint(0, 30))) for _ in range(count)]
    index = SearchIndex(pd.Series(texts, dtype="string"))
    assert len(index) == count
    needles = ["", "a", "é", "-", " ", "ab", "a ", "b<", "&é", "\nx", "xyz", "01", "9 -"]
    needles += ["".join(rng.choices(ALPHABET, k=rng.randint(1, 4))) for _ in range(40)]
    for needle in needles:
        got = index.contains(needle)
        assert got.dtype == bool
        assert got.tolist() == _naive(texts, needle), needle


def test_typing_reuses_earlier_occurrences_correctly() -> None:
    texts = ["banana bandana", "band", "bandanas and bananas", "ban", "nab", "an é-b", ""]
    index = SearchIndex(pd.Series(texts, dtype="string"))
    typed = ["b", "ba", "ban", "bana", "banan", "banana", "banan", "band", "bandana", "an"]
    typed += ["ana", "anas", "nas", "an ", "an é", "an é-", "an é-b", "é-", "-"]
    for needle in typed:
        assert index.contains(needle).tolist() == _naive(texts, needle), needle


def test_occurrences_are_positions_in_the_joined_texts() -> None:
    index = SearchIndex(pd.Series(["abcab", "xab"], dtype="string"))
    # "abcab\0xab\0": "ab" starts at 0, 3 and 7.
    assert sorted(index.occurrences("ab").tolist()) == [0, 3, 7]
    assert sorted(index.occurrences("abc").tolist()) == [0]
    assert index.occurrences("ba").tolist() == []


def test_within_limits_the_rows() -> None:
    index = SearchIndex(pd.Series(["app one", "app two", "tool"], dtype="string"))
    within = np.array([False, True, True])
    assert index.contains("app", within=within).tolist() == [False, True, False]
    assert within.tolist() == [False, True, True]


def test_large_catalogue_with_repeated_phrases() -> None:
    texts = [f"item {i} abd use cases" if i % 3 else f"item {i} abc" for i in range(3000)]
    index = SearchIndex(pd.Series(texts, dtype="string"))
    for needle in ("abc", "m 1", "em ", "use c", "use cases", "s", "12", "9 a"):
        assert index.contains(needle).tolist() == _naive(texts, needle), needle
