"""Tests for openrerank.eval.runner with hand-written scorers on an in-memory collection.

The scorers below are small honest implementations of the `Scorer` protocol (a fixed
score per document text, or the first stage's order reversed), so every expected
ranking is computed here from the score table, and every expected figure from
``evaluate``/``per_query`` on the two rankings or by hand.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import pytest

from openrerank.eval.datasets import BeirDataset, Document, load_run
from openrerank.eval.measures import evaluate, per_query, ranking_to_run
from openrerank.eval.runner import (
    DEFAULT_EVAL_MEASURES,
    EvalTask,
    RerankedRun,
    build_report,
    default_rel,
    judged_queries,
    rerank_task,
    write_trec_run,
)
from openrerank.eval.scorers import Ranking
from openrerank.eval.stats import paired_sign_flip_p

# Every document's text is its id in upper case, so a scorer sees only texts and the
# tests can still say which document a score belongs to.
SCORES = {"A": 5.0, "B": 1.0, "C": 3.0, "D": 4.0, "E": 2.0, "F": 0.5, "G": 6.0, "H": 0.0}

CANDIDATES = {
    # q-win: the relevant c is 3rd in the first stage; reranked, it is 1st in the top 3
    # and 2nd in the top 4 (d first).
    "q-win": ("b", "e", "c", "d"),
    # q-loss: the relevant b is first in the first stage and drops to the bottom.
    "q-loss": ("b", "a", "c"),
    # q-tie: the only relevant document is not among the candidates.
    "q-tie": ("h", "f", "g"),
    # q-none has no candidates at all; q-unjudged has candidates but no judgments.
    "q-unjudged": ("a", "b"),
}

QRELS = {
    "q-win": {"c": 3, "e": 1},
    "q-loss": {"b": 2, "a": 0},
    "q-tie": {"a": 2},
    "q-none": {"d": 2},
}


def make_dataset(
    candidates: Mapping[str, tuple[str, ...]] = CANDIDATES,
    qrels: Mapping[str, Mapping[str, int]] = QRELS,
) -> BeirDataset:
    corpus = {d.lower(): Document(d.lower(), "", d) for d in SCORES}
    queries = {q: f"text of {q}" for q in ("q-win", "q-loss", "q-tie", "q-none", "q-unjudged")}
    return BeirDataset(
        path=Path("toy-collection"),
        corpus=MappingProxyType(corpus),
        queries=MappingProxyType(queries),
        qrels=MappingProxyType({q: MappingProxyType(dict(d)) for q, d in qrels.items()}),
        candidates=MappingProxyType(dict(candidates)),
    )


def make_task(
    k: int = 3, measures: Sequence[str] = DEFAULT_EVAL_MEASURES, rel: int = 2
) -> EvalTask:
    dataset = make_dataset()
    return EvalTask(
        dataset=dataset,
        first_stage="toy first stage",
        k=k,
        queries=judged_queries(dataset),
        rel=rel,
        measures=tuple(measures),
    )


class TableScorer:
    """Scores each text from a fixed table; best first, ties in candidate order."""

    def __init__(self, scores: Mapping[str, float] = SCORES) -> None:
        self.scores = scores
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    @property
    def description(self) -> str:
        return "score table"

    def rank(self, query: str, texts: Sequence[str]) -> Ranking:
        self.calls.append((query, tuple(texts)))
        order = sorted(range(len(texts)), key=lambda i: (-self.scores[texts[i]], i))
        return [(i, self.scores[texts[i]]) for i in order]


class ReversingScorer:
    """Ranks the candidates in reverse first-stage order (candidate i scores i + 1)."""

    @property
    def description(self) -> str:
        return "reversed"

    def rank(self, query: str, texts: Sequence[str]) -> Ranking:
        n = len(texts)
        return [(i, float(i + 1)) for i in reversed(range(n))]


class MeetingScorer(TableScorer):
    """A table scorer whose first ``parties`` calls wait for each other: they can only
    all return when that many queries are in flight at once."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self._barrier = threading.Barrier(parties)
        self._lock = threading.Lock()
        self._started = 0
        self._parties = parties

    def rank(self, query: str, texts: Sequence[str]) -> Ranking:
        with self._lock:
            self._started += 1
            meet = self._started <= self._parties
        if meet:
            self._barrier.wait(timeout=10)
        return super().rank(query, texts)


class BrokenScorer:
    """Returns a ranking that drops the last candidate or repeats the first one."""

    def __init__(self, fault: str) -> None:
        self.fault = fault

    @property
    def description(self) -> str:
        return f"broken ({self.fault})"

    def rank(self, query: str, texts: Sequence[str]) -> Ranking:
        ranking = [(i, 1.0) for i in range(len(texts))]
        if self.fault == "drop":
            return ranking[:-1]
        return [(0, 1.0), *ranking[1:-1], (0, 1.0)]


def expected_ranking(task: EvalTask, query_id: str) -> tuple[tuple[str, float], ...]:
    doc_ids = task.candidates(query_id)
    ordered = sorted(doc_ids, key=lambda d: (-SCORES[d.upper()], doc_ids.index(d)))
    return tuple((d, SCORES[d.upper()]) for d in ordered)


