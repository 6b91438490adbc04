"""What a benchmark run measured, one record per system, precision and workload."""

from __future__ import annotations

from dataclasses import dataclass

from openrerank.bench.measure import Timings


@dataclass(frozen=True)
class Measurement:
    """One system at one precision on one workload.

    Attributes:
        system: ``openrerank``, ``sentence-transformers`` or ``infinity``.
        precision: ``fp32``, ``int8`` or ``bf16``.
        workload: the workload's name.
        serial: one request at a time (latency percentiles, single-stream rate).
        concurrent: N clients at once over HTTP; None where not measured.
        peak_rss_mb: the serving process's peak resident memory, where known.
        first_scores: the scores of the workload's first request, to check that every
            system runs the same weights.
    """

    system: str
    precision: str
    workload: str
    serial: Timings | None
    concurrent: Timings | None = None
    peak_rss_mb: float | None = None
    first_scores: tuple[float, ...] | None = None


def find(
    measurements: list[Measurement], system: str, precision: str, workload: str
) -> Measurement | None:
    """The record for (system, precision, workload), if measured."""
    for item in measurements:
        if (item.system, item.precision, item.workload) == (system, precision, workload):
            return item
    return None
