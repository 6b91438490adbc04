"""The sentence-transformers baseline: ``CrossEncoder.predict`` with its defaults.

It runs in its own virtual environment (never a project dependency), through
``st_runner.py``, on the same weights and the same requests as openrerank. Its defaults
are torch fp32 with batches of 32 in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openrerank.bench.measure import Timings
from openrerank.bench.process import run_json_job
from openrerank.bench.workloads import Workload

SYSTEM = "sentence-transformers"
REQUIREMENTS = ("torch==2.13.0", "sentence-transformers==6.2.0")
RUNNER = Path(__file__).with_name("st_runner.py")
RUN_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class BaselineRun:
    """Single-stream timings and first-request scores per workload, and peak memory."""

    timings: dict[str, Timings]
    first_scores: dict[str, tuple[float, ...]]
    peak_rss_mb: float | None
    version: str


def measure_sentence_transformers(
    python: Path,
    model: str,
    workloads: Sequence[Workload],
    *,
    repeats: int,
    warmup: int,
    log: Path,
) -> BaselineRun:
    """Run the baseline in its interpreter ``python`` and read back what it measured."""
    job = {
        "model": model,
        "repeats": repeats,
        "warmup": warmup,
        "workloads": [_workload_json(w) for w in workloads],
    }
    out = run_json_job([str(python), str(RUNNER)], job, log, timeout_s=RUN_TIMEOUT_S)
    return _parse(out)


def _workload_json(workload: Workload) -> dict[str, Any]:
    requests = [{"query": r.query, "documents": list(r.documents)} for r in workload.requests]
    return {"name": workload.name, "requests": requests}


def _parse(out: dict[str, Any]) -> BaselineRun:
    timings: dict[str, Timings] = {}
    first: dict[str, tuple[float, ...]] = {}
    for name, result in out["results"].items():
        latencies = tuple(float(x) for x in result["latencies_s"])
        timings[name] = Timings(latencies, int(result["documents"]), sum(latencies))
        first[name] = tuple(float(x) for x in result["first_scores"])
    return BaselineRun(timings, first, out.get("peak_rss_mb"), str(out["version"]))
