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


def test_exact_answers_need_no_check() -> None:
    index = SearchIndex(pd.Series(["streamlit app", "flask api", "chat"], dtype="string"))
    mask, exact = index.candidates("st")
    assert exact
    assert mask.tolist() == [True, False, False]
    mask, exact = index.candidates("sk ")
    assert not exact  # three characters: candidates only
    assert mask.tolist() == [False, True, False]
    assert not index.candidates("é")[1]


def test_within_limits_the_rows() -> None:
    index = SearchIndex(pd.Series(["app one", "app two", "tool"], dtype="string"))
    within = np.array([False, True, True])
    assert index.contains("app", within=within).tolist() == [False, True, False]
    assert within.tolist() == [False, True, True]


def test_many_candidates_are_checked_in_bulk() -> None:
    texts = [f"item {i} abd" if i % 3 else f"item {i} abc" for i in range(3000)]
    index = SearchIndex(pd.Series(texts, dtype="string"))
    mask, exact = index.candidates("abc")
    assert not exact
    assert mask.sum() == 1000  # "ab" and "bc" both occur only in the "abc" texts
    assert index.contains("m 1").tolist() == _naive(texts, "m 1")
    assert index.contains("em ").sum() == 3000
