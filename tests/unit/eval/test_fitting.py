"""Tests for openrerank.eval.fitting, against direct formulas and brute-force loops."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from openrerank.engine.model.calibration import Calibration
from openrerank.eval.fitting import (
    DEFAULT_THRESHOLDS,
    PROBABILITY_CLIP,
    Judged,
    choose_calibration,
    fit_isotonic,
    fit_platt,
    reliability,
    split_queries,
    threshold_table,
)

Floats = npt.NDArray[np.float64]
Truth = Callable[[Floats], Floats]


def logistic(x: Floats) -> Floats:
    result: Floats = 1.0 / (1.0 + np.exp(-x))
    return result


def step(x: Floats) -> Floats:
    """A monotone truth no logistic curve fits: 10% below 0.5, 80% from 0.5 up."""
    result: Floats = np.where(x < 0.5, 0.1, 0.8)
    return result


def draw(seed: int, truth: Truth, *, queries: int = 100, per_query: int = 30) -> Judged:
    """Pairs whose label is drawn from ``truth(raw)``; raw ~ N(0, 2^2)."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(0.0, 2.0, size=queries * per_query)
    label = (rng.random(raw.size) < truth(raw)).astype(np.int64)
    query = np.repeat([f"q{i:03d}" for i in range(queries)], per_query)
    return Judged(raw, label, query)


def probabilities(calibration: Calibration, raw: Floats) -> Floats:
    """What a service returns: the map applied to float32 logits."""
    return calibration.apply(raw.astype(np.float32)).astype(np.float64)


def brute_log_loss(p: Floats, y: npt.NDArray[np.int64]) -> float:
    total = 0.0
    for prob, label in zip(p.tolist(), y.tolist(), strict=True):
        clipped = min(max(prob, PROBABILITY_CLIP), 1 - PROBABILITY_CLIP)
        total -= math.log(clipped) if label == 1 else math.log(1 - clipped)
    return total / len(p)


def newton_logistic_mle(x: Floats, y: npt.NDArray[np.int64]) -> tuple[float, float]:
    """Unregularized maximum likelihood of P(y=1) = logistic(a x + b) by Newton's method."""
    design = np.column_stack([x, np.ones_like(x)])
    w = np.zeros(2)
    for _ in range(50):
        p = logistic(design @ w)
        hessian = design.T @ (design * (p * (1 - p))[:, None])
        w += np.linalg.solve(hessian, design.T @ (y - p))
    return float(w[0]), float(w[1])


def pool_adjacent_violators(x: Floats, y: npt.NDArray[np.int64]) -> dict[float, float]:
    """Isotonic least squares at each distinct x (ties merged into their mean first)."""
    levels = sorted(set(x.tolist()))
    blocks = [[float(y[x == v].sum()), float((x == v).sum()), [v]] for v in levels]
    merged: list[list[Any]] = []
    for block in blocks:
        merged.append(block)
        while len(merged) > 1 and merged[-2][0] / merged[-2][1] >= merged[-1][0] / merged[-1][1]:
            top = merged.pop()
            merged[-1] = [merged[-1][0] + top[0], merged[-1][1] + top[1], merged[-1][2] + top[2]]
    return {v: total / count for total, count, values in merged for v in values}


# -- Judged -------------------------------------------------------------------------------


def test_judged_copies_inputs_into_read_only_arrays() -> None:
    raw = np.array([0.5, -1.0, 2.0])
    judged = Judged(raw, np.array([1, 0, 1]), np.array(["a", "b", "a"]))
    raw[0] = 99.0

    assert judged.raw.tolist() == [0.5, -1.0, 2.0]
    assert raw.flags.writeable
    assert not judged.raw.flags.writeable and not judged.query.flags.writeable
    assert judged.raw.dtype == np.float64 and judged.label.dtype == np.int64
    assert (len(judged), judged.positives, judged.n_queries) == (3, 2, 2)


