"""Judged long-document sets: does scoring every window beat truncating to one?

Two builders turn the judged collections in ``../shared/data`` into sets whose documents
are longer than a small cross-encoder's window. Both return a `BeirDataset`, so
`openrerank.eval.measures.evaluate` and `ranking_to_run` work on them unchanged.

**No label is invented.** Every grade is an official judgment or, for a document made of
several official passages, the maximum of their official grades (a passage without a
judgment counts as 0, the usual trec_eval convention).

* `build_top_k_set` (SciFact): the first ``queries`` queries in file order, each with its
  BM25 top-``top_k`` candidates and its official qrels. A document is a corpus entry
  (``title + " " + text``); most SciFact abstracts are longer than 256 tokens already.
* `build_passage_groups` (TREC DL 2019 passages): each query's BM25 top-``passages``
  passages are put in an order that does not follow BM25 rank (sorted by a SHA-256 hash
  of query id and passage id, so the same every run), and every ``group_size``
  consecutive passages are joined with a blank line into one document. A document's grade
  is the maximum grade of its passages, so its relevant text may sit in any part of it,
  not mostly at the start as it would if passages were grouped in BM25 order.

`openrerank.eval.stats.paired_sign_flip_p` tests whether two systems' per-query figures
differ by more than chance, since a few dozen queries can move a mean by a point or two on
their own.

Example:
    >>> from pathlib import Path
    >>> from openrerank.eval.datasets import load_beir
    >>> dl19 = load_beir(Path("../shared/data/trec-dl-2019-passage"))  # doctest: +SKIP
    >>> groups = build_passage_groups(dl19, group_size=4)  # doctest: +SKIP
    >>> groups.dataset.candidates["19335"][:2]  # doctest: +SKIP
    ('19335/g017', '19335/g003')
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from openrerank.eval.datasets import BeirDataset, Document

PASSAGE_SEPARATOR = "\n\n"
"""What joins the passages of one grouped document."""


@dataclass(frozen=True, slots=True)
class PassageGroups:
    """Multi-passage documents built from one passage collection.

    Attributes:
        dataset: The grouped documents as a judged collection: corpus, queries, derived
            qrels and candidates (best BM25 rank of any part first).
        parts: Grouped document id to its source passage ids, in the order joined.
        passage_qrels: The official passage judgments of the kept queries.
    """

    dataset: BeirDataset
    parts: Mapping[str, tuple[str, ...]]
    passage_qrels: Mapping[str, Mapping[str, int]]


def select_queries(dataset: BeirDataset, queries: int | None = None) -> list[str]:
    """Return the first ``queries`` query ids in file order that have candidates and qrels.

    Args:
        dataset: The source collection.
        queries: How many queries to keep; ``None`` keeps every usable one.

    Raises:
        ValueError: If ``queries`` is below 1 or above the number of usable queries.
    """
    usable = [q for q in dataset.queries if dataset.candidates.get(q) and q in dataset.qrels]
    if queries is None:
        return usable
    if not 1 <= queries <= len(usable):
        raise ValueError(f"queries must be in 1..{len(usable)}, got {queries}")
    return usable[:queries]


def build_top_k_set(
    dataset: BeirDataset, *, queries: int | None = None, top_k: int = 20
) -> BeirDataset:
    """Keep the first queries and each one's BM25 top-``top_k``; documents are unchanged.

    The qrels of the kept queries are kept whole, so a relevant document below the
    cut still counts in the ideal ranking, as in any rerank-the-top-k evaluation.

    Raises:
        ValueError: If ``top_k`` is below 1 or ``queries`` is out of range.
    """
    _require_positive(top_k=top_k)
    kept = select_queries(dataset, queries)
    candidates = {q: dataset.candidates[q][:top_k] for q in kept}
    used = {doc_id for doc_ids in candidates.values() for doc_id in doc_ids}
    return _frozen_dataset(
        dataset,
        corpus={doc_id: dataset.corpus[doc_id] for doc_id in sorted(used)},
        queries={q: dataset.queries[q] for q in kept},
        qrels={q: dict(dataset.qrels[q]) for q in kept},
        candidates=candidates,
    )


def passage_order(query_id: str, passage_ids: Sequence[str]) -> list[str]:
    """Order a query's passages by a stable hash of (query id, passage id), not by rank.

    The order depends only on the ids, never on their input order or on Python's
    per-process string hashing.
    """
    return sorted(passage_ids, key=lambda p: (_stable_hash(query_id, p), p))


def group_passages(
    query_id: str, passage_ids: Sequence[str], *, group_size: int
) -> list[tuple[str, ...]]:
    """Cut the hash-ordered passages into consecutive groups of ``group_size``.

    Every passage lands in exactly one group; only the last group may be shorter.

    Raises:
        ValueError: If ``group_size`` is below 1 or a passage id is repeated.
    """
    _require_positive(group_size=group_size)
    if len(set(passage_ids)) != len(passage_ids):
        raise ValueError(f"query {query_id!r}: a passage id is repeated")
    ordered = passage_order(query_id, passage_ids)
    return [tuple(ordered[i : i + group_size]) for i in range(0, len(ordered), group_size)]


def group_id(query_id: str, index: int) -> str:
    """The id of a query's ``index``-th grouped document (documents are per query)."""
    return f"{query_id}/g{index:03d}"


