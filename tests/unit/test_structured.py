from __future__ import annotations

import pytest

from openrerank.errors import DocumentTypeError
from openrerank.structured import render_document


def test_structured_renders_rank_fields_as_key_value_lines_in_order() -> None:
    document = {"text": "body", "title": "Title", "year": 2024, "tags": ["a", "b"]}
    rendered = render_document(document, ["title", "year", "tags", "text"], index=0)
    assert rendered == 'title: Title\nyear: 2024\ntags: ["a", "b"]\ntext: body'


def test_structured_skips_missing_and_null_fields() -> None:
    rendered = render_document({"title": "T", "author": None}, ["author", "title", "x"], index=0)
    assert rendered == "title: T"


def test_structured_without_rank_fields_scores_the_text_field() -> None:
    assert render_document({"text": "plain", "id": 7}, None, index=0) == "plain"


def test_structured_refuses_an_object_without_text_and_no_rank_fields() -> None:
    with pytest.raises(DocumentTypeError, match=r"documents\[3\].*'text'"):
        render_document({"title": "T"}, None, index=3)


def test_structured_refuses_an_object_with_none_of_the_rank_fields() -> None:
    with pytest.raises(DocumentTypeError, match=r"documents\[1\] has none of the rank_fields"):
        render_document({"title": "T"}, ["body"], index=1)


def test_structured_never_modifies_the_document() -> None:
    document = {"title": "T", "text": "x"}
    render_document(document, ["title"], index=0)
    assert document == {"title": "T", "text": "x"}
