"""Pairing two rerankers' reports of one task: per-query deltas and the paired test."""

from __future__ import annotations

import math
from pathlib import Path
from types import MappingProxyType

import pytest

from openrerank.eval.compare import compare_reports
from openrerank.eval.datasets import BeirDataset, Document
from openrerank.eval.runner import EvalTask, RerankedRun, build_report
from openrerank.eval.stats import paired_sign_flip_p

DOCS = ("a", "b", "c")
QRELS = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 1}}


def task() -> EvalTask:
    dataset = BeirDataset(
        path=Path("toy"),
        corpus=MappingProxyType({d: Document(d, "", d) for d in DOCS}),
        queries=MappingProxyType({q: q for q in QRELS}),
        qrels=MappingProxyType({q: MappingProxyType(j) for q, j in QRELS.items()}),
        candidates=MappingProxyType(dict.fromkeys(QRELS, DOCS)),
    )
    return EvalTask(dataset, "first", 3, tuple(QRELS), rel=1, measures=("RR@10", "nDCG@10"))


def run(orders: dict[str, tuple[str, ...]], name: str) -> RerankedRun:
    rankings = {
        q: tuple((d, float(len(order) - i)) for i, d in enumerate(order))
        for q, order in orders.items()
    }
    return RerankedRun(MappingProxyType(rankings), name, 1.0)


def test_the_comparison_pairs_queries_and_tests_the_candidates_gain() -> None:
    base = run({"q1": ("a", "b", "c"), "q2": ("a", "b", "c"), "q3": ("a", "b", "c")}, "base")
    tuned = run({"q1": ("a", "b", "c"), "q2": ("b", "a", "c"), "q3": ("c", "a", "b")}, "tuned")
    the_task = task()
    comparison = compare_reports(build_report(the_task, base), build_report(the_task, tuned))
    # the primary measure, nDCG@10 with one relevant document: 1 / log2(rank + 1)
    deltas = [0.0, 1 - 1 / math.log2(3), 1 - 1 / math.log2(4)]
    assert comparison.deltas == pytest.approx(deltas)
    assert comparison.wins_losses_ties == (2, 0, 1)
    assert comparison.p_value == pytest.approx(paired_sign_flip_p(deltas))
    facts = comparison.to_dict()
    assert facts["baseline"] == "base" and facts["candidate"] == "tuned"
    rr = facts["measures"]["RR@10"]
    assert rr["baseline"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert rr["candidate"] == pytest.approx(1.0)
    assert rr["delta"] == pytest.approx(rr["candidate"] - rr["baseline"])


def test_reports_of_other_queries_cannot_be_paired() -> None:
    orders = {q: DOCS for q in QRELS}
    whole = build_report(task(), run(orders, "x"))
    smaller = task()
    part = EvalTask(smaller.dataset, "first", 3, ("q1", "q2"), rel=1, measures=smaller.measures)
    with pytest.raises(ValueError, match="same queries"):
        compare_reports(whole, build_report(part, run({"q1": DOCS, "q2": DOCS}, "y")))
