"""From a reranked, judged run to a fitted calibration and its reliability report.

`judged_pairs` labels every scored (query, candidate) pair: relevant when its grade is
at least the task's ``rel``; an unjudged candidate counts as not relevant (the usual
reading of pooled judgments). `fit_on_run` splits the queries into a fit part and a
held-out part, picks Platt or isotonic by cross-validated log-loss on the fit part only,
and reports reliability before (the model's sigmoid) and after on the held-out queries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from openrerank._version import __version__
from openrerank.engine.model.activation import sigmoid
from openrerank.engine.model.calibration import Calibration
from openrerank.eval.fitting import (
    Choice,
    Judged,
    Reliability,
    ThresholdRow,
    choose_calibration,
    reliability,
    split_queries,
    threshold_table,
)
from openrerank.eval.runner import EvalTask, RerankedRun


def judged_pairs(task: EvalTask, run: RerankedRun) -> Judged:
    """Every scored pair of the run with its 0/1 label and query id."""
    raw: list[float] = []
    label: list[int] = []
    query: list[str] = []
    for query_id, ranking in run.rankings.items():
        judged = task.dataset.qrels.get(query_id, {})
        for doc_id, score in ranking:
            raw.append(score)
            label.append(int(judged.get(doc_id, 0) >= task.rel))
            query.append(query_id)
    return Judged(
        np.asarray(raw, dtype=np.float64),
        np.asarray(label, dtype=np.int64),
        np.asarray(query, dtype=np.str_),
    )


def model_probability(judged: Judged) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The uncalibrated probability: the sigmoid of the raw score, i.e. the model's own
    relevance score for one-logit (sigmoid) and two-logit (softmax) models."""
    return sigmoid(np.asarray(judged.raw, dtype=np.float64))


@dataclass(frozen=True)
class ReliabilityCheck:
    """Reliability of the uncalibrated and calibrated scores on one set of pairs."""

    queries: int
    before: Reliability
    after: Reliability
    thresholds: tuple[ThresholdRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "queries": self.queries,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "thresholds": [row.to_dict() for row in self.thresholds],
        }


@dataclass(frozen=True)
class ScoreReliability:
    """How well each kind of score works as a probability on one set of judged pairs.

    Attributes:
        scores: score name (``"model sigmoid"``, ``"calibrated (platt)"``, ``"served
            relevance_score"``) to its reliability, in report order.
        thresholds: the threshold table of the last probability, where one applies.
    """

    scores: tuple[tuple[str, Reliability], ...]
    thresholds: tuple[ThresholdRow, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: one entry per score name, then ``thresholds`` if any."""
        data: dict[str, Any] = {name: values.to_dict() for name, values in self.scores}
        if self.thresholds is not None:
            data["thresholds"] = [row.to_dict() for row in self.thresholds]
        return data


def check_reliability(calibration: Calibration, judged: Judged) -> ReliabilityCheck:
    """ECE, Brier and log-loss before and after ``calibration``, and its threshold table."""
    calibrated = calibration.apply(np.asarray(judged.raw, dtype=np.float32)).astype(np.float64)
    return ReliabilityCheck(
        queries=judged.n_queries,
        before=reliability(model_probability(judged), judged.label),
        after=reliability(calibrated, judged.label),
        thresholds=tuple(threshold_table(calibrated, judged.label, judged.query)),
    )


@dataclass(frozen=True)
class CalibrationFit:
    """A fitted calibration and what it was checked on.

    Attributes:
        calibration: the chosen map, fitted on the fit queries, with its facts in
            ``fitted_on``.
        choice: the cross-validated log-loss of each method on the fit queries.
        fit_queries: queries the map was fitted on.
        fit_pairs: pairs it was fitted on; ``fit_positives`` of them relevant.
        held_out: reliability on the held-out queries, never used for fitting or choosing.
    """

    calibration: Calibration
    choice: Choice
    fit_queries: int
    fit_pairs: int
    fit_positives: int
    held_out: ReliabilityCheck

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "method": self.calibration.method,
            "choice": self.choice.to_dict(),
            "fit": {
                "queries": self.fit_queries,
                "pairs": self.fit_pairs,
                "positives": self.fit_positives,
            },
            "held_out": self.held_out.to_dict(),
        }


def fit_on_run(
    task: EvalTask,
    run: RerankedRun,
    *,
    held_out: float = 0.3,
    seed: int = 0,
    facts: Mapping[str, Any] | None = None,
) -> CalibrationFit:
    """Fit a calibration on part of the queries and check it on the rest.

    Args:
        task: the evaluation task the run answers (labels come from its qrels).
        run: raw scores from a `~openrerank.eval.scorers.LibraryScorer`.
        held_out: share of queries kept out of fitting and choosing, for the report.
        seed: the query split's and the folds' seed.
        facts: extra facts recorded in the file (model, data set, first stage ...).

    Raises:
        ValueError: no relevant or no irrelevant pair among the fit queries, or too few
            queries to split.
    """
    judged = judged_pairs(task, run)
    fit_ids, held_ids = split_queries(
        sorted(set(judged.query.tolist())), held_out=held_out, seed=seed
    )
    fit, held = judged.for_queries(fit_ids), judged.for_queries(held_ids)
    choice = choose_calibration(fit, seed=seed)
    check = check_reliability(choice.calibration, held)
    result = CalibrationFit(
        choice.calibration, choice, fit.n_queries, len(fit), fit.positives, check
    )
    fitted_on = {
        **(facts or {}),
        "openrerank": __version__,
        "rel": task.rel,
        "k": task.k,
        "first_stage": task.first_stage,
        "dataset": task.dataset.path.name,
        "held_out_share": held_out,
        "seed": seed,
        **result.to_dict(),
    }
    calibrated = dataclasses.replace(choice.calibration, fitted_on=fitted_on)
    return dataclasses.replace(result, calibration=calibrated)
