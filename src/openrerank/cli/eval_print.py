"""Printing ``openrerank eval`` and ``openrerank calibrate`` reports as rich tables."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from openrerank.eval.calibrate import CalibrationFit, ReliabilityCheck, ScoreReliability
from openrerank.eval.fitting import Reliability, ThresholdRow
from openrerank.eval.runner import EvalReport


def print_report(report: EvalReport, scores: ScoreReliability) -> None:
    console = Console()
    table = Table(
        "measure",
        f"first stage ({report.first_stage})",
        "reranked",
        "delta",
        title=f"{report.dataset}: {report.queries} queries, top {report.k}, {report.reranker}",
    )
    for row in report.rows:
        table.add_row(
            row.name, f"{row.first_stage:.4f}", f"{row.reranked:.4f}", f"{row.delta:+.4f}"
        )
    console.print(table)
    wins, losses, ties = report.wins_losses_ties
    console.print(
        f"{report.primary} per query: {wins} better, {losses} worse, {ties} equal; "
        f"paired sign-flip p = {report.p_value:.3g}. {report.relevance_rule.capitalize()}; "
        f"{report.with_candidates} queries had candidates, {report.pairs} pairs in "
        f"{report.seconds:.1f} s."
    )
    _print_reliability(console, scores)


def _print_reliability(console: Console, scores: ScoreReliability) -> None:
    table = Table("scores", "ECE", "Brier", "log-loss", "pairs", "relevant", title="reliability")
    for name, values in scores.scores:
        table.add_row(name, *_figures(values), str(values.pairs), str(values.positives))
    console.print(table)
    if scores.thresholds is not None:
        _print_thresholds(console, list(scores.thresholds))


def _print_thresholds(console: Console, rows: list[ThresholdRow], title: str = "") -> None:
    table = Table(
        "threshold", "kept", "precision", "recall", "queries with none kept", title=title or None
    )
    for row in rows:
        precision = "-" if row.precision is None else f"{row.precision:.3f}"
        recall = "-" if row.recall is None else f"{row.recall:.3f}"
        table.add_row(
            f">= {row.threshold:.2f}",
            f"{row.kept:.3f}",
            precision,
            recall,
            f"{row.queries_with_none_kept:.3f}",
        )
    console.print(table)


def print_fit(fitted: CalibrationFit, out: Path) -> None:
    console = Console()
    losses = ", ".join(f"{m} {v:.4f}" for m, v in fitted.choice.cv_log_loss.items())
    console.print(
        f"fitted {fitted.calibration.method} on {fitted.fit_queries} queries "
        f"({fitted.fit_pairs} pairs, {fitted.fit_positives} relevant); "
        f"{fitted.choice.folds}-fold cross-validated log-loss: {losses}"
    )
    _print_check(console, fitted.held_out)
    console.print(f"wrote {out}: serve it with `openrerank serve --calibration {out}`")


def _print_check(console: Console, check: ReliabilityCheck) -> None:
    table = Table("scores", "ECE", "Brier", "log-loss", title=f"held-out queries ({check.queries})")
    for name, values in (("model sigmoid", check.before), ("calibrated", check.after)):
        table.add_row(name, *_figures(values))
    console.print(table)
    _print_thresholds(console, list(check.thresholds), "calibrated thresholds, held-out queries")


def _figures(values: Reliability) -> tuple[str, str, str]:
    return f"{values.ece:.4f}", f"{values.brier:.4f}", f"{values.log_loss:.4f}"
