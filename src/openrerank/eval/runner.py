"""Reranking a judged collection's first-stage candidates and reporting base -> reranked.

`EvalTask` fixes what is measured (which queries, the top-k candidates of which first
stage, the relevance threshold of binary measures); `rerank_task` ranks every query's
candidates with a `~openrerank.eval.scorers.Scorer`; `build_report` compares the
first-stage order with the reranked order on every measure, per query on the primary
measure, with a paired sign-flip p-value.

Conventions (said in every report):

* Measures average over the judged queries evaluated; a judged query without candidates
  counts 0 for both systems (``trec_eval -c``).
* nDCG uses the graded judgments as gains. Binary measures (RR, R, AP) count a document
  relevant when its grade is at least ``rel``: 1 for binary judgments, 2 for graded ones
  (the TREC Deep Learning convention), unless given.
* Only the top-k candidates are reranked, so recall at depth k is the same for both
  systems, and AP is AP over those k.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Unpack

from openrerank.eval.datasets import BeirDataset
from openrerank.eval.defaults import DEFAULT_EVAL_MEASURES
from openrerank.eval.measures import Qrels, evaluate, per_query, ranking_to_run
from openrerank.eval.scorers import Scorer
from openrerank.eval.stats import paired_sign_flip_p
from openrerank.sync import Reranker
from openrerank.types import DocumentOptions

PRIMARY_MEASURE = "nDCG@10"

ScoredRanking = tuple[tuple[str, float], ...]
"""Document ids with the score they were ranked by, best first."""


def default_rel(qrels: Qrels) -> int:
    """The grade binary measures count as relevant: 2 when judgments are graded (TREC DL
    convention: grades 0-3, relevant from 2), else 1."""
    top = max((grade for docs in qrels.values() for grade in docs.values()), default=1)
    return 2 if top >= 2 else 1


def judged_queries(dataset: BeirDataset, max_queries: int | None = None) -> tuple[str, ...]:
    """Judged queries that have a text, in ``queries.jsonl`` order; the first ``max_queries``."""
    queries = tuple(q for q in dataset.queries if q in dataset.qrels)
    return queries if max_queries is None else queries[:max_queries]


@dataclass(frozen=True)
class EvalTask:
    """What one evaluation measures.

    Attributes:
        dataset: the collection, with first-stage candidates (best first).
        first_stage: how the candidates were made, for the report.
        k: candidates reranked per query (the first stage's top-k).
        queries: the judged queries evaluated.
        rel: minimum grade binary measures count as relevant.
        measures: measure names in ``ir_measures`` syntax.
        primary: the measure reported per query and tested for significance.
    """

    dataset: BeirDataset
    first_stage: str
    k: int
    queries: tuple[str, ...]
    rel: int
    measures: tuple[str, ...] = DEFAULT_EVAL_MEASURES
    primary: str = PRIMARY_MEASURE

    def __post_init__(self) -> None:
        if self.k < 1 or not self.queries:
            raise ValueError("an evaluation needs k >= 1 and at least one judged query")

    def candidates(self, query_id: str) -> tuple[str, ...]:
        """The top-k first-stage candidates of a query (empty when it has none)."""
        return self.dataset.candidates.get(query_id, ())[: self.k]

    def qrels(self) -> dict[str, Mapping[str, int]]:
        """The judgments of the evaluated queries."""
        return {q: self.dataset.qrels[q] for q in self.queries}

    @property
    def pairs(self) -> int:
        """(query, candidate) pairs to score."""
        return sum(len(self.candidates(q)) for q in self.queries)


@dataclass(frozen=True)
class RerankedRun:
    """Every evaluated query's candidates, reranked.

    Attributes:
        rankings: query id to (document id, score) best first; queries without
            candidates are absent.
        scorer: what ranked them.
        seconds: wall time of the reranking.
    """

    rankings: Mapping[str, ScoredRanking]
    scorer: str
    seconds: float


def rerank_task(
    task: EvalTask,
    scorer: Scorer,
    *,
    concurrency: int = 1,
    progress: Callable[[int], None] | None = None,
) -> RerankedRun:
    """Rerank every evaluated query's top-k candidates.

    Args:
        task: what to rerank.
        scorer: the library or a server.
        concurrency: queries in flight at once (a server batches across them; the
            library is deterministic with 1).
        progress: called with the number of pairs after each query finishes.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    todo = [q for q in task.queries if task.candidates(q)]
    started = time.perf_counter()
    rankings: dict[str, ScoredRanking] = {}
    with ThreadPoolExecutor(concurrency, thread_name_prefix="openrerank-eval") as pool:
        for query_id, ranking in zip(todo, _ranked(pool, task, scorer, todo), strict=True):
            rankings[query_id] = ranking
            if progress is not None:
                progress(len(ranking))
    seconds = time.perf_counter() - started
    return RerankedRun(MappingProxyType(rankings), scorer.description, seconds)


def _ranked(
    pool: ThreadPoolExecutor, task: EvalTask, scorer: Scorer, todo: Sequence[str]
) -> Iterator[ScoredRanking]:
    def one(query_id: str) -> ScoredRanking:
        doc_ids = task.candidates(query_id)
        texts = [task.dataset.document_text(d) for d in doc_ids]
        ranking = scorer.rank(task.dataset.queries[query_id], texts)
        if sorted(i for i, _ in ranking) != list(range(len(doc_ids))):
            raise ValueError(f"query {query_id!r}: the scorer did not rank every candidate once")
        return tuple((doc_ids[i], score) for i, score in ranking)

    return pool.map(one, todo)


@dataclass(frozen=True)
class MeasureRow:
    """One measure, first stage vs reranked."""

    name: str
    first_stage: float
    reranked: float

    @property
    def delta(self) -> float:
        """Reranked minus first stage."""
        return self.reranked - self.first_stage


@dataclass(frozen=True)
class EvalReport:
    """First stage vs reranked on one collection.

    Attributes:
        dataset: the collection's folder name.
        first_stage: how the candidates were made.
        reranker: what reranked them.
        k: candidates reranked per query.
        queries: judged queries evaluated; ``with_candidates`` of them had any.
        pairs: (query, candidate) pairs scored.
        rel: the relevance threshold of binary measures.
        rows: every measure, first stage vs reranked.
        primary: the per-query measure.
        per_query: query id to (first stage, reranked) on the primary measure.
        p_value: paired sign-flip p-value of the primary measure's mean difference.
        seconds: wall time of the reranking.
    """

    dataset: str
    first_stage: str
    reranker: str
    k: int
    queries: int
    with_candidates: int
    pairs: int
    rel: int
    rows: tuple[MeasureRow, ...]
    primary: str
    per_query: Mapping[str, tuple[float, float]] = field(repr=False)
    p_value: float
    seconds: float

    @property
    def wins_losses_ties(self) -> tuple[int, int, int]:
        """Queries the reranker improved, hurt and left equal on the primary measure."""
        deltas = [after - before for before, after in self.per_query.values()]
        wins = sum(d > 1e-12 for d in deltas)
        losses = sum(d < -1e-12 for d in deltas)
        return wins, losses, len(deltas) - wins - losses

    @property
    def relevance_rule(self) -> str:
        """The binary-relevance convention, in words."""
        if self.rel == 1:
            return "binary measures count grade >= 1 as relevant"
        return f"binary measures count grade >= {self.rel} as relevant (TREC DL convention)"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        wins, losses, ties = self.wins_losses_ties
        return {
            "dataset": self.dataset,
            "first_stage": self.first_stage,
            "reranker": self.reranker,
            "k": self.k,
            "queries": self.queries,
            "queries_with_candidates": self.with_candidates,
            "pairs": self.pairs,
            "rel": self.rel,
            "relevance_rule": self.relevance_rule,
            "measures": {
                r.name: {"first_stage": r.first_stage, "reranked": r.reranked, "delta": r.delta}
                for r in self.rows
            },
            "primary": self.primary,
            "p_value": self.p_value,
            "wins": wins,
            "losses": losses,
            "ties": ties,
            "seconds": self.seconds,
            "pairs_per_second": self.pairs / self.seconds if self.seconds > 0 else None,
            "per_query": {
                q: {"first_stage": a, "reranked": b} for q, (a, b) in self.per_query.items()
            },
        }


def build_report(task: EvalTask, run: RerankedRun) -> EvalReport:
    """Compare the first-stage order with the reranked order on every measure."""
    qrels = task.qrels()
    first = ranking_to_run({q: task.candidates(q) for q in task.queries})
    reranked = ranking_to_run({q: [d for d, _ in r] for q, r in run.rankings.items()})
    before = evaluate(qrels, first, task.measures, rel=task.rel)
    after = evaluate(qrels, reranked, task.measures, rel=task.rel)
    base = per_query(qrels, first, task.primary, rel=task.rel)
    mine = per_query(qrels, reranked, task.primary, rel=task.rel)
    per_query_pairs = {q: (base[q], mine[q]) for q in task.queries}
    deltas = [after_q - before_q for before_q, after_q in per_query_pairs.values()]
    return EvalReport(
        dataset=task.dataset.path.name,
        first_stage=task.first_stage,
        reranker=run.scorer,
        k=task.k,
        queries=len(task.queries),
        with_candidates=len(run.rankings),
        pairs=task.pairs,
        rel=task.rel,
        rows=tuple(MeasureRow(m, before[m], after[m]) for m in task.measures),
        primary=task.primary,
        per_query=MappingProxyType(per_query_pairs),
        p_value=paired_sign_flip_p(deltas),
        seconds=run.seconds,
    )


def write_trec_run(path: Path, run: RerankedRun, *, tag: str = "openrerank") -> None:
    """Write the reranked run in TREC format (``qid Q0 docid rank score tag``)."""
    with Path(path).open("w", encoding="utf-8") as handle:
        for query_id, ranking in run.rankings.items():
            for rank, (doc_id, score) in enumerate(ranking, start=1):
                handle.write(f"{query_id} Q0 {doc_id} {rank} {score:.6f} {tag}\n")


def rerank_candidates(
    reranker: Reranker, dataset: BeirDataset, **options: Unpack[DocumentOptions]
) -> dict[str, dict[str, float]]:
    """Score every query's first-stage candidates; returns query -> document -> score.

    ``options`` are passed to :meth:`Reranker.score` (e.g. ``max_chunks_per_doc=1`` to
    truncate long documents instead of scoring their best window). Queries without
    candidates are left out (measures count them as 0).
    """
    run: dict[str, dict[str, float]] = {}
    for query_id, doc_ids in dataset.candidates.items():
        if not doc_ids:
            continue
        texts = dataset.candidate_texts(query_id)
        scores = reranker.score(dataset.queries[query_id], texts, **options)
        run[query_id] = dict(zip(doc_ids, scores.astype(float).tolist(), strict=True))
    return run
