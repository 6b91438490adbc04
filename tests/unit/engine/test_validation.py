from __future__ import annotations

import pytest

from openrerank.engine.validation import check_documents, check_lengths, check_query, check_top_n
from openrerank.errors import (
    DocumentTypeError,
    EmptyDocumentsError,
    EmptyQueryError,
    InputTooLongError,
    InvalidInputError,
    InvalidTopNError,
    TooManyDocumentsError,
)


@pytest.mark.parametrize("query", ["", "   \n\t", None, 3])
def test_validation_rejects_blank_or_non_string_query(query: object) -> None:
    with pytest.raises(EmptyQueryError, match="non-empty string"):
        check_query(query)


def test_validation_rejects_empty_documents() -> None:
    with pytest.raises(EmptyDocumentsError):
        check_documents([], limit=10)


@pytest.mark.parametrize("documents", ["a single string", b"bytes", 5, None])
def test_validation_rejects_documents_that_are_not_a_list(documents: object) -> None:
    with pytest.raises(DocumentTypeError, match="list of strings"):
        check_documents(documents, limit=10)


def test_validation_names_the_first_document_that_is_neither_string_nor_object() -> None:
    with pytest.raises(DocumentTypeError, match=r"documents\[2\] is int"):
        check_documents(["ok", {"text": "x"}, 3, None], limit=10)
    assert check_documents(["ok", {"text": "x"}], limit=10) == ["ok", {"text": "x"}]


def test_validation_enforces_the_document_limit() -> None:
    with pytest.raises(TooManyDocumentsError, match="3 documents exceed the limit of 2"):
        check_documents(["a", "b", "c"], limit=2)


def test_validation_returns_a_copy_of_the_documents() -> None:
    documents = ("a", "b")
    assert check_documents(documents, limit=2) == ["a", "b"]


@pytest.mark.parametrize("top_n", [0, -1, 1.5, True, "3"])
def test_validation_rejects_bad_top_n(top_n: object) -> None:
    with pytest.raises(InvalidTopNError):
        check_top_n(top_n)


def test_validation_accepts_none_and_positive_top_n() -> None:
    assert check_top_n(None) is None
    assert check_top_n(7) == 7


LIMITS = {"max_query_chars": 20, "max_document_chars": 20}


@pytest.mark.parametrize(
    ("query", "documents", "where"),
    [("fox \ud800", ["a"], "the query"), ("fox", ["a", "b\udfff"], r"documents\[1\]")],
)
def test_validation_rejects_unpaired_surrogates_before_tokenization(
    query: str, documents: list[str], where: str
) -> None:
    with pytest.raises(InvalidInputError, match=rf"{where} has an unpaired surrogate \(U\+D[8F]"):
        check_lengths(query, documents, **LIMITS)


def test_validation_accepts_non_ascii_text_and_checks_lengths_first() -> None:
    check_lengths("fox \U0001f98a \x00", ["caf\u00e9", ""], **LIMITS)
    with pytest.raises(InputTooLongError):
        check_lengths("fox", ["\ud800" * 21], **LIMITS)
