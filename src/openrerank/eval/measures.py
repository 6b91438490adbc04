"""Ranking-quality measures (nDCG, MRR, recall ...) over qrels and scored runs.

A thin layer over ``ir_measures`` (pytrec_eval backend), so figures match the ones the
IR literature and ``../shared/data/README.md`` report. Semantics worth knowing:

* Measures are averaged over the queries in the qrels. A judged query that is missing
  from the run counts as 0 (like ``trec_eval -c``); run queries without judgments are
  ignored.
* Within a query, documents are ranked by descending score; ties are broken by
  trec_eval's rule (document id), so give distinct scores when order matters
  (`ranking_to_run` does).
* nDCG uses the graded judgments as gains. Binary measures (RR, R, P, AP ...) count a
  document as relevant when its grade is at least ``rel``; TREC DL uses ``rel=2``.

Example:
    >>> qrels = {"q1": {"d1": 1}}
    >>> evaluate(qrels, ranking_to_run({"q1": ["d2", "d1"]}), ("RR@10",))
    {'RR@10': 0.5}
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import ir_measures

logger = logging.getLogger(__name__)

DEFAULT_MEASURES: tuple[str, ...] = ("nDCG@10", "RR@10", "R@10")

Qrels = Mapping[str, Mapping[str, int]]
"""Query id to (document id to relevance grade)."""

RunScores = Mapping[str, Mapping[str, float]]
"""Query id to (document id to score); higher scores rank first."""


def evaluate(
    qrels: Qrels,
    run_scores: RunScores,
    measures: Sequence[str] = DEFAULT_MEASURES,
    *,
    rel: int = 1,
) -> dict[str, float]:
    """Compute mean measures of a scored run against relevance judgments.

    Args:
        qrels: Query id to (document id to integer grade).
        run_scores: Query id to (document id to finite score).
        measures: Measure names in ``ir_measures`` syntax, e.g. ``"nDCG@10"``,
            ``"RR@10"``, ``"R@100"``, ``"AP"``.
        rel: The minimum grade counted as relevant by binary measures. It is applied to
            every measure that accepts a ``rel`` parameter and does not set one itself
            (so ``"RR@10"`` with ``rel=2`` computes ``RR(rel=2)@10``); nDCG is unaffected.

    Returns:
        Measure name, exactly as given in ``measures``, to its mean over the judged
        queries.

    Raises:
        ValueError: If ``measures`` or ``qrels`` is empty, a measure name cannot be
            parsed, ``rel`` is below 1, or a score is NaN or infinite.
    """
    if not qrels:
        raise ValueError("qrels is empty: there is nothing to evaluate against")
    resolved = _resolve_measures(measures, rel=rel)
    run = _run_to_dict(run_scores)
    judged = {query_id: dict(docs) for query_id, docs in qrels.items()}
    logger.debug("evaluating %s on %d judged queries", list(resolved.values()), len(judged))
    results = ir_measures.calc_aggregate(list(resolved.values()), judged, run)
    return {name: float(results[measure]) for name, measure in resolved.items()}


def per_query(
    qrels: Qrels, run_scores: RunScores, measure: str, *, rel: int = 1
) -> dict[str, float]:
    """One measure for every judged query (0 for a judged query missing from the run).

    Same semantics as `evaluate`, whose mean over these values it equals.

    Raises:
        ValueError: As `evaluate`.
    """
    if not qrels:
        raise ValueError("qrels is empty: there is nothing to evaluate against")
    parsed = _resolve_measures((measure,), rel=rel)[measure]
    run = _run_to_dict(run_scores)
    judged = {query_id: dict(docs) for query_id, docs in qrels.items()}
    values = dict.fromkeys(judged, 0.0)
    for metric in ir_measures.iter_calc([parsed], judged, run):
        values[metric.query_id] = float(metric.value)
    return values


def _resolve_measures(measures: Sequence[str], *, rel: int = 1) -> dict[str, Any]:
    """Parse measure names and apply the relevance threshold ``rel`` where it applies.

    Args:
        measures: Measure names in ``ir_measures`` syntax.
        rel: The minimum grade counted as relevant by binary measures.

    Returns:
        Each given name mapped to its ``ir_measures`` measure object.

    Raises:
        ValueError: If ``measures`` is empty, a name cannot be parsed, or ``rel < 1``.
    """
    if isinstance(measures, str):
        measures = (measures,)
    if not measures:
        raise ValueError("no measures requested")
    if rel < 1:
        raise ValueError(f"rel must be >= 1, got {rel}")
    return {name: _with_rel(_parse(name), rel) for name in measures}


def ranking_to_run(rankings: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """Turn ranked lists of document ids (best first) into run scores.

    The i-th of n documents (0-based) gets the score ``n - i``, so the scores are
    distinct and reproduce the given order exactly. Queries with an empty list are left
    out (they count as 0, like any judged query missing from the run).

    Args:
        rankings: Query id to document ids in rank order, e.g. `BeirDataset.candidates`.

    Returns:
        Query id to (document id to score), ready for `evaluate`.

    Raises:
        ValueError: If a document appears twice in one query's list.
    """
    run: dict[str, dict[str, float]] = {}
    for query_id, doc_ids in rankings.items():
        if len(set(doc_ids)) != len(doc_ids):
            raise ValueError(f"query {query_id!r}: a document id appears twice in the ranking")
        if doc_ids:
            run[query_id] = {doc_id: float(len(doc_ids) - i) for i, doc_id in enumerate(doc_ids)}
    return run


def _parse(name: str) -> Any:
    try:
        measure = ir_measures.parse_measure(name)
    except (ValueError, NameError, KeyError, SyntaxError, TypeError, AttributeError) as exc:
        raise ValueError(f"unknown or malformed measure {name!r}: {exc}") from exc
    unsupported = sorted(set(measure.params) - set(measure.SUPPORTED_PARAMS))
    if unsupported:
        raise ValueError(f"unknown or malformed measure {name!r}: no parameter {unsupported[0]!r}")
    return measure


def _with_rel(measure: Any, rel: int) -> Any:
    """Set ``rel`` on a measure that supports it and has not set it already."""
    if "rel" in measure.SUPPORTED_PARAMS and "rel" not in measure.params:
        return measure(rel=rel)
    return measure


def _run_to_dict(run_scores: RunScores) -> dict[str, dict[str, float]]:
    """Copy the run into plain dicts (what ``ir_measures`` expects), rejecting NaN/inf."""
    run: dict[str, dict[str, float]] = {}
    for query_id, scores in run_scores.items():
        copied = {doc_id: float(score) for doc_id, score in scores.items()}
        bad = next((d for d, s in copied.items() if not math.isfinite(s)), None)
        if bad is not None:
            raise ValueError(f"query {query_id!r}: score of {bad!r} is {copied[bad]}")
        if copied:
            run[query_id] = copied
    return run
