"""The per-query plot of an evaluation: reranked minus first stage on the primary measure."""

from __future__ import annotations

import logging
from pathlib import Path

from openrerank.eval.runner import EvalReport

logger = logging.getLogger(__name__)


def plot_deltas(report: EvalReport, path: Path) -> Path | None:
    """Write a PNG of per-query deltas, sorted; ``None`` when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed (pip install 'openrerank[eval]'); no plot")
        return None
    deltas = sorted(after - before for before, after in report.per_query.values())
    colors = ["tab:green" if d > 0 else "tab:red" if d < 0 else "tab:gray" for d in deltas]
    figure, axis = plt.subplots(figsize=(9, 4.5))
    axis.bar(range(len(deltas)), deltas, width=1.0, color=colors)
    axis.axhline(0.0, color="black", linewidth=0.8)
    wins, losses, ties = report.wins_losses_ties
    mean = sum(deltas) / len(deltas)
    axis.set_title(
        f"{report.dataset}: {report.reranker} vs {report.first_stage} (top {report.k})\n"
        f"{report.primary} mean delta {mean:+.4f}, p = {report.p_value:.3g}; "
        f"{wins} better, {losses} worse, {ties} equal",
        fontsize=9,
    )
    axis.set_xlabel(f"queries, sorted by delta ({report.queries})")
    axis.set_ylabel(f"{report.primary}: reranked - first stage")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
