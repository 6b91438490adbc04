"""Per-request input checks shared by every entry point (library, CLI, server)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from openrerank.errors import (
    DocumentTypeError,
    EmptyDocumentsError,
    EmptyQueryError,
    InputTooLongError,
    InvalidInputError,
    InvalidTopNError,
    TooManyDocumentsError,
)
from openrerank.types import Document, SpanOptions

SURROGATE = re.compile("[\ud800-\udfff]")
"""A surrogate code point: in a Python string, one that is not half of a valid pair."""


def check_query(query: object) -> str:
    """The query, if it is a non-blank string.

    Raises:
        EmptyQueryError: not a string, empty, or only whitespace.
    """
    if not isinstance(query, str) or not query.strip():
        raise EmptyQueryError("query must be a non-empty string")
    return query


def check_instruction(instruction: str, max_chars: int) -> None:
    """Refuse a blank instruction or one over the query's character limit.

    Raises:
        InvalidInputError: blank (omit it for the default instead).
        InputTooLongError: longer than ``max_chars``.
    """
    if not instruction.strip():
        raise InvalidInputError(
            "instruction must be a non-empty string; omit it to use the model's default"
        )
    if len(instruction) > max_chars:
        raise InputTooLongError(
            f"instruction of {len(instruction):,} characters exceeds the limit of {max_chars:,}"
        )


def check_documents(documents: object, *, limit: int) -> list[Document]:
    """A fresh list of the documents, if they are 1..limit strings or objects.

    Raises:
        EmptyDocumentsError: no documents.
        DocumentTypeError: not a sequence of strings and objects (a single string
            included).
        TooManyDocumentsError: more than ``limit`` documents.
    """
    if isinstance(documents, str | bytes) or not isinstance(documents, Sequence):
        raise DocumentTypeError("documents must be a list of strings")
    if not documents:
        raise EmptyDocumentsError("documents must not be empty")
    if len(documents) > limit:
        raise TooManyDocumentsError(f"{len(documents)} documents exceed the limit of {limit}")
    for index, document in enumerate(documents):
        if not isinstance(document, str | Mapping):
            raise DocumentTypeError(
                f"documents[{index}] is {type(document).__name__}; every document must be a "
                "string or an object"
            )
    return list(documents)


def check_positive(
    name: str, value: object, *, error: type[InvalidInputError] = InvalidInputError
) -> int | None:
    """``value`` if it is ``None`` or an integer >= 1 (``top_n``, ``max_tokens_per_doc``,
    ``max_chunks_per_doc``).

    Raises:
        InvalidInputError: anything else (booleans included), as ``error``.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise error(f"{name} must be an integer >= 1, got {value!r}")
    return value


def check_rank_fields(rank_fields: object) -> tuple[str, ...] | None:
    """``rank_fields`` as a tuple, if it is a list of non-empty strings; ``None`` when
    it is ``None`` or empty (score the ``text`` field, as when it is absent).

    Raises:
        InvalidInputError: anything else.
    """
    if rank_fields is None:
        return None
    if (
        isinstance(rank_fields, str)
        or not isinstance(rank_fields, Sequence)
        or not all(isinstance(field, str) and field for field in rank_fields)
    ):
        raise InvalidInputError("rank_fields must be a list of field names")
    return tuple(rank_fields) or None


def check_truncation_side(side: object) -> bool:
    """Whether truncation keeps a document's end: ``"left"`` yes, ``"right"`` no.

    Raises:
        InvalidInputError: any other value.
    """
    if side not in ("left", "right"):
        raise InvalidInputError(f"truncation_side must be 'left' or 'right', got {side!r}")
    return side == "left"


def check_span_options(options: SpanOptions | None, documents: Sequence[Document]) -> None:
    """Relevant spans need string documents, a threshold in [0, 1] and ``max_spans >= 1``.

    Raises:
        InvalidInputError: any of these does not hold.
    """
    if options is None:
        return
    threshold = options.threshold
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InvalidInputError("relevant_spans.threshold must be a number in [0, 1]")
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInputError(f"relevant_spans.threshold must be in [0, 1], got {threshold}")
    check_positive("relevant_spans.max_spans", options.max_spans)
    if not all(isinstance(document, str) for document in documents):
        raise InvalidInputError("relevant_spans needs string documents (offsets point into them)")


def check_top_n(top_n: object) -> int | None:
    """``top_n`` if it is ``None`` or an integer >= 1.

    Raises:
        InvalidTopNError: anything else (booleans included).
    """
    return check_positive("top_n", top_n, error=InvalidTopNError)


def check_lengths(
    query: str, documents: Sequence[str], *, max_query_chars: int, max_document_chars: int
) -> None:
    """Refuse over-long text, and text a tokenizer cannot read, before any tokenization
    work is spent on it.

    Raises:
        InputTooLongError: the query or a document has more characters than allowed.
        InvalidInputError: the query or a document has an unpaired surrogate (such as
            ``"\\ud800"`` from JSON), which is not Unicode text.
    """
    if len(query) > max_query_chars:
        raise InputTooLongError(
            f"the query has {len(query)} characters; the limit is {max_query_chars}"
        )
    check_unicode("the query", query)
    for index, document in enumerate(documents):
        if len(document) > max_document_chars:
            raise InputTooLongError(
                f"documents[{index}] has {len(document)} characters; "
                f"the limit is {max_document_chars}"
            )
        check_unicode(f"documents[{index}]", document)


def check_unicode(name: str, text: str) -> None:
    """``text`` is Unicode text: it has no unpaired surrogate code point.

    Raises:
        InvalidInputError: it has one.
    """
    found = None if text.isascii() else SURROGATE.search(text)
    if found is not None:
        raise InvalidInputError(
            f"{name} has an unpaired surrogate (U+{ord(found.group()):04X}) at offset "
            f"{found.start()}; send valid Unicode text"
        )