def test_default_rel_is_2_for_graded_judgments_and_1_for_binary() -> None:
    assert default_rel({"q1": {"a": 0, "b": 3}, "q2": {"c": 1}}) == 2
    assert default_rel({"q1": {"a": 2}}) == 2
    assert default_rel({"q1": {"a": 1, "b": 0}, "q2": {"c": 1}}) == 1
    assert default_rel({"q1": {"a": 0}}) == 1
    assert default_rel({}) == 1


def test_judged_queries_follow_the_queries_file_order_and_stop_at_max_queries() -> None:
    dataset = make_dataset(qrels={"q-none": {"d": 1}, "q-win": {"c": 1}, "q-ghost": {"a": 1}})
    # q-ghost is judged but has no text; q-loss has a text but no judgment.
    assert judged_queries(dataset) == ("q-win", "q-none")
    assert judged_queries(dataset, max_queries=1) == ("q-win",)
    assert judged_queries(dataset, max_queries=10) == ("q-win", "q-none")


def test_eval_task_needs_k_of_at_least_1_and_a_query() -> None:
    dataset = make_dataset()
    with pytest.raises(ValueError, match="k >= 1"):
        EvalTask(dataset, "bm25", k=0, queries=("q-win",), rel=1)
    with pytest.raises(ValueError, match="at least one judged query"):
        EvalTask(dataset, "bm25", k=10, queries=(), rel=1)


def test_eval_task_cuts_candidates_to_k_and_counts_pairs() -> None:
    task = make_task(k=2)
    assert task.candidates("q-win") == ("b", "e")
    assert task.candidates("q-none") == ()
    assert task.queries == ("q-win", "q-loss", "q-tie", "q-none")
    assert task.pairs == 2 + 2 + 2 + 0
    assert task.qrels() == {q: QRELS[q] for q in task.queries}
    assert make_task(k=100).pairs == 4 + 3 + 3


def test_rerank_task_ranks_every_querys_top_k_by_the_scorer() -> None:
    task = make_task(k=3)
    scorer = TableScorer()
    run = rerank_task(task, scorer)
    assert list(run.rankings) == ["q-win", "q-loss", "q-tie"]
    for query_id, ranking in run.rankings.items():
        assert ranking == expected_ranking(task, query_id)
        assert len(ranking) == len(task.candidates(query_id)) <= 3
    # The scorer saw the query texts and the candidates' texts, in first-stage order.
    assert scorer.calls[0] == ("text of q-win", ("B", "E", "C"))
    assert run.scorer == "score table"
    assert run.seconds >= 0.0


def test_rerank_task_skips_queries_without_candidates() -> None:
    scorer = TableScorer()
    run = rerank_task(make_task(), scorer)
    assert "q-none" not in run.rankings
    assert "text of q-none" not in [query for query, _ in scorer.calls]
    assert "q-unjudged" not in run.rankings, "only the task's judged queries are reranked"


def test_rerank_task_reports_progress_per_query_summing_to_the_pairs() -> None:
    task = make_task(k=3)
    seen: list[int] = []
    rerank_task(task, TableScorer(), progress=seen.append)
    assert seen == [len(task.candidates(q)) for q in task.queries if task.candidates(q)]
    assert sum(seen) == task.pairs


def test_rerank_task_gives_the_same_run_with_queries_in_flight_at_once() -> None:
    task = make_task(k=4)
    alone = rerank_task(task, TableScorer(), concurrency=1)
    progress: list[int] = []
    # Three calls that must meet each other prove three queries really ran at once.
    together = rerank_task(task, MeetingScorer(parties=3), concurrency=3, progress=progress.append)
    assert dict(together.rankings) == dict(alone.rankings)
    assert list(together.rankings) == list(alone.rankings)
    assert sum(progress) == task.pairs


def test_rerank_task_refuses_concurrency_below_1() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        rerank_task(make_task(), TableScorer(), concurrency=0)


@pytest.mark.parametrize("fault", ["drop", "repeat"])
def test_rerank_task_refuses_a_scorer_that_drops_or_repeats_a_candidate(fault: str) -> None:
    with pytest.raises(ValueError, match="did not rank every candidate once"):
        rerank_task(make_task(), BrokenScorer(fault))


def test_build_report_rows_are_the_measures_of_the_two_rankings() -> None:
    task = make_task(k=3)
    run = rerank_task(task, TableScorer())
    report = build_report(task, run)
    qrels = task.qrels()
    first = ranking_to_run({q: task.candidates(q) for q in task.queries})
    reranked = ranking_to_run({q: [d for d, _ in r] for q, r in run.rankings.items()})
    before = evaluate(qrels, first, task.measures, rel=task.rel)
    after = evaluate(qrels, reranked, task.measures, rel=task.rel)
    assert [row.name for row in report.rows] == list(DEFAULT_EVAL_MEASURES)
    for row in report.rows:
        assert row.first_stage == pytest.approx(before[row.name], abs=1e-12), row.name
        assert row.reranked == pytest.approx(after[row.name], abs=1e-12), row.name
        assert row.delta == pytest.approx(after[row.name] - before[row.name], abs=1e-12)
    assert (report.queries, report.with_candidates, report.pairs) == (4, 3, task.pairs)
    assert (report.dataset, report.first_stage, report.reranker) == (
        "toy-collection",
        "toy first stage",
        "score table",
    )


