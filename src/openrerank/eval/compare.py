"""Two rerankers on the same judged queries: which is better, per query, and how surely.

`compare_reports` pairs two `EvalReport` of one `EvalTask` (same queries, same
candidates) on their primary measure and tests the mean difference with the paired
sign-flip test of `eval.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openrerank.eval.runner import EvalReport
from openrerank.eval.stats import paired_sign_flip_p


@dataclass(frozen=True)
class Comparison:
    """A candidate reranker against a baseline reranker on the same queries.

    Attributes:
        baseline: the baseline's report (first stage vs baseline).
        candidate: the candidate's report (first stage vs candidate).
        p_value: paired sign-flip p-value of the candidate's mean gain on the primary
            measure over the baseline's.
    """

    baseline: EvalReport
    candidate: EvalReport
    p_value: float

    @property
    def deltas(self) -> list[float]:
        """Candidate minus baseline on the primary measure, per query."""
        return [
            self.candidate.per_query[q][1] - before
            for q, (_, before) in self.baseline.per_query.items()
        ]

    @property
    def wins_losses_ties(self) -> tuple[int, int, int]:
        """Queries the candidate ranks better, worse and as well as the baseline."""
        wins = sum(d > 1e-12 for d in self.deltas)
        losses = sum(d < -1e-12 for d in self.deltas)
        return wins, losses, len(self.deltas) - wins - losses

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output and the model card."""
        wins, losses, ties = self.wins_losses_ties
        measures = {
            row.name: {
                "first_stage": row.first_stage,
                "baseline": row.reranked,
                "candidate": other.reranked,
                "delta": other.reranked - row.reranked,
            }
            for row, other in zip(self.baseline.rows, self.candidate.rows, strict=True)
        }
        return {
            "dataset": self.baseline.dataset,
            "first_stage": self.baseline.first_stage,
            "queries": self.baseline.queries,
            "k": self.baseline.k,
            "baseline": self.baseline.reranker,
            "candidate": self.candidate.reranker,
            "primary": self.baseline.primary,
            "measures": measures,
            "p_value": self.p_value,
            "p_value_baseline_vs_first_stage": self.baseline.p_value,
            "p_value_candidate_vs_first_stage": self.candidate.p_value,
            "wins": wins,
            "losses": losses,
            "ties": ties,
        }


def compare_reports(baseline: EvalReport, candidate: EvalReport) -> Comparison:
    """Pair two reports of the same task on its primary measure.

    Raises:
        ValueError: the reports cover other queries, measures or candidates.
    """
    same = (
        baseline.per_query.keys() == candidate.per_query.keys()
        and [r.name for r in baseline.rows] == [r.name for r in candidate.rows]
        and (baseline.k, baseline.first_stage) == (candidate.k, candidate.first_stage)
    )
    if not same:
        raise ValueError("the two reports do not measure the same queries and candidates")
    deltas = [candidate.per_query[q][1] - b for q, (_, b) in baseline.per_query.items()]
    return Comparison(baseline, candidate, paired_sign_flip_p(deltas))