def test_judged_subset_and_for_queries_select_pairs() -> None:
    judged = Judged(np.arange(5.0), np.array([1, 0, 1, 0, 0]), np.array(list("abcab")))

    by_mask = judged.subset(judged.raw >= 2)
    by_query = judged.for_queries({"a", "c"})

    assert by_mask.raw.tolist() == [2.0, 3.0, 4.0]
    assert by_query.raw.tolist() == [0.0, 2.0, 3.0]
    assert by_query.query.tolist() == ["a", "c", "a"]
    assert len(judged.for_queries(set())) == 0


@pytest.mark.parametrize(
    ("raw", "label", "query", "message"),
    [
        ([0.0, 1.0], [0, 1], ["a"], "one entry per pair"),
        ([0.0], [0, 1], ["a"], "one entry per pair"),
        ([0.0, math.nan], [0, 1], ["a", "a"], "finite; 1 of 2 are NaN"),
        ([math.inf, 0.0], [0, 1], ["a", "a"], "finite"),
        ([0.0, 1.0], [0, 2], ["a", "a"], "labels must be 0"),
        ([0.0, 1.0], [0, 0.5], ["a", "a"], "labels must be 0"),
        ([[0.0, 1.0]], [0, 1], ["a", "a"], "1-D"),
    ],
)
def test_judged_rejects_malformed_pairs(raw: Any, label: Any, query: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Judged(raw, label, query)


# -- split_queries ------------------------------------------------------------------------


def test_split_queries_is_a_disjoint_cover_with_the_asked_proportion() -> None:
    ids = [f"q{i}" for i in range(57)] * 3  # repeated ids count once

    fit, held = split_queries(ids, held_out=0.3, seed=4)

    assert fit.isdisjoint(held)
    assert fit | held == set(ids)
    assert len(held) == round(0.3 * 57)


def test_split_queries_follows_the_documented_hash_rule() -> None:
    ids = [f"doc-{i}" for i in range(20)]
    seed = 7

    def digest(query_id: str) -> bytes:
        return hashlib.sha256(f"{seed}:{query_id}".encode()).digest()

    expected_held = set(sorted(ids, key=digest)[:5])

    assert split_queries(ids, held_out=0.25, seed=seed) == (set(ids) - expected_held, expected_held)


def test_split_queries_is_deterministic_and_independent_of_input_order() -> None:
    ids = [str(i) for i in range(40)]
    first = split_queries(ids, seed=1)

    assert split_queries(list(reversed(ids)), seed=1) == first
    assert split_queries(ids, seed=2) != first


def test_split_queries_accepts_the_query_array_of_judged_pairs() -> None:
    judged = draw(0, logistic, queries=10, per_query=3)
    assert split_queries(judged.query) == split_queries(judged.query.tolist())


@pytest.mark.parametrize(("n", "held_out", "held"), [(3, 0.01, 1), (3, 0.99, 2), (2, 0.5, 1)])
def test_split_queries_keeps_both_sides_non_empty(n: int, held_out: float, held: int) -> None:
    fit, held_ids = split_queries([f"q{i}" for i in range(n)], held_out=held_out)
    assert (len(fit), len(held_ids)) == (n - held, held)


@pytest.mark.parametrize(
    ("ids", "held_out", "message"),
    [
        (["a", "b"], 0.0, "strictly between 0 and 1"),
        (["a", "b"], 1.0, "strictly between 0 and 1"),
        (["a", "b"], -0.2, "strictly between 0 and 1"),
        (["a", "a", "a"], 0.3, "at least 2 distinct queries"),
        ([], 0.3, "at least 2 distinct queries"),
    ],
)
def test_split_queries_rejects_impossible_splits(
    ids: list[str], held_out: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        split_queries(ids, held_out=held_out)


# -- fit_platt ----------------------------------------------------------------------------


def test_fit_platt_recovers_the_generating_logistic_within_its_standard_error() -> None:
    slope, intercept = 1.5, -2.0
    judged = draw(0, lambda x: logistic(slope * x + intercept), queries=400, per_query=50)
    x = judged.raw

    fitted = fit_platt(x, judged.label)

    # standard errors from the Fisher information at the true parameters
    p = logistic(slope * x + intercept)
    design = np.column_stack([x, np.ones_like(x)])
    se = np.sqrt(np.diag(np.linalg.inv(design.T @ (design * (p * (1 - p))[:, None]))))
    assert abs(fitted.slope - slope) < 4 * se[0]
    assert abs(fitted.intercept - intercept) < 4 * se[1]


def test_fit_platt_matches_the_unregularized_maximum_likelihood() -> None:
    judged = draw(1, lambda x: logistic(0.7 * x + 0.4), queries=50, per_query=20)

    fitted = fit_platt(judged.raw, judged.label)
    slope, intercept = newton_logistic_mle(judged.raw, judged.label)

    assert fitted.slope == pytest.approx(slope, rel=1e-3)
    assert fitted.intercept == pytest.approx(intercept, rel=1e-3, abs=1e-4)


def test_fit_platt_does_not_depend_on_the_scale_of_the_logits() -> None:
    judged = draw(2, lambda x: logistic(x - 1), queries=30, per_query=20)

    base = fit_platt(judged.raw, judged.label)
    scaled = fit_platt(judged.raw * 100.0, judged.label)

    assert scaled.slope == pytest.approx(base.slope / 100.0, rel=1e-4)
    assert scaled.intercept == pytest.approx(base.intercept, rel=1e-4)


def test_fit_platt_clamps_a_negative_slope_to_the_best_constant(
    caplog: pytest.LogCaptureFixture,
) -> None:
    judged = draw(3, lambda x: logistic(-x), queries=20, per_query=20)

    fitted = fit_platt(judged.raw, judged.label)

    base_rate = judged.positives / len(judged)
    assert fitted.slope == 0.0
    assert fitted.intercept == pytest.approx(math.log(base_rate / (1 - base_rate)))
    assert "negative slope" in caplog.text


def test_fit_platt_of_constant_logits_is_the_base_rate() -> None:
    fitted = fit_platt([2.0, 2.0, 2.0, 2.0], [1, 0, 0, 0])
    np.testing.assert_allclose(fitted.apply(np.array([-9.0, 9.0], dtype=np.float32)), [0.25] * 2)


def test_fit_platt_keeps_separable_data_finite_and_ordered() -> None:
    fitted = fit_platt([-2.0, -1.0, 1.0, 2.0], [0, 0, 1, 1])
    scores = probabilities(fitted, np.array([-2.0, -1.0, 1.0, 2.0]))
    assert math.isfinite(fitted.slope) and fitted.slope > 0
    assert scores[1] < 0.5 < scores[2]


# -- fit_isotonic -------------------------------------------------------------------------


def test_fit_isotonic_agrees_with_pool_adjacent_violators_on_tied_logits() -> None:
    judged = draw(4, step, queries=20, per_query=20)
    raw = np.round(judged.raw, 1)  # many ties

    fitted = fit_isotonic(raw, judged.label)

    expected = pool_adjacent_violators(raw, judged.label)
    levels = np.array(sorted(expected))
    np.testing.assert_allclose(
        probabilities(fitted, levels), [expected[v] for v in levels.tolist()], atol=1e-6
    )


def test_fit_isotonic_knots_are_valid_and_few() -> None:
    judged = draw(5, lambda x: logistic(x), queries=200, per_query=50)

    fitted = fit_isotonic(judged.raw, judged.label)

    xs, ys = np.array(fitted.knots_x), np.array(fitted.knots_y)
    assert (np.diff(xs) > 0).all() and (np.diff(ys) >= 0).all()
    assert ys[0] >= 0 and ys[-1] <= 1
    assert len(xs) <= 2 * len(np.unique(ys))  # at most two knots per level
    assert len(xs) < len(judged) / 20


def test_fit_isotonic_is_constant_beyond_the_observed_logits() -> None:
    fitted = fit_isotonic([0.0, 1.0, 2.0, 3.0], [0, 1, 0, 1])
    scores = probabilities(fitted, np.array([-100.0, 0.0, 3.0, 100.0]))
    assert scores.tolist() == [scores[1], scores[1], scores[2], scores[2]]


@pytest.mark.parametrize("fit", [fit_platt, fit_isotonic])
@pytest.mark.parametrize(
    ("raw", "label", "message"),
    [
        ([0.0, 1.0], [0, 0], "no positives"),
        ([0.0, 1.0], [1, 1], "no negatives"),
        ([], [], "no positives"),
        ([0.0, 1.0, 2.0], [0, 1], "one entry per pair"),
        ([0.0, math.nan], [0, 1], "raw logits must be finite"),
    ],
)
def test_fits_reject_unusable_pairs(
    fit: Callable[[Any, Any], Calibration], raw: list[float], label: list[int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fit(raw, label)


# -- choose_calibration -------------------------------------------------------------------


def test_choose_calibration_prefers_platt_on_logistic_data() -> None:
    judged = draw(6, lambda x: logistic(1.2 * x - 1.0))

    choice = choose_calibration(judged)

    assert choice.calibration.method == "platt"
    assert choice.cv_log_loss["platt"] <= choice.cv_log_loss["isotonic"]
    assert choice.calibration == fit_platt(judged.raw, judged.label)  # refitted on all
    assert choice.folds == 5


def test_choose_calibration_prefers_isotonic_on_a_step_truth() -> None:
    judged = draw(7, step)

    choice = choose_calibration(judged)

    assert choice.calibration.method == "isotonic"
    assert choice.cv_log_loss["isotonic"] < choice.cv_log_loss["platt"]
    assert choice.calibration == fit_isotonic(judged.raw, judged.label)


def test_choose_calibration_log_loss_is_out_of_fold_per_query() -> None:
    judged = draw(8, step, queries=6, per_query=25)

    # folds == queries: leave one query out, whatever the assignment order
    choice = choose_calibration(judged, folds=6)

    for method, fit in (("platt", fit_platt), ("isotonic", fit_isotonic)):
        predicted = np.empty(len(judged))
        for query in np.unique(judged.query).tolist():
            held = judged.query == query
            calibration = fit(judged.raw[~held], judged.label[~held])
            predicted[held] = probabilities(calibration, judged.raw[held])
        expected = brute_log_loss(predicted, judged.label)
        assert choice.cv_log_loss[method] == pytest.approx(expected, rel=1e-9)


def test_choose_calibration_uses_at_most_one_fold_per_query() -> None:
    judged = draw(9, logistic, queries=3, per_query=40)
    assert choose_calibration(judged, folds=5).folds == 3


def test_choose_calibration_is_deterministic() -> None:
    judged = draw(10, step, queries=30, per_query=10)
    assert choose_calibration(judged, seed=3) == choose_calibration(judged, seed=3)


@pytest.mark.parametrize(
    ("label", "query", "folds", "message"),
    [
        ([0, 0, 0, 0], list("aabb"), 5, "no positives"),
        ([1, 1, 1, 1], list("aabb"), 5, "no negatives"),
        ([0, 1, 0, 1], list("aaaa"), 5, "at least 2 queries"),
        ([0, 1, 0, 1], list("aabb"), 1, "folds must be at least 2"),
        ([0, 1, 0, 0], list("aabb"), 2, "outside fold .* no positives"),
    ],
)
def test_choose_calibration_rejects_unusable_data(
    label: list[int], query: list[str], folds: int, message: str
) -> None:
    judged = Judged(np.array([0.0, 1.0, 2.0, 3.0]), np.array(label), np.array(query))
    with pytest.raises(ValueError, match=message):
        choose_calibration(judged, folds=folds)


def test_choice_to_dict_is_json_ready() -> None:
    choice = choose_calibration(draw(11, step, queries=10, per_query=10))
    data = json.loads(json.dumps(choice.to_dict()))
    assert data == {
        "method": choice.calibration.method,
        "folds": 5,
        "cv_log_loss": dict(choice.cv_log_loss),
    }


# -- held-out improvement -----------------------------------------------------------------


def test_calibration_lowers_held_out_ece_of_badly_scaled_logits() -> None:
    judged = draw(12, lambda x: logistic(3 * x - 2), queries=200, per_query=20)
    fit_ids, held_ids = split_queries(judged.query.tolist(), held_out=0.3)
    fit, held = judged.for_queries(fit_ids), judged.for_queries(held_ids)

    calibration = choose_calibration(fit).calibration
    before = reliability(logistic(held.raw), held.label)
    after = reliability(probabilities(calibration, held.raw), held.label)

    assert after.ece < before.ece / 3
    assert after.log_loss < before.log_loss and after.brier < before.brier


def test_isotonic_beats_platt_on_held_out_queries_under_a_step_truth() -> None:
    judged = draw(13, step, queries=200, per_query=20)
    fit_ids, held_ids = split_queries(judged.query.tolist(), held_out=0.3, seed=1)
    fit, held = judged.for_queries(fit_ids), judged.for_queries(held_ids)

    losses = {
        fitter.__name__: reliability(
            probabilities(fitter(fit.raw, fit.label), held.raw), held.label
        ).log_loss
        for fitter in (fit_platt, fit_isotonic)
    }

    assert losses["fit_isotonic"] < losses["fit_platt"]


# -- reliability --------------------------------------------------------------------------


def brute_reliability(p: Floats, y: npt.NDArray[np.int64], bins: int) -> dict[str, Any]:
    """ECE from an explicit per-bin loop: bin k is k/bins <= p < (k+1)/bins, 1.0 in the last."""
    n, ece, rows = len(p), 0.0, []
    for k in range(bins):
        lower, upper = k / bins, (k + 1) / bins
        members = [i for i in range(n) if lower <= p[i] < upper or (k == bins - 1 and p[i] == 1.0)]
        if not members:
            continue
        mean_p = sum(p[i] for i in members) / len(members)
        rate = sum(y[i] for i in members) / len(members)
        ece += len(members) / n * abs(mean_p - rate)
        rows.append((lower, upper, len(members), mean_p, rate))
    brier = sum((p[i] - y[i]) ** 2 for i in range(n)) / n
    return {"ece": ece, "brier": brier, "log_loss": brute_log_loss(p, y), "bins": rows}


@pytest.mark.parametrize("bins", [1, 3, 10, 17])
def test_reliability_matches_a_brute_force_binning(bins: int) -> None:
    rng = np.random.default_rng(bins)
    p = rng.random(500) ** 2
    y = (rng.random(500) < p * 0.8 + 0.05).astype(np.int64)

    report = reliability(p, y, bins=bins)
    expected = brute_reliability(p, y, bins)

    assert (report.pairs, report.positives) == (500, int(y.sum()))
    assert report.ece == pytest.approx(expected["ece"], rel=1e-9)
    assert report.brier == pytest.approx(expected["brier"], rel=1e-9)
    assert report.log_loss == pytest.approx(expected["log_loss"], rel=1e-9)
    assert len(report.bins) == len(expected["bins"])
    for got, want in zip(report.bins, expected["bins"], strict=True):
        assert (got.lower, got.upper, got.count) == want[:3]
        assert (got.mean_predicted, got.observed_rate) == pytest.approx(want[3:], rel=1e-9)


def test_reliability_bins_edges_zero_and_one() -> None:
    p = np.array([0.0, 0.1, 0.5, 0.9, 0.99, 1.0, 1.0])
    y = np.array([0, 0, 1, 1, 1, 1, 0])

    report = reliability(p, y)

    # 0.0 -> [0, .1); 0.1 and 0.5 open their bins; 0.9, 0.99 and 1.0 share [.9, 1]
    assert [(b.lower, b.upper, b.count) for b in report.bins] == [
        (0.0, 0.1, 1),
        (0.1, 0.2, 1),
        (0.5, 0.6, 1),
        (0.9, 1.0, 4),
    ]
    assert report.bins[-1].observed_rate == 0.75
    assert report.ece == pytest.approx(brute_reliability(p, y, 10)["ece"], rel=1e-12)


def test_reliability_of_certain_correct_probabilities_is_perfect() -> None:
    report = reliability(np.array([0.0, 1.0, 1.0, 0.0]), np.array([0, 1, 1, 0]))
    assert report.ece == 0.0 and report.brier == 0.0
    assert report.log_loss == pytest.approx(-math.log(1 - PROBABILITY_CLIP))


def test_reliability_clips_log_loss_of_confident_mistakes() -> None:
    report = reliability(np.array([1.0, 0.0]), np.array([0, 1]))
    assert report.log_loss == pytest.approx(-math.log(PROBABILITY_CLIP))
    assert report.brier == 1.0 and report.ece == 1.0


def test_reliability_accepts_a_single_class() -> None:
    report = reliability(np.array([0.2, 0.4], dtype=np.float32), np.array([0, 0]))
    assert report.positives == 0
    assert report.ece == pytest.approx(0.3, rel=1e-6)
    assert report.brier == pytest.approx((0.2**2 + 0.4**2) / 2, rel=1e-6)


def test_reliability_to_dict_is_json_ready() -> None:
    report = reliability(np.array([0.05, 0.5, 0.95]), np.array([0, 1, 1]))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["pairs"] == 3 and data["ece"] == report.ece
    assert data["bins"][0] == {
        "lower": 0.0,
        "upper": 0.1,
        "count": 1,
        "mean_predicted": 0.05,
        "observed_rate": 0.0,
    }


@pytest.mark.parametrize(
    ("p", "y", "bins", "message"),
    [
        ([0.5, 1.2], [0, 1], 10, r"in \[0, 1\]"),
        ([-0.1, 0.5], [0, 1], 10, r"in \[0, 1\]"),
        ([math.nan, 0.5], [0, 1], 10, "finite"),
        ([0.5], [0, 1], 10, "one entry per pair"),
        ([], [], 10, "at least one pair"),
        ([0.5, 0.5], [0, 3], 10, "labels must be 0"),
        ([0.5, 0.5], [0, 1], 0, "bins must be at least 1"),
    ],
)
def test_reliability_rejects_malformed_inputs(
    p: list[float], y: list[int], bins: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        reliability(p, y, bins=bins)


# -- threshold_table ----------------------------------------------------------------------


def brute_threshold_row(
    p: list[float], y: list[int], query: list[str], threshold: float
) -> dict[str, Any]:
    kept = [i for i in range(len(p)) if p[i] >= threshold]
    hits = sum(y[i] for i in kept)
    queries = sorted(set(query))
    empty = [q for q in queries if not any(query[i] == q for i in kept)]
    return {
        "threshold": threshold,
        "kept": len(kept) / len(p),
        "precision": hits / len(kept) if kept else None,
        "recall": hits / sum(y) if sum(y) else None,
        "queries_with_none_kept": len(empty) / len(queries),
    }


def test_threshold_table_matches_a_direct_count() -> None:
    rng = np.random.default_rng(21)
    p = rng.random(300)
    y = (rng.random(300) < p).astype(np.int64)
    query = [f"q{i % 37}" for i in range(300)]

    rows = threshold_table(p, y, np.array(query))

    assert [row.threshold for row in rows] == list(DEFAULT_THRESHOLDS)
    for row in rows:
        expected = brute_threshold_row(p.tolist(), y.tolist(), query, row.threshold)
        assert row.to_dict() == pytest.approx(expected, rel=1e-12)


def test_threshold_table_marks_undefined_ratios_as_none() -> None:
    rows = threshold_table([0.2, 0.3], [0, 0], ["a", "b"], thresholds=[0.25, 0.5])

    assert rows[0].to_dict() == {
        "threshold": 0.25,
        "kept": 0.5,
        "precision": 0.0,
        "recall": None,
        "queries_with_none_kept": 0.5,
    }
    assert rows[1].precision is None and rows[1].kept == 0.0
    assert rows[1].queries_with_none_kept == 1.0
    assert json.loads(json.dumps([row.to_dict() for row in rows]))[1]["precision"] is None


def test_threshold_table_keeps_probabilities_equal_to_the_threshold() -> None:
    rows = threshold_table([0.5, 0.4], [1, 0], ["a", "a"], thresholds=[0.5, 0.0, 1.0])
    assert [row.kept for row in rows] == [0.5, 1.0, 0.0]


@pytest.mark.parametrize(
    ("query", "thresholds", "message"),
    [
        (["a"], [0.5], "one entry per pair"),
        (["a", "b"], [1.5], r"thresholds must lie in \[0, 1\]"),
        (["a", "b"], [math.nan], r"thresholds must lie in \[0, 1\]"),
    ],
)
def test_threshold_table_rejects_malformed_inputs(
    query: list[str], thresholds: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        threshold_table([0.2, 0.7], [0, 1], query, thresholds=thresholds)
