"""Per-request input checks shared by every entry point (library, CLI, server)."""

from __future__ import annotations

from collections.abc import Sequence

from openrerank.errors import (
    DocumentTypeError,
    EmptyDocumentsError,
    EmptyQueryError,
    InputTooLongError,
    InvalidTopNError,
    TooManyDocumentsError,
)


def check_query(query: object) -> str:
    """The query, if it is a non-blank string.

    Raises:
        EmptyQueryError: not a string, empty, or only whitespace.
    """
    if not isinstance(query, str) or not query.strip():
        raise EmptyQueryError("query must be a non-empty string")
    return query


def check_documents(documents: object, *, limit: int) -> list[str]:
    """A fresh list of the documents, if they are 1..limit strings.

    Raises:
        EmptyDocumentsError: no documents.
        DocumentTypeError: not a sequence of strings (a single string included).
        TooManyDocumentsError: more than ``limit`` documents.
    """
    if isinstance(documents, str | bytes) or not isinstance(documents, Sequence):
        raise DocumentTypeError("documents must be a list of strings")
    if not documents:
        raise EmptyDocumentsError("documents must not be empty")
    if len(documents) > limit:
        raise TooManyDocumentsError(f"{len(documents)} documents exceed the limit of {limit}")
    for index, document in enumerate(documents):
        if not isinstance(document, str):
            raise DocumentTypeError(
                f"documents[{index}] is {type(document).__name__}; every document must be a string"
            )
    return list(documents)


def check_top_n(top_n: object) -> int | None:
    """``top_n`` if it is ``None`` or an integer >= 1.

    Raises:
        InvalidTopNError: anything else (booleans included).
    """
    if top_n is None:
        return None
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise InvalidTopNError(f"top_n must be an integer >= 1, got {top_n!r}")
    return top_n


def check_lengths(
    query: str, documents: Sequence[str], *, max_query_chars: int, max_document_chars: int
) -> None:
    """Refuse over-long text before any tokenization work is spent on it.

    Raises:
        InputTooLongError: the query or a document has more characters than allowed.
    """
    if len(query) > max_query_chars:
        raise InputTooLongError(
            f"the query has {len(query)} characters; the limit is {max_query_chars}"
        )
    for index, document in enumerate(documents):
        if len(document) > max_document_chars:
            raise InputTooLongError(
                f"documents[{index}] has {len(document)} characters; "
                f"the limit is {max_document_chars}"
            )
