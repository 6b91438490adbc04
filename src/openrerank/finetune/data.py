"""Training queries for ``openrerank finetune``, read from one of three formats.

* Cohere's fine-tune JSONL: one ``{"query", "relevant_passages": [...],
  "hard_negatives": [...]}`` object per line (``hard_negatives`` optional).
* Rows: one ``{"query", "positive", "negatives": [...]}`` object per line
  (``negatives`` optional); the rows of one query may be spread over several lines.
* A BEIR-layout folder and a split: the judgments of ``qrels/<split>.tsv`` over
  ``corpus.jsonl`` and ``queries.jsonl``; a grade of at least ``rel`` is a positive and a
  grade of 0 a judged negative. Judged queries without a positive (TREC qrels have them)
  are left out and counted in ``source``.

Lines with the same query text are one query. Passages are kept once each, under an id
(``p0``, ``p1``, ... for JSONL; the corpus ids for BEIR), so that the BM25 negative
miner and the held-out evaluation can treat every format as a corpus. Bad data raises
`TrainingDataError` naming the file and line: an empty query, a query without a
positive, a positive that is also a negative, an id that is not in the corpus.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from openrerank.eval.datasets import DatasetError, json_records, qrels_rows, read_corpus
from openrerank.eval.datasets import read_queries as read_query_texts

COHERE_FIELDS = ("query", "relevant_passages", "hard_negatives")
ROW_FIELDS = ("query", "positive", "negatives")
_PREVIEW = 60


class TrainingDataError(ValueError):
    """Training data that cannot be used; the message starts with ``file:line``."""


class FinetuneError(ValueError):
    """A run that cannot start or resume as asked (flags, output folder, device), in one
    line."""


@dataclass(frozen=True, slots=True)
class TrainingQuery:
    """One query with its judged passages (passage ids).

    Attributes:
        query_id: ``line-N`` (its first JSONL line) or the BEIR query id.
        text: the query.
        positives: relevant passages, in the order given.
        negatives: non-relevant passages the data names (hard negatives).
        mined: negatives found by the built-in BM25 (`mining`), best first.
        judged: passages never to use as a negative for this query (every one judged
            relevant, at any grade).
        where: the file and line that introduced it, for messages.
    """

    query_id: str
    text: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...] = ()
    mined: tuple[str, ...] = ()
    judged: frozenset[str] = frozenset()
    where: str = ""


@dataclass(frozen=True)
class TrainingData:
    """Training queries over one collection of passages.

    Attributes:
        passages: passage id to text (for BEIR: ``title + " " + text``).
        queries: the queries, in file order.
        source: where the data came from, in words, for the model card.
        format: ``cohere``, ``rows``, ``cohere+rows`` or ``beir``.
    """

    passages: Mapping[str, str]
    queries: tuple[TrainingQuery, ...]
    source: str
    format: str

    def counts(self) -> dict[str, int]:
        """Queries, positives, given and mined negatives, and passages."""
        return {
            "queries": len(self.queries),
            "positives": sum(len(q.positives) for q in self.queries),
            "given_negatives": sum(len(q.negatives) for q in self.queries),
            "mined_negatives": sum(len(q.mined) for q in self.queries),
            "passages": len(self.passages),
        }


def read_jsonl(path: Path) -> TrainingData:
    """Read Cohere fine-tune JSONL or (query, positive, negatives) rows (module docstring).

    Raises:
        TrainingDataError: a malformed line, an unknown or missing field, an empty query
            or passage, a query without a positive, a positive also given as a negative,
            or an empty file.
    """
    builder = _Builder()
    formats: set[str] = set()
    try:
        for lineno, record in json_records(path):
            where = f"{path}:{lineno}"
            kind, positives, negatives = _parse_record(record, where)
            formats.add(kind)
            builder.add(where, f"line-{lineno}", _query_text(record, where), positives, negatives)
    except DatasetError as exc:
        raise TrainingDataError(str(exc)) from exc
    if not builder.has_queries:
        raise TrainingDataError(f"{path}: no training rows")
    kind = "+".join(sorted(formats))
    described = "Cohere fine-tune JSONL" if kind == "cohere" else "JSONL rows"
    source = f"{path.name} ({described})"
    return TrainingData(builder.frozen_passages(), builder.frozen(), source, kind)


def read_beir(folder: Path, *, split: str = "train", rel: int | None = None) -> TrainingData:
    """Read the judged queries of ``qrels/<split>.tsv`` from a BEIR-layout folder.

    Args:
        folder: holds ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.
        split: the qrels file.
        rel: the least grade of a positive; ``None`` = 2 when the qrels are graded
            (some grade above 1, TREC DL), else 1.

    Raises:
        TrainingDataError: a missing or malformed file, a judgment naming a query or
            document the folder lacks or repeated, or no query with a positive.
    """
    try:
        corpus = read_corpus(folder / "corpus.jsonl")
        texts = read_query_texts(folder / "queries.jsonl")
        qrels_path = folder / "qrels" / f"{split}.tsv"
        rows = list(qrels_rows(qrels_path))
    except DatasetError as exc:
        raise TrainingDataError(str(exc)) from exc
    if not rows:
        raise TrainingDataError(f"{qrels_path}: no judgments")
    threshold = rel if rel is not None else (2 if max(g for *_, g in rows) > 1 else 1)
    judgments = _judgments(qrels_path, rows, corpus, texts)
    found = [
        _beir_query(query_id, texts[query_id], grades, threshold, where)
        for query_id, (where, grades) in judgments.items()
    ]
    queries = tuple(q for q in found if q.positives)
    if not queries:
        raise TrainingDataError(f"{qrels_path}: no query has a judgment of grade >= {threshold}")
    passages = MappingProxyType({d: doc.full_text for d, doc in corpus.items()})
    skipped = len(found) - len(queries)
    without = f"; {skipped} judged queries without a positive left out" if skipped else ""
    source = (
        f"{folder.name} qrels/{split}.tsv (BEIR layout, positives: grade >= {threshold}{without})"
    )
    return TrainingData(passages, queries, source, "beir")


def _judgments(
    path: Path,
    rows: Iterable[tuple[int, str, str, int]],
    corpus: Mapping[str, Any],
    texts: Mapping[str, str],
) -> dict[str, tuple[str, dict[str, int]]]:
    """Query id to (its first qrels line, document id to grade), every id checked."""
    judgments: dict[str, tuple[str, dict[str, int]]] = {}
    for lineno, query_id, doc_id, grade in rows:
        where = f"{path}:{lineno}"
        if query_id not in texts:
            raise TrainingDataError(f"{where}: query id {query_id!r} is not in queries.jsonl")
        if doc_id not in corpus:
            raise TrainingDataError(f"{where}: document id {doc_id!r} is not in corpus.jsonl")
        grades = judgments.setdefault(query_id, (where, {}))[1]
        if doc_id in grades:
            raise TrainingDataError(
                f"{where}: ({query_id!r}, {doc_id!r}) is judged twice in this file"
            )
        grades[doc_id] = grade
    return judgments


def _beir_query(
    query_id: str, text: str, grades: Mapping[str, int], threshold: int, where: str
) -> TrainingQuery:
    if not text.strip():
        raise TrainingDataError(f"{where}: query {query_id!r} has an empty text in queries.jsonl")
    positives = tuple(d for d, g in grades.items() if g >= threshold)
    negatives = tuple(d for d, g in grades.items() if g <= 0)
    judged = frozenset(d for d, g in grades.items() if g > 0)
    return TrainingQuery(query_id, text, positives, negatives, judged=judged, where=where)


def _parse_record(record: dict[str, Any], where: str) -> tuple[str, list[str], list[str]]:
    """The record's format and its positive and negative texts, checked."""
    if "relevant_passages" in record:
        _check_fields(record, COHERE_FIELDS, where)
        positives = _passages(record, "relevant_passages", where, required=True)
        return "cohere", positives, _passages(record, "hard_negatives", where, required=False)
    if "positive" in record:
        _check_fields(record, ROW_FIELDS, where)
        positive = record["positive"]
        if not isinstance(positive, str):
            raise TrainingDataError(f"{where}: 'positive' must be a string")
        _check_passage(positive, "'positive'", where)
        return "rows", [positive], _passages(record, "negatives", where, required=False)
    raise TrainingDataError(
        f"{where}: no positive: a row needs 'relevant_passages' (Cohere's format) or "
        "'positive' (query, positive, negatives rows)"
    )


