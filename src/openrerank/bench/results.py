"""What a benchmark run measured, one record per system, precision and workload."""

from __future__ import annotations

from dataclasses import dataclass

from openrerank.bench.measure import Timings


@dataclass(frozen=True)
class Windowed:
    """Single-stream timings when every window of each document is scored.

    Attributes:
        timings: per-request latencies and documents, as for one window per document.
        windows: the windows (model pairs) those timed requests scored.
    """

    timings: Timings
    windows: int

    @property
    def pairs_per_s(self) -> float:
        """Windows scored per second of wall time."""
        return self.windows / self.timings.wall_s if self.timings.wall_s > 0 else 0.0

    @property
    def windows_per_document(self) -> float:
        """Windows per document, on average."""
        return self.windows / self.timings.documents if self.timings.documents else 0.0


@dataclass(frozen=True)
class Measurement:
    """One system at one precision on one workload.

    Every system scores one window per document here (openrerank with
    ``max_chunks_per_doc=1``; the baselines truncate), so their rates compare equal work.

    Attributes:
        system: ``openrerank``, ``sentence-transformers`` or ``infinity``.
        precision: ``fp32``, ``int8`` or ``bf16``.
        workload: the workload's name.
        serial: one request at a time (latency percentiles, single-stream rate).
        concurrent: N clients at once over HTTP; None where not measured.
        peak_rss_mb: the serving process's peak resident memory, where known.
        first_scores: the scores of the workload's first request, to check that every
            system runs the same weights.
        windowed: openrerank's library with its default chunking (every window of a
            long document scored), one request at a time; more work, in no ratio.
    """

    system: str
    precision: str
    workload: str
    serial: Timings | None
    concurrent: Timings | None = None
    peak_rss_mb: float | None = None
    first_scores: tuple[float, ...] | None = None
    windowed: Windowed | None = None


def find(
    measurements: list[Measurement], system: str, precision: str, workload: str
) -> Measurement | None:
    """The record for (system, precision, workload), if measured."""
    for item in measurements:
        if (item.system, item.precision, item.workload) == (system, precision, workload):
            return item
    return None
