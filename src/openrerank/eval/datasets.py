"""Reading local BEIR-layout retrieval collections: corpus, queries, qrels and candidates.

The layout (described in ``../shared/data/README.md``)::

    <folder>/corpus.jsonl             one {"_id", "title", "text"} object per line
    <folder>/queries.jsonl            one {"_id", "text"} object per line
    <folder>/qrels/<split>.tsv        header "query-id<TAB>corpus-id<TAB>score"
    <folder>/run/<run>.tsv            header "query-id<TAB>doc-id<TAB>rank", rank 1 = best

Any of these files may instead be gzip-compressed with a ``.gz`` suffix (the XQuAD-R
runs are). Nothing is ever downloaded. Ids are kept as strings, because some look
numeric. Missing files and malformed lines raise `DatasetError`, whose message names
the file and, for a bad line, its 1-based line number.

Example:
    >>> from pathlib import Path
    >>> dataset = load_beir(Path("../shared/data/beir-scifact"))  # doctest: +SKIP
    >>> query_id = next(iter(dataset.candidates))  # doctest: +SKIP
    >>> texts = dataset.candidate_texts(query_id)  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

logger = logging.getLogger(__name__)

QRELS_HEADER = ("query-id", "corpus-id", "score")
RUN_HEADER = ("query-id", "doc-id", "rank")


class DatasetError(ValueError):
    """A data set file is missing or malformed.

    The message starts with the file's path, followed by ``:<line>`` when one line is at
    fault, so it reads like a compiler diagnostic.
    """


@dataclass(frozen=True, slots=True)
class Document:
    """One corpus entry.

    Attributes:
        doc_id: The document id, as a string.
        title: The title; empty when the collection has none.
        text: The body text.
    """

    doc_id: str
    title: str
    text: str

    @property
    def full_text(self) -> str:
        """The text a reranker scores: ``title + " " + text``, or ``text`` when untitled.

        This is how the reference model was trained and evaluated.
        """
        return f"{self.title} {self.text}" if self.title else self.text


@dataclass(frozen=True, slots=True)
class BeirDataset:
    """A judged retrieval collection with first-stage candidates, read from disk.

    The mappings are read-only views.

    Attributes:
        path: The folder the collection was read from.
        corpus: Document id to `Document`.
        queries: Query id to query text.
        qrels: Query id to (document id to relevance grade). Judged documents need not
            be in the corpus (TREC DL ships only the candidates' texts).
        candidates: Query id to candidate document ids in rank order (best first). A
            query without any first-stage candidate has no entry.
    """

    path: Path
    corpus: Mapping[str, Document]
    queries: Mapping[str, str]
    qrels: Mapping[str, Mapping[str, int]]
    candidates: Mapping[str, tuple[str, ...]]

    def document_text(self, doc_id: str) -> str:
        """Return the text to score for a document (see `Document.full_text`).

        Raises:
            KeyError: If the document is not in the corpus.
        """
        return self.corpus[doc_id].full_text

    def candidate_texts(self, query_id: str) -> list[str]:
        """Return the texts of a query's candidates in rank order (empty if it has none)."""
        return [self.document_text(doc_id) for doc_id in self.candidates.get(query_id, ())]


def load_beir(path: Path, *, split: str = "test", run: str = "bm25_top100") -> BeirDataset:
    """Read a BEIR-layout folder.

    Args:
        path: The collection folder (holding ``corpus.jsonl``, ``queries.jsonl``,
            ``qrels/`` and ``run/``).
        split: The qrels file to read, ``qrels/<split>.tsv``.
        run: The candidate list to read, ``run/<run>.tsv`` or ``run/<run>.tsv.gz``.

    Returns:
        The collection, with every candidate checked against the corpus and queries.

    Raises:
        DatasetError: If the folder or a file is missing, a line is malformed, an id is
            repeated, or a candidate names an unknown query or document.
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory (expected a BEIR-layout data set folder)")
    corpus = read_corpus(_locate(root / "corpus.jsonl"))
    queries = read_queries(_locate(root / "queries.jsonl"))
    qrels = read_qrels(_locate(root / "qrels" / f"{split}.tsv"))
    run_path = _locate(root / "run" / f"{run}.tsv")
    candidates = read_run(run_path)
    _check_candidates(run_path, candidates, corpus, queries)
    logger.debug(
        "loaded %s: %d documents, %d queries, %d judged queries, %d queries with candidates",
        root,
        len(corpus),
        len(queries),
        len(qrels),
        len(candidates),
    )
    return BeirDataset(
        path=root,
        corpus=MappingProxyType(corpus),
        queries=MappingProxyType(queries),
        qrels=MappingProxyType({q: MappingProxyType(docs) for q, docs in qrels.items()}),
        candidates=MappingProxyType(candidates),
    )


def read_corpus(path: Path) -> dict[str, Document]:
    """Read ``corpus.jsonl``: ``_id`` and ``text`` are required, ``title`` is optional.

    Raises:
        DatasetError: On a missing file, bad JSON, a missing or non-string field, or a
            repeated ``_id``.
    """
    corpus: dict[str, Document] = {}
    for lineno, record in _json_records(path):
        doc_id = _string_field(record, "_id", path, lineno)
        _reject_duplicate(doc_id in corpus, path, lineno, f"document id {doc_id!r}")
        title = _string_field(record, "title", path, lineno, default="")
        corpus[doc_id] = Document(doc_id, title, _string_field(record, "text", path, lineno))
    return corpus


def read_queries(path: Path) -> dict[str, str]:
    """Read ``queries.jsonl`` into query id to query text.

    Raises:
        DatasetError: On a missing file, bad JSON, a missing or non-string field, or a
            repeated ``_id``.
    """
    queries: dict[str, str] = {}
    for lineno, record in _json_records(path):
        query_id = _string_field(record, "_id", path, lineno)
        _reject_duplicate(query_id in queries, path, lineno, f"query id {query_id!r}")
        queries[query_id] = _string_field(record, "text", path, lineno)
    return queries


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read a qrels TSV into query id to (document id to integer grade).

    Raises:
        DatasetError: On a missing file, a wrong header, a line without exactly three
            tab-separated fields, a non-integer grade, or a repeated (query, document).
    """
    qrels: dict[str, dict[str, int]] = {}
    for lineno, (query_id, doc_id, grade) in _tsv_rows(path, QRELS_HEADER):
        judged = qrels.setdefault(query_id, {})
        _reject_duplicate(doc_id in judged, path, lineno, f"judgment ({query_id!r}, {doc_id!r})")
        judged[doc_id] = _parse_int(grade, path, lineno, "score")
    return qrels


def read_run(path: Path) -> dict[str, tuple[str, ...]]:
    """Read a ranked candidate TSV into query id to document ids ordered by rank.

    Ranks must be positive integers, unique within a query; gaps are allowed.

    Raises:
        DatasetError: On a missing file, a wrong header, a malformed line, or a document
            or rank repeated within a query.
    """
    ranked: dict[str, dict[int, str]] = {}
    seen: set[tuple[str, str]] = set()
    for lineno, (query_id, doc_id, rank_text) in _tsv_rows(path, RUN_HEADER):
        rank = _parse_int(rank_text, path, lineno, "rank")
        if rank < 1:
            raise DatasetError(f"{path}:{lineno}: rank must be >= 1, got {rank}")
        by_rank = ranked.setdefault(query_id, {})
        _reject_duplicate((query_id, doc_id) in seen, path, lineno, f"candidate {doc_id!r}")
        _reject_duplicate(rank in by_rank, path, lineno, f"rank {rank} for query {query_id!r}")
        seen.add((query_id, doc_id))
        by_rank[rank] = doc_id
    return {q: tuple(by_rank[r] for r in sorted(by_rank)) for q, by_rank in ranked.items()}


def _locate(path: Path) -> Path:
    """Return ``path``, or its ``.gz`` sibling when only that exists."""
    if path.is_file():
        return path
    gzipped = path.with_name(path.name + ".gz")
    if gzipped.is_file():
        return gzipped
    raise DatasetError(f"{path}: file not found (nor {gzipped.name})")


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its line ending), skipping blank lines."""
    try:
        with _open_text(path) as handle:
            for lineno, line in enumerate(handle, start=1):
                stripped = line.rstrip("\r\n")
                if stripped.strip():
                    yield lineno, stripped
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not valid UTF-8 ({exc.reason})") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc


def _json_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in _lines(path):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise DatasetError(f"{path}:{lineno}: expected a JSON object")
        yield lineno, record


def _string_field(
    record: dict[str, Any], key: str, path: Path, lineno: int, *, default: str | None = None
) -> str:
    value = record.get(key, default)
    if value is None:
        raise DatasetError(f"{path}:{lineno}: missing field {key!r}")
    if not isinstance(value, str):
        kind = type(value).__name__
        raise DatasetError(f"{path}:{lineno}: field {key!r} must be a string, got {kind}")
    return value


def _tsv_rows(path: Path, header: tuple[str, str, str]) -> Iterator[tuple[int, list[str]]]:
    """Yield the data rows of a three-column TSV after checking its header line."""
    expected = "\t".join(header)
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        raise DatasetError(f"{path}: empty file (expected header {expected!r})")
    lineno, line = first
    if tuple(field.strip() for field in line.split("\t")) != header:
        raise DatasetError(f"{path}:{lineno}: expected header {expected!r}, got {line!r}")
    for lineno, line in lines:
        fields = [field.strip() for field in line.split("\t")]
        if len(fields) != len(header) or not all(fields):
            raise DatasetError(
                f"{path}:{lineno}: expected {len(header)} non-empty tab-separated fields "
                f"({', '.join(header)}), got {line!r}"
            )
        yield lineno, fields


def _parse_int(text: str, path: Path, lineno: int, what: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise DatasetError(f"{path}:{lineno}: {what} must be an integer, got {text!r}") from exc


def _reject_duplicate(duplicate: bool, path: Path, lineno: int, what: str) -> None:
    if duplicate:
        raise DatasetError(f"{path}:{lineno}: repeated {what}")


def _check_candidates(
    run_path: Path,
    candidates: Mapping[str, tuple[str, ...]],
    corpus: Mapping[str, Document],
    queries: Mapping[str, str],
) -> None:
    """Fail when a candidate list names a query or document the collection lacks."""
    unknown_queries = sorted(q for q in candidates if q not in queries)
    if unknown_queries:
        raise DatasetError(
            f"{run_path}: {len(unknown_queries)} query ids are not in queries.jsonl "
            f"(first: {unknown_queries[0]!r})"
        )
    for query_id, doc_ids in candidates.items():
        missing = [d for d in doc_ids if d not in corpus]
        if missing:
            raise DatasetError(
                f"{run_path}: candidate {missing[0]!r} of query {query_id!r} is not in corpus.jsonl"
            )