def _check_fields(record: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(record) - set(allowed))
    if unknown:
        raise TrainingDataError(
            f"{where}: unknown field {unknown[0]!r}; this format's fields are {', '.join(allowed)}"
        )


def _query_text(record: dict[str, Any], where: str) -> str:
    query = record.get("query")
    if not isinstance(query, str):
        raise TrainingDataError(f"{where}: 'query' must be a string")
    if not query.strip():
        raise TrainingDataError(f"{where}: empty query")
    return query


def _passages(record: dict[str, Any], key: str, where: str, *, required: bool) -> list[str]:
    value = record.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TrainingDataError(f"{where}: {key!r} must be a list of strings")
    if required and not value:
        raise TrainingDataError(f"{where}: no positive: {key!r} is empty")
    for number, text in enumerate(value, start=1):
        _check_passage(text, f"passage {number} of {key!r}", where)
    return value


def _check_passage(text: str, what: str, where: str) -> None:
    if not text.strip():
        raise TrainingDataError(f"{where}: {what} is empty")


class _Builder:
    """Merges the rows of each query text and numbers the passages."""

    def __init__(self) -> None:
        self._passage_ids: dict[str, str] = {}
        self._by_text: dict[str, tuple[str, str, list[str], list[str]]] = {}

    @property
    def has_queries(self) -> bool:
        return bool(self._by_text)

    def add(
        self, where: str, query_id: str, query: str, positives: list[str], negatives: list[str]
    ) -> None:
        first_where, _, known_pos, known_neg = self._by_text.setdefault(
            query, (where, query_id, [], [])
        )
        positive_ids = [self._passage_id(text) for text in positives]
        negative_ids = [self._passage_id(text) for text in negatives]
        clash = set(positive_ids + known_pos) & set(negative_ids + known_neg)
        if clash:
            text = next(t for t, i in self._passage_ids.items() if i in clash)
            also = "" if first_where == where else f" (the query's first row is {first_where})"
            raise TrainingDataError(
                f"{where}: a positive is also a negative of this query{also}: {_preview(text)!r}"
            )
        known_pos.extend(p for p in positive_ids if p not in known_pos)
        known_neg.extend(n for n in negative_ids if n not in known_neg)

    def frozen(self) -> tuple[TrainingQuery, ...]:
        return tuple(
            TrainingQuery(
                query_id, text, tuple(pos), tuple(neg), judged=frozenset(pos), where=where
            )
            for text, (where, query_id, pos, neg) in self._by_text.items()
        )

    def frozen_passages(self) -> Mapping[str, str]:
        return MappingProxyType({i: text for text, i in self._passage_ids.items()})

    def _passage_id(self, text: str) -> str:
        return self._passage_ids.setdefault(text, f"p{len(self._passage_ids)}")


def _preview(text: str) -> str:
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"
