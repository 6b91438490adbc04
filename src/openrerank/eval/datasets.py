"""Reading local BEIR-layout retrieval collections: corpus, queries, qrels and candidates.

The layout (described in ``../shared/data/README.md``)::

    <folder>/corpus.jsonl             one {"_id", "title", "text"} object per line
    <folder>/queries.jsonl            one {"_id", "text"} object per line
    <folder>/qrels/<split>.tsv        header "query-id<TAB>corpus-id<TAB>score"
    <folder>/run/<run>.tsv            header "query-id<TAB>doc-id<TAB>rank", rank 1 = best

Any of these files may instead be gzip-compressed with a ``.gz`` suffix (the XQuAD-R
runs are). A run file given on its own may also be in TREC format (`read_trec_run`);
`load_run` tells the two apart, and `with_candidates` attaches such a run, or the
built-in BM25's candidates, to a collection loaded with ``run=None``. Nothing is ever
downloaded. Ids are kept as strings, because some look numeric. Missing files and
malformed lines raise `DatasetError`, whose message names the file and, for a bad line,
its 1-based line number.

Example:
    >>> from pathlib import Path
    >>> dataset = load_beir(Path("../shared/data/beir-scifact"))  # doctest: +SKIP
    >>> query_id = next(iter(dataset.candidates))  # doctest: +SKIP
    >>> texts = dataset.candidate_texts(query_id)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import math
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

logger = logging.getLogger(__name__)

QRELS_HEADER = ("query-id", "corpus-id", "score")
RUN_HEADER = ("query-id", "doc-id", "rank")
TREC_RUN_FIELDS = ("query-id", "Q0", "doc-id", "rank", "score", "tag")


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


def load_beir(path: Path, *, split: str = "test", run: str | None = "bm25_top100") -> BeirDataset:
    """Read a BEIR-layout folder.

    Args:
        path: The collection folder (holding ``corpus.jsonl``, ``queries.jsonl``,
            ``qrels/`` and, unless ``run`` is ``None``, ``run/``).
        split: The qrels file to read, ``qrels/<split>.tsv``.
        run: The candidate list to read, ``run/<run>.tsv`` or ``run/<run>.tsv.gz``;
            ``None`` reads none (``candidates`` is empty), for candidates made later by
            the built-in BM25 or read from a run file (see `with_candidates`).

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
    candidates: dict[str, tuple[str, ...]] = {}
    if run is not None:
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


def with_candidates(
    dataset: BeirDataset,
    candidates: Mapping[str, Sequence[str]],
    *,
    source: str | Path = "candidates",
) -> BeirDataset:
    """Return a copy of a collection whose candidates are replaced by ``candidates``.

    The input dataset is unchanged. Queries with an empty list get no entry, as in
    `load_beir`.

    Args:
        dataset: The collection, e.g. from ``load_beir(path, run=None)``.
        candidates: Query id to document ids, best first (from `load_run` or the
            built-in BM25).
        source: Where the candidates came from; it starts error messages (a run file's
            path, say).

    Returns:
        A new frozen `BeirDataset` with read-only candidates.

    Raises:
        DatasetError: If a list repeats a document, or names a query or document the
            collection lacks.
    """
    checked = {q: tuple(doc_ids) for q, doc_ids in candidates.items() if len(doc_ids) > 0}
    for query_id, doc_ids in checked.items():
        repeated = _first_repeated(doc_ids)
        if repeated is not None:
            raise DatasetError(f"{source}: repeated candidate {repeated!r} for query {query_id!r}")
    _check_candidates(source, checked, dataset.corpus, dataset.queries)
    return dataclasses.replace(dataset, candidates=MappingProxyType(checked))


