"""Tests for openrerank.eval.calibrate: labels from a task's judgments, and a fit on a
synthetic reranked run whose relevance follows a known logistic curve of the raw score."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from openrerank import __version__
from openrerank.engine.model.calibration import Calibration, load_calibration
from openrerank.eval.calibrate import fit_on_run, judged_pairs, model_probability
from openrerank.eval.datasets import BeirDataset
from openrerank.eval.runner import EvalTask, RerankedRun, ScoredRanking

# The truth: P(relevant | raw) = sigmoid(SLOPE * raw + INTERCEPT). The model's own
# sigmoid(raw) overestimates relevance a lot, so a fitted map must do much better.
SLOPE, INTERCEPT = 1.5, -3.0


def truth(raw: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-(SLOPE * raw + INTERCEPT)))
    return result


def task_for(
    qrels: Mapping[str, Mapping[str, int]], *, rel: int, name: str = "synthetic"
) -> EvalTask:
    dataset = BeirDataset(
        path=Path(name),
        corpus=MappingProxyType({}),
        queries=MappingProxyType(dict.fromkeys(qrels, "a query")),
        qrels=MappingProxyType({q: MappingProxyType(dict(d)) for q, d in qrels.items()}),
        candidates=MappingProxyType({}),
    )
    return EvalTask(dataset, "synthetic first stage", k=20, queries=tuple(qrels), rel=rel)


def synthetic(seed: int, *, queries: int = 80, per_query: int = 20) -> tuple[EvalTask, RerankedRun]:
    """A run with raw ~ N(0, 2^2) per pair and labels drawn from ``truth(raw)``.

    Relevant pairs are judged 1; half of the others are judged 0 and half are left
    unjudged, which must count as not relevant alike.
    """
    rng = np.random.default_rng(seed)
    qrels: dict[str, dict[str, int]] = {}
    rankings: dict[str, ScoredRanking] = {}
    for q in range(queries):
        query_id = f"q{q:03d}"
        raw = np.sort(rng.normal(0.0, 2.0, size=per_query))[::-1]
        relevant = rng.random(per_query) < truth(raw)
        judged_zero = rng.random(per_query) < 0.5
        docs = [f"{query_id}-d{i}" for i in range(per_query)]
        qrels[query_id] = {
            d: int(r) for d, r, z in zip(docs, relevant, judged_zero, strict=True) if r or z
        }
        rankings[query_id] = tuple(zip(docs, raw.tolist(), strict=True))
    return task_for(qrels, rel=1), RerankedRun(MappingProxyType(rankings), "synthetic", 1.0)


def test_judged_pairs_label_grades_at_or_above_rel_and_unjudged_as_zero() -> None:
    task = task_for({"qa": {"a1": 3, "a2": 2, "a3": 1, "a4": 0}, "qb": {"b1": 2}}, rel=2)
    run = RerankedRun(
        MappingProxyType(
            {
                "qa": (("a2", 2.5), ("a1", 1.0), ("a9", 0.5), ("a3", -0.5), ("a4", -1.0)),
                "qb": (("b7", 0.25), ("b1", -2.0)),
            }
        ),
        "table",
        0.1,
    )
    judged = judged_pairs(task, run)
    assert judged.raw.tolist() == [2.5, 1.0, 0.5, -0.5, -1.0, 0.25, -2.0]
    assert judged.label.tolist() == [1, 1, 0, 0, 0, 0, 1]
    assert judged.query.tolist() == ["qa"] * 5 + ["qb"] * 2
    assert model_probability(judged).tolist() == pytest.approx(
        (1.0 / (1.0 + np.exp(-judged.raw))).tolist()
    )
    assert judged_pairs(task_for(task.dataset.qrels, rel=1), run).label.tolist() == [
        1, 1, 0, 1, 0, 0, 1
    ]  # fmt: skip


def test_fit_on_run_beats_the_model_sigmoid_on_held_out_queries() -> None:
    task, run = synthetic(seed=7)
    fitted = fit_on_run(task, run, held_out=0.3, seed=1)
    held = fitted.held_out
    print(f"\nheld-out ECE {held.before.ece:.4f} -> {held.after.ece:.4f}")
    assert held.after.ece < held.before.ece / 2
    assert held.after.log_loss < held.before.log_loss
    assert held.after.brier < held.before.brier
    # The fitted map is close to the truth where the data lie.
    grid = np.linspace(-3.0, 3.0, 13)
    fitted_p = fitted.calibration.apply(grid.astype(np.float32)).astype(np.float64)
    assert np.abs(fitted_p - truth(grid)).max() < 0.15
    assert set(fitted.choice.cv_log_loss) == {"platt", "isotonic"}
    losses = fitted.choice.cv_log_loss
    assert fitted.calibration.method == (
        "isotonic" if losses["isotonic"] < losses["platt"] else "platt"
    )


def test_fit_on_run_fits_and_checks_on_disjoint_queries_covering_the_run() -> None:
    task, run = synthetic(seed=3, queries=40)
    fitted = fit_on_run(task, run, held_out=0.25, seed=5)
    everything = judged_pairs(task, run)
    held = fitted.held_out
    assert (fitted.fit_queries, held.queries) == (30, 10)
    assert fitted.fit_pairs + held.before.pairs == len(everything) == 40 * 20
    assert fitted.fit_positives + held.before.positives == everything.positives
    assert held.after.pairs == held.before.pairs
    kept = [row.kept for row in held.thresholds]
    assert kept == sorted(kept, reverse=True)


def test_fit_on_run_is_deterministic_for_a_seed() -> None:
    task, run = synthetic(seed=11, queries=30)
    first = fit_on_run(task, run, seed=2)
    assert fit_on_run(task, run, seed=2).to_dict() == first.to_dict()


def test_fit_on_run_records_what_it_was_fitted_on(tmp_path: Path) -> None:
    task, run = synthetic(seed=5, queries=30)
    fitted = fit_on_run(task, run, held_out=0.4, seed=3, facts={"model": "toy-model"})
    facts = fitted.calibration.fitted_on
    assert facts["model"] == "toy-model"
    assert facts["openrerank"] == __version__
    assert (facts["rel"], facts["k"], facts["seed"], facts["held_out_share"]) == (1, 20, 3, 0.4)
    assert facts["first_stage"] == "synthetic first stage"
    assert facts["dataset"] == "synthetic"
    assert facts["method"] == fitted.calibration.method
    assert facts["fit"] == {
        "queries": fitted.fit_queries,
        "pairs": fitted.fit_pairs,
        "positives": fitted.fit_positives,
    }
    assert facts["held_out"]["queries"] == fitted.held_out.queries
    # The facts are plain JSON and survive the calibration file.
    path = tmp_path / "calibration.json"
    fitted.calibration.save(path)
    loaded = load_calibration(path)
    assert dict(loaded.fitted_on) == json.loads(json.dumps(dict(facts)))
    raw = np.linspace(-4, 4, 9).astype(np.float32)
    assert loaded.apply(raw).tolist() == fitted.calibration.apply(raw).tolist()
    assert isinstance(loaded, Calibration)


def test_fit_on_run_refuses_a_run_without_relevant_pairs() -> None:
    task, run = synthetic(seed=1, queries=10)
    nothing_relevant = task_for({q: {} for q in task.queries}, rel=1)
    with pytest.raises(ValueError, match="no positives"):
        fit_on_run(nothing_relevant, run)


def test_fit_on_run_refuses_a_single_query() -> None:
    task, run = synthetic(seed=1, queries=1)
    with pytest.raises(ValueError, match="at least 2 distinct queries"):
        fit_on_run(task, run)
