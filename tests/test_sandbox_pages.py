"""List pages assembled from stored JSON bodies: the same document json.dumps would give."""

from __future__ import annotations

import json

import pytest

from dr_notebook.sandbox.api.routing import spliced_page

BODIES = ['{"id":"a","name":"Ä \\"q\\""}', '{"id":"b","items":[{"x":[]}]}']


@pytest.mark.parametrize(
    "envelope",
    [
        {"count": 2, "totalCount": 9, "next": "http://h/?a=%22]}", "previous": None},
        {"previous": None, "next": None, "totalCount": 2, "count": 2},  # another key order
        {"next": 'x"],"data":[]}', "count": 2},  # text that looks like the splice point
    ],
)
def test_spliced_page_equals_the_decoded_documents(envelope):
    page = json.loads(spliced_page(envelope, BODIES))
    assert page == {**envelope, "data": [json.loads(b) for b in BODIES]}


def test_an_empty_page_has_an_empty_data_array():
    assert json.loads(spliced_page({"count": 0}, [])) == {"count": 0, "data": []}


@pytest.mark.parametrize("envelope", [{}, {"count": 1, "data": []}])
def test_an_envelope_that_cannot_be_spliced_is_refused(envelope):
    with pytest.raises(ValueError, match="envelope"):
        spliced_page(envelope, BODIES)