def load_run(path: str | Path) -> dict[str, tuple[str, ...]]:
    """Read a run file in either supported format, told apart by its first line.

    A first line that is the header ``query-id<TAB>doc-id<TAB>rank`` means the TSV format
    (`read_run`); a first line of 6 whitespace-separated fields means TREC format
    (`read_trec_run`). A ``.gz`` file is decompressed.

    Args:
        path: The run file.

    Returns:
        Query id to document ids, best first.

    Raises:
        DatasetError: If the file is missing, empty, in neither format, or malformed.
    """
    path = Path(path)
    lines = _lines(path)
    try:
        first = next(lines, None)
    finally:
        lines.close()
    if first is None:
        raise DatasetError(f"{path}: empty file (expected a TSV or TREC run)")
    lineno, line = first
    if tuple(field.strip() for field in line.split("\t")) == RUN_HEADER:
        return read_run(path)
    if len(line.split()) == len(TREC_RUN_FIELDS):
        return read_trec_run(path)
    tsv_header = "\t".join(RUN_HEADER)
    raise DatasetError(
        f"{path}:{lineno}: not a run file: expected the header {tsv_header!r} "
        f"(TSV) or {len(TREC_RUN_FIELDS)} whitespace-separated fields "
        f"({' '.join(TREC_RUN_FIELDS)}; TREC), got {line!r}"
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
    for lineno, query_id, doc_id, grade in qrels_rows(path):
        judged = qrels.setdefault(query_id, {})
        _reject_duplicate(doc_id in judged, path, lineno, f"judgment ({query_id!r}, {doc_id!r})")
        judged[doc_id] = grade
    return qrels


def qrels_rows(path: Path) -> Iterator[tuple[int, str, str, int]]:
    """Yield a qrels TSV's judgments as (line number, query id, document id, grade).

    Raises:
        DatasetError: On a missing file, a wrong header, a malformed line or grade.
    """
    for lineno, (query_id, doc_id, grade) in _tsv_rows(path, QRELS_HEADER):
        yield lineno, query_id, doc_id, _parse_int(grade, path, lineno, "score")


def json_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield the JSON objects of a JSONL file (gzip if ``.gz``) with their line numbers.

    Blank lines are skipped.

    Raises:
        DatasetError: On a missing or unreadable file, bad JSON, or a line that is not an
            object; the message names the file and line.
    """
    return _json_records(path)


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


def read_trec_run(path: Path) -> dict[str, tuple[str, ...]]:
    """Read a TREC run (``qid Q0 docid rank score tag`` per line) into ranked document ids.

    Fields are separated by any whitespace. Each query's documents are ordered by rank,
    then by descending score, then by line order; ranks need not be unique or start
    at 1, and the second and last fields are not checked.

    Raises:
        DatasetError: On a missing file, a line without exactly 6 fields, a rank that is
            not an integer >= 0, a score that is not a finite number, or a document
            repeated within a query.
    """
    entries: dict[str, list[tuple[int, float, int, str]]] = {}
    seen: set[tuple[str, str]] = set()
    for lineno, line in _lines(path):
        fields = line.split()
        if len(fields) != len(TREC_RUN_FIELDS):
            raise DatasetError(
                f"{path}:{lineno}: expected {len(TREC_RUN_FIELDS)} whitespace-separated "
                f"fields ({' '.join(TREC_RUN_FIELDS)}), got {line!r}"
            )
        query_id, _, doc_id, rank_text, score_text, _ = fields
        rank = _parse_int(rank_text, path, lineno, "rank")
        if rank < 0:
            raise DatasetError(f"{path}:{lineno}: rank must be >= 0, got {rank}")
        score = _parse_score(score_text, path, lineno)
        _reject_duplicate((query_id, doc_id) in seen, path, lineno, f"candidate {doc_id!r}")
        seen.add((query_id, doc_id))
        entries.setdefault(query_id, []).append((rank, -score, lineno, doc_id))
    return {q: tuple(entry[3] for entry in sorted(ranked)) for q, ranked in entries.items()}


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


def _lines(path: Path) -> Generator[tuple[int, str], None, None]:
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


def _parse_score(text: str, path: Path, lineno: int) -> float:
    try:
        score = float(text)
    except ValueError as exc:
        raise DatasetError(f"{path}:{lineno}: score must be a number, got {text!r}") from exc
    if not math.isfinite(score):
        raise DatasetError(f"{path}:{lineno}: score must be finite, got {text!r}")
    return score


def _reject_duplicate(duplicate: bool, path: Path, lineno: int, what: str) -> None:
    if duplicate:
        raise DatasetError(f"{path}:{lineno}: repeated {what}")


def _first_repeated(doc_ids: Sequence[str]) -> str | None:
    seen: set[str] = set()
    for doc_id in doc_ids:
        if doc_id in seen:
            return doc_id
        seen.add(doc_id)
    return None


def _check_candidates(
    run_path: str | Path,
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
