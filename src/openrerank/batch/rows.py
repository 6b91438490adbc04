"""Batch rows: what one input line (or Parquet row) asks, and what is written for it.

An input row is ``{"id", "query", "documents": [...], "top_n"?, "document_ids"?}``; other
keys are ignored, so a table may carry its own columns. Its output row is
``{"id", "results": [{"index", "relevance_score"}, ...]}``, best first; a row that gives
``document_ids`` (as rows read from a BEIR folder do) also gets each result's
``document_id``. Ids are strings or integers and are
written back as they were read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openrerank.types import Document

RowId = str | int


class RowError(ValueError):
    """An input row is malformed, or the engine refused it; the message names the row."""


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One ranking to compute.

    Attributes:
        id: the caller's id, unique in the input.
        query: the search query.
        documents: the candidates, strings or objects (as in a rerank request).
        top_n: keep only the best ``top_n``; ``None`` keeps all.
        where: where the row was read (``file:line``), for error messages.
        document_ids: the candidates' ids (BEIR input), written beside each result.
    """

    id: RowId
    query: str
    documents: Sequence[Document]
    top_n: int | None = None
    where: str = ""
    document_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ScoredDocument:
    """One result: the document's position in the row, its score and, for BEIR rows, id."""

    index: int
    relevance_score: float
    document_id: str | None = None


@dataclass(frozen=True, slots=True)
class RowResult:
    """A row's ranking, best first, and the pairs it cost."""

    id: RowId
    results: tuple[ScoredDocument, ...]
    pairs: int

    def to_record(self) -> dict[str, Any]:
        """The output row as plain data."""
        return {"id": self.id, "results": [_result_record(item) for item in self.results]}

    @classmethod
    def from_record(cls, record: Mapping[str, Any], pairs: int) -> RowResult:
        """The result :meth:`to_record` wrote."""
        results = tuple(
            ScoredDocument(item["index"], item["relevance_score"], item.get("document_id"))
            for item in record["results"]
        )
        return cls(record["id"], results, pairs)


@dataclass(frozen=True, slots=True)
class RowFailure:
    """A row that could not be ranked, and why (input's fault, never a bug)."""

    id: RowId | None
    message: str

    def to_record(self) -> dict[str, Any]:
        return {"id": self.id, "error": self.message}


def _result_record(item: ScoredDocument) -> dict[str, Any]:
    record: dict[str, Any] = {"index": item.index, "relevance_score": item.relevance_score}
    if item.document_id is not None:
        record["document_id"] = item.document_id
    return record


def row_record(row: BatchRow) -> dict[str, Any]:
    """The input row as plain data (what :func:`parse_row` reads back)."""
    record: dict[str, Any] = {"id": row.id, "query": row.query, "documents": list(row.documents)}
    if row.top_n is not None:
        record["top_n"] = row.top_n
    if row.document_ids is not None:
        record["document_ids"] = list(row.document_ids)
    return record


def parse_row(record: object, where: str) -> BatchRow:
    """A validated row from one decoded input record.

    Raises:
        RowError: the record is not an object, or a field is missing or of the wrong type.
    """
    if not isinstance(record, Mapping):
        raise RowError(f"{where}: a row is a JSON object, got {type(record).__name__}")
    row_id = check_id(record.get("id"), where)
    query = record.get("query")
    if not isinstance(query, str):
        raise RowError(f"{where} (id {row_id!r}): 'query' must be a string")
    documents = record.get("documents")
    if not isinstance(documents, Sequence) or isinstance(documents, str | bytes):
        raise RowError(f"{where} (id {row_id!r}): 'documents' must be a list")
    for position, document in enumerate(documents):
        if not isinstance(document, str | Mapping):
            raise RowError(
                f"{where} (id {row_id!r}): documents[{position}] must be a string or an object"
            )
    top_n = record.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int)):
        raise RowError(f"{where} (id {row_id!r}): 'top_n' must be an integer")
    document_ids = _document_ids(record.get("document_ids"), len(documents), where, row_id)
    return BatchRow(row_id, query, list(documents), top_n, where, document_ids)


def _document_ids(value: object, count: int, where: str, row_id: RowId) -> tuple[str, ...] | None:
    """The optional ``document_ids``: one string per document, written beside results."""
    if value is None:
        return None
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != count
        or not all(isinstance(item, str) for item in value)
    ):
        raise RowError(f"{where} (id {row_id!r}): 'document_ids' must be a list of {count} strings")
    return tuple(value)


def check_id(value: object, where: str) -> RowId:
    """The row's id: a non-empty string or an integer.

    Raises:
        RowError: it is missing or of another type.
    """
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise RowError(f"{where}: 'id' must be a non-empty string or an integer, got {value!r}")


def parse_line(line: str, where: str) -> BatchRow:
    """A row from one JSONL line.

    Raises:
        RowError: the line is not JSON, or not a valid row.
    """
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RowError(f"{where}: not JSON ({exc.msg})") from None
    return parse_row(record, where)