def test_build_report_reciprocal_rank_by_hand() -> None:
    # rel=2: e (grade 1) is not relevant. Top 4: q-win's c goes from rank 3 to rank 2;
    # q-loss's b from rank 1 to rank 3; q-tie has no relevant candidate; q-none has no
    # candidates (counts 0).
    task = make_task(k=4)
    report = build_report(task, rerank_task(task, TableScorer()))
    rr = next(row for row in report.rows if row.name == "RR@10")
    assert rr.first_stage == pytest.approx((1 / 3 + 1 + 0 + 0) / 4)
    assert rr.reranked == pytest.approx((1 / 2 + 1 / 3 + 0 + 0) / 4)
    assert report.relevance_rule.endswith("grade >= 2 as relevant (TREC DL convention)")


def test_build_report_per_query_wins_losses_and_p_value_agree_with_per_query() -> None:
    task = make_task(k=3)
    run = rerank_task(task, TableScorer())
    report = build_report(task, run)
    qrels = task.qrels()
    first = per_query(
        qrels, ranking_to_run({q: task.candidates(q) for q in task.queries}), "nDCG@10"
    )
    mine = per_query(
        qrels, ranking_to_run({q: [d for d, _ in r] for q, r in run.rankings.items()}), "nDCG@10"
    )
    assert report.primary == "nDCG@10"
    assert list(report.per_query) == list(task.queries)
    for query_id, (before, after) in report.per_query.items():
        assert before == pytest.approx(first[query_id], abs=1e-12)
        assert after == pytest.approx(mine[query_id], abs=1e-12)
    assert report.per_query["q-none"] == (0.0, 0.0)
    deltas = [mine[q] - first[q] for q in task.queries]
    assert report.wins_losses_ties == (1, 1, 2)
    assert report.wins_losses_ties == (
        sum(d > 1e-12 for d in deltas),
        sum(d < -1e-12 for d in deltas),
        sum(abs(d) <= 1e-12 for d in deltas),
    )
    assert report.p_value == pytest.approx(paired_sign_flip_p(deltas))
    row = next(r for r in report.rows if r.name == "nDCG@10")
    assert row.delta == pytest.approx(sum(deltas) / len(deltas))


def test_build_report_recall_at_k_does_not_change_when_only_k_are_reranked() -> None:
    task = make_task(k=3, measures=("R@3", "nDCG@3", "AP"), rel=1)
    report = build_report(task, rerank_task(task, ReversingScorer()))
    rows = {row.name: row for row in report.rows}
    assert rows["R@3"].first_stage == rows["R@3"].reranked > 0
    assert rows["nDCG@3"].delta != 0, "reversing the candidates does change the order"
    assert report.relevance_rule == "binary measures count grade >= 1 as relevant"


def test_report_to_dict_is_json_and_carries_every_figure() -> None:
    task = make_task(k=3)
    report = build_report(task, rerank_task(task, TableScorer()))
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data["measures"]) == set(DEFAULT_EVAL_MEASURES)
    for row in report.rows:
        assert data["measures"][row.name] == {
            "first_stage": row.first_stage,
            "reranked": row.reranked,
            "delta": row.delta,
        }
    assert (data["wins"], data["losses"], data["ties"]) == report.wins_losses_ties
    assert data["per_query"]["q-win"] == dict(
        zip(("first_stage", "reranked"), report.per_query["q-win"], strict=True)
    )
    assert data["queries"] == 4 and data["queries_with_candidates"] == 3
    assert data["rel"] == 2 and data["relevance_rule"] == report.relevance_rule
    assert data["p_value"] == report.p_value


def test_report_pairs_per_second_is_none_without_elapsed_time() -> None:
    task = make_task(k=3)
    timed = rerank_task(task, TableScorer())
    instant = RerankedRun(timed.rankings, timed.scorer, seconds=0.0)
    assert build_report(task, instant).to_dict()["pairs_per_second"] is None
    slow = RerankedRun(timed.rankings, timed.scorer, seconds=2.0)
    assert build_report(task, slow).to_dict()["pairs_per_second"] == task.pairs / 2.0


def test_write_trec_run_round_trips_through_load_run(tmp_path: Path) -> None:
    task = make_task(k=4)
    run = rerank_task(task, TableScorer())
    path = tmp_path / "reranked.trec"
    write_trec_run(path, run, tag="mine")
    assert load_run(path) == {q: tuple(d for d, _ in r) for q, r in run.rankings.items()}
    lines = [line.split() for line in path.read_text().splitlines()]
    assert len(lines) == task.pairs
    first = lines[0]
    query_id, doc_id, score = "q-win", run.rankings["q-win"][0][0], run.rankings["q-win"][0][1]
    assert first == [query_id, "Q0", doc_id, "1", f"{score:.6f}", "mine"]
    assert {line[5] for line in lines} == {"mine"}
