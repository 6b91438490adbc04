"""Tests for openrerank.eval.measures against hand-computed values and published figures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openrerank.eval.datasets import load_beir
from openrerank.eval.measures import DEFAULT_MEASURES, evaluate, ranking_to_run
from openrerank.eval.runner import judged_queries


def dcg(gains: list[int]) -> float:
    """Discounted cumulative gain with linear gains, as trec_eval computes it."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def test_evaluate_ndcg_of_three_doc_ranking_matches_hand_computation() -> None:
    qrels = {"q": {"a": 2, "b": 0, "c": 1, "unretrieved": 1}}
    run = ranking_to_run({"q": ["b", "a", "c"]})

    # ranked gains 0, 2, 1; the ideal order of all judged documents is 2, 1, 1
    expected = dcg([0, 2, 1]) / dcg([2, 1, 1])
    scores = evaluate(qrels, run, ("nDCG@10",))

    assert scores["nDCG@10"] == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx((2 / math.log2(3) + 0.5) / (2 + 1 / math.log2(3) + 0.5))


def test_evaluate_reciprocal_rank_is_averaged_over_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"z": 1}}
    run = ranking_to_run({"q1": ["x", "y", "a"], "q2": ["z", "w"]})

    scores = evaluate(qrels, run, ("RR@10",))

    assert scores["RR@10"] == pytest.approx((1 / 3 + 1) / 2)


def test_evaluate_recall_respects_cutoff() -> None:
    ranking = [f"n{i}" for i in range(10)] + ["late"]
    ranking[4] = "early"
    qrels = {"q": {"early": 1, "late": 1}}

    scores = evaluate(qrels, ranking_to_run({"q": ranking}), ("R@10", "R@100"))

    assert scores == pytest.approx({"R@10": 0.5, "R@100": 1.0})


def test_evaluate_rel_threshold_applies_to_binary_measures_only() -> None:
    qrels = {"q": {"a": 1, "b": 2}}
    run = ranking_to_run({"q": ["a", "c", "b"]})

    lenient = evaluate(qrels, run, ("RR@10", "nDCG@10"), rel=1)
    strict = evaluate(qrels, run, ("RR@10", "nDCG@10"), rel=2)

    assert lenient["RR@10"] == pytest.approx(1.0)
    assert strict["RR@10"] == pytest.approx(1 / 3)
    expected_ndcg = dcg([1, 0, 2]) / dcg([2, 1])
    assert lenient["nDCG@10"] == pytest.approx(expected_ndcg)
    assert strict["nDCG@10"] == pytest.approx(expected_ndcg)


def test_evaluate_keeps_rel_written_in_the_measure_name() -> None:
    qrels = {"q": {"a": 1, "b": 2}}
    run = ranking_to_run({"q": ["a", "b"]})

    scores = evaluate(qrels, run, ("RR(rel=1)@10", "RR@10"), rel=2)

    assert scores == pytest.approx({"RR(rel=1)@10": 1.0, "RR@10": 0.5})


def test_evaluate_orders_by_score_not_by_insertion() -> None:
    qrels = {"q": {"a": 1}}

    scores = evaluate(qrels, {"q": {"a": 0.1, "b": 0.9}}, ("RR@10",))

    assert scores["RR@10"] == pytest.approx(0.5)


def test_evaluate_counts_judged_query_missing_from_run_as_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": {"a": 1.0}, "unjudged": {"x": 1.0}}

    scores = evaluate(qrels, run, ("RR@10",))

    assert scores["RR@10"] == pytest.approx(0.5)


def test_evaluate_default_measures_return_names_as_given() -> None:
    scores = evaluate({"q": {"a": 1}}, ranking_to_run({"q": ["a"]}))

    assert tuple(scores) == DEFAULT_MEASURES == ("nDCG@10", "RR@10", "R@10")
    assert scores == pytest.approx(dict.fromkeys(DEFAULT_MEASURES, 1.0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"measures": ()}, "no measures"),
        ({"measures": ("NoSuchMeasure@10",)}, "unknown or malformed measure"),
        ({"measures": ("nDCG(rel=2)@10",)}, "unknown or malformed measure"),
        ({"rel": 0}, "rel must be >= 1"),
    ],
)
def test_evaluate_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate({"q": {"a": 1}}, {"q": {"a": 1.0}}, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_evaluate_rejects_non_finite_scores(bad: float) -> None:
    with pytest.raises(ValueError, match="score of 'b'"):
        evaluate({"q": {"a": 1}}, {"q": {"a": 1.0, "b": bad}})


def test_evaluate_rejects_empty_qrels() -> None:
    with pytest.raises(ValueError, match="qrels is empty"):
        evaluate({}, {"q": {"a": 1.0}})


def test_ranking_to_run_gives_distinct_descending_scores() -> None:
    assert ranking_to_run({"q": ["c", "a", "b"], "empty": []}) == {
        "q": {"c": 3.0, "a": 2.0, "b": 1.0}
    }


def test_ranking_to_run_rejects_repeated_document() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        ranking_to_run({"q": ["a", "b", "a"]})


@given(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=30, unique=True))
def test_ranking_to_run_score_order_reproduces_ranking(ranking: list[str]) -> None:
    scores = ranking_to_run({"q": ranking})["q"]

    assert sorted(scores, key=lambda doc: -scores[doc]) == ranking


def test_evaluate_bm25_order_on_scifact_matches_published_figures(scifact_dir: Path) -> None:
    dataset = load_beir(scifact_dir)

    scores = evaluate(
        dataset.qrels, ranking_to_run(dataset.candidates), ("nDCG@10", "RR@10", "R@100")
    )

    # queries.jsonl also holds the train claims; the test split judges 300 of its queries
    assert len(judged_queries(dataset)) == len(dataset.qrels) == 300
    assert set(dataset.candidates) == set(dataset.qrels)
    assert len(dataset.corpus) == 5183
    # figures stated in ../shared/data/README.md
    assert scores["nDCG@10"] == pytest.approx(0.6762, abs=5e-4)
    assert scores["RR@10"] == pytest.approx(0.6413, abs=5e-4)
    assert scores["R@100"] == pytest.approx(0.9127, abs=5e-4)


def test_evaluate_bm25_order_on_trec_dl_2019_uses_graded_and_rel2(scifact_dir: Path) -> None:
    dataset = load_beir(scifact_dir.parent / "trec-dl-2019-passage")
    run = ranking_to_run(dataset.candidates)

    scores = evaluate(dataset.qrels, run, ("nDCG@10", "RR@10", "R@100"), rel=2)

    # figures stated in ../shared/data/README.md (Anserini's published BM25 nDCG@10)
    assert len(judged_queries(dataset)) == len(dataset.qrels) == 43
    assert scores["nDCG@10"] == pytest.approx(0.5058, abs=5e-4)
    assert scores["RR@10"] == pytest.approx(0.7024, abs=5e-4)
    assert scores["R@100"] == pytest.approx(0.4910, abs=5e-4)