def group_grade(parts: Sequence[str], judged: Mapping[str, int]) -> int:
    """The maximum official grade over the parts; an unjudged part counts as 0."""
    return max((judged.get(passage_id, 0) for passage_id in parts), default=0)


def build_passage_groups(
    dataset: BeirDataset,
    *,
    queries: int | None = None,
    passages: int = 100,
    group_size: int = 4,
) -> PassageGroups:
    """Join each query's BM25 top-``passages`` passages into documents of ``group_size``.

    Grades come only from the official qrels (maximum over the parts, unjudged = 0);
    every grouped document of a kept query gets a qrels entry, 0 included. Candidates
    are ordered by the best BM25 rank of any of their parts, so `ranking_to_run` on them
    gives a BM25 reference figure. A judged passage outside the top-``passages`` is not
    part of any document, so it does not count in the ideal ranking: figures are not
    comparable with published passage-level ones.

    Raises:
        ValueError: If ``passages`` or ``group_size`` is below 1, ``queries`` is out of
            range, or two grouped documents would share an id.
    """
    _require_positive(passages=passages, group_size=group_size)
    corpus: dict[str, Document] = {}
    parts: dict[str, tuple[str, ...]] = {}
    qrels: dict[str, dict[str, int]] = {}
    candidates: dict[str, tuple[str, ...]] = {}
    for query_id in select_queries(dataset, queries):
        ranked = dataset.candidates[query_id][:passages]
        groups = _query_groups(dataset, query_id, ranked, group_size)
        _reject_shared_ids(parts, groups)
        parts.update(groups)
        corpus.update({doc_id: _joined(dataset, doc_id, p) for doc_id, p in groups.items()})
        judged = dataset.qrels[query_id]
        qrels[query_id] = {doc_id: group_grade(p, judged) for doc_id, p in groups.items()}
        candidates[query_id] = _by_best_rank(groups, ranked)
    grouped = _frozen_dataset(
        dataset,
        corpus=corpus,
        queries={q: dataset.queries[q] for q in candidates},
        qrels=qrels,
        candidates=candidates,
    )
    return PassageGroups(
        dataset=grouped,
        parts=MappingProxyType(parts),
        passage_qrels=MappingProxyType({q: dataset.qrels[q] for q in candidates}),
    )


def relevant_part_positions(groups: PassageGroups, *, min_grade: int = 1) -> Counter[int]:
    """Count where the best-graded part sits (0 = first) in documents graded ``min_grade``+.

    A truncating reranker reads only the start of a document, so this shows how often
    the evidence lies beyond it. When several parts share the best grade, the first
    one counts.
    """
    positions: Counter[int] = Counter()
    for query_id, graded in groups.dataset.qrels.items():
        judged = groups.passage_qrels[query_id]
        for doc_id, grade in graded.items():
            if grade >= min_grade:
                grades = [judged.get(p, 0) for p in groups.parts[doc_id]]
                positions[grades.index(grade)] += 1
    return positions


def _query_groups(
    dataset: BeirDataset, query_id: str, ranked: Sequence[str], group_size: int
) -> dict[str, tuple[str, ...]]:
    groups = group_passages(query_id, ranked, group_size=group_size)
    return {group_id(query_id, i): parts for i, parts in enumerate(groups)}


def _joined(dataset: BeirDataset, doc_id: str, parts: Sequence[str]) -> Document:
    text = PASSAGE_SEPARATOR.join(dataset.document_text(p) for p in parts)
    return Document(doc_id=doc_id, title="", text=text)


def _by_best_rank(groups: Mapping[str, tuple[str, ...]], ranked: Sequence[str]) -> tuple[str, ...]:
    rank = {passage_id: i for i, passage_id in enumerate(ranked)}
    return tuple(sorted(groups, key=lambda doc_id: min(rank[p] for p in groups[doc_id])))


def _reject_shared_ids(seen: Mapping[str, object], new: Mapping[str, object]) -> None:
    shared = sorted(set(seen) & set(new))
    if shared:
        raise ValueError(f"grouped document id {shared[0]!r} is produced twice; query ids clash")


def _stable_hash(query_id: str, passage_id: str) -> str:
    return hashlib.sha256(f"{query_id}\t{passage_id}".encode()).hexdigest()


def _require_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def _frozen_dataset(
    source: BeirDataset,
    *,
    corpus: Mapping[str, Document],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    candidates: Mapping[str, tuple[str, ...]],
) -> BeirDataset:
    return BeirDataset(
        path=source.path,
        corpus=MappingProxyType(dict(corpus)),
        queries=MappingProxyType(dict(queries)),
        qrels=MappingProxyType({q: MappingProxyType(dict(d)) for q, d in qrels.items()}),
        candidates=MappingProxyType(dict(candidates)),
    )
