"""The throughput plot: documents per second per system and precision, per workload."""

from __future__ import annotations

import logging
from pathlib import Path

from openrerank.bench.runner import BenchRun

logger = logging.getLogger(__name__)


def plot_throughput(run: BenchRun, path: Path) -> Path | None:
    """Bars of single-stream and concurrent docs/s; None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed (pip install 'openrerank[bench]'); no plot")
        return None
    workloads = list(dict.fromkeys(m.workload for m in run.measurements))
    figure, _ = plt.subplots(1, max(len(workloads), 1), figsize=(6 * len(workloads), 4.5))
    for axis, workload in zip(figure.axes, workloads, strict=False):
        rows = [m for m in run.measurements if m.workload == workload]
        labels = [_label(m.system, m.precision) for m in rows]
        serial = [m.serial.docs_per_s if m.serial else 0.0 for m in rows]
        concurrent = [m.concurrent.docs_per_s if m.concurrent else 0.0 for m in rows]
        positions = range(len(rows))
        axis.bar([p - 0.2 for p in positions], serial, 0.4, label="1 stream")
        axis.bar(
            [p + 0.2 for p in positions], concurrent, 0.4, label=f"{run.config.clients} clients"
        )
        axis.set_xticks(list(positions), labels, fontsize=7)
        axis.set_title(workload)
        axis.set_ylabel("documents / second")
        axis.legend(fontsize=8)
    figure.suptitle(f"{run.config.model} on {run.environment.get('cores', '?')} cores")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _label(system: str, precision: str) -> str:
    """Two or three short lines: long names break after their hyphen."""
    return "\n".join([*system.replace("-", "-\n").split("\n"), precision])
