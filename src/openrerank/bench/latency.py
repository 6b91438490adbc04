"""Latency of ``Reranker.score`` for one query and its BM25 candidates, per backend/precision.

``openrerank bench latency`` runs this. It loads one SciFact test query and its (up to)
100 BM25 candidates and times ``Reranker.score(query, documents)`` for several
configurations in one process, side by side. Configurations are interleaved round-robin
(with a rotating start) across the repeats (`openrerank.bench.measure.time_round_robin`),
so machine noise hits them alike. The first configuration (torch fp32 by default) is the
named baseline; speed-ups are its median over each configuration's median. A
configuration that fails to load or to score is skipped and the reason logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from openrerank.bench.load import percentile
from openrerank.bench.measure import time_round_robin
from openrerank.bench.workloads import load_query
from openrerank.config import BACKENDS, PRECISIONS
from openrerank.sync import Reranker
from openrerank.types import BackendName, Precision

logger = logging.getLogger(__name__)

DEFAULT_CONFIGS = "torch-fp32,onnx-fp32,onnx-int8,torch-bf16"


@dataclass(frozen=True)
class LatencyConfig:
    """What one latency run measures."""

    model: str
    data: Path
    """The BEIR SciFact folder."""
    configs: str = DEFAULT_CONFIGS
    """Comma-separated backend-precision list; the first is the speed-up baseline."""
    device: str = "cpu"
    max_length: int | None = None
    query_id: str | None = None
    repeats: int = 30
    warmup: int = 3


@dataclass
class Run:
    """One configuration under test and what it measured."""

    name: str
    backend: BackendName
    precision: Precision
    reranker: Reranker | None = None
    samples_ms: list[float] = field(default_factory=list)
    scores: npt.NDArray[np.float64] | None = None
    error: str | None = None
    loaded: str = ""

    @property
    def active(self) -> bool:
        return self.reranker is not None and self.error is None


@dataclass(frozen=True)
class LatencyReport:
    """The rows of one run, the lines that introduce them, and the JSON report."""

    header: str
    table: str
    loaded: list[str]
    report: dict[str, Any]

    @property
    def measured(self) -> bool:
        """Whether at least one configuration was measured."""
        return any("skipped" not in row for row in self.report["results"])


def parse_configs(spec: str) -> list[Run]:
    """Turn ``"torch-fp32,onnx-int8"`` into runs, in order.

    Raises:
        ValueError: a part is not a known backend-precision pair.
    """
    runs = []
    for name in (part.strip() for part in spec.split(",")):
        backend_text, _, precision_text = name.partition("-")
        backend = next((b for b in BACKENDS if b == backend_text), None)
        precision = next((p for p in PRECISIONS if p == precision_text), None)
        if backend is None or precision is None:
            raise ValueError(
                f"bad configuration {name!r}: expected backend-precision with backend in "
                f"{BACKENDS} and precision in {PRECISIONS}"
            )
        runs.append(Run(name=name, backend=backend, precision=precision))
    return runs


def run_latency(config: LatencyConfig) -> LatencyReport:
    """Load every configuration, time them side by side and summarize.

    Raises:
        ValueError: a bad configuration list, or a query that is unknown.
    """
    runs = parse_configs(config.configs)
    query_id, query, documents = load_query(config.data, config.query_id)
    with contextlib.ExitStack() as stack:
        open_runs(runs, config, stack)
        calls = {run.name: _timer(run, query, documents) for run in runs if run.active}
        samples = time_round_robin(calls, repeats=config.repeats, warmup=config.warmup)
    for run in runs:
        run.samples_ms = samples.get(run.name, [])
    rows = [summarize(run, runs[0], len(documents)) for run in runs]
    header = (
        f"model {config.model} | device {config.device} | SciFact query {query_id} | "
        f"{len(documents)} documents | {config.repeats} repeats after {config.warmup} warm-up"
    )
    loaded = [f"- {run.name}: loaded as {run.loaded}" for run in runs if run.loaded]
    report = {
        "model": config.model,
        "device": config.device,
        "query_id": query_id,
        "n_documents": len(documents),
        "repeats": config.repeats,
        "warmup": config.warmup,
        "baseline": runs[0].name,
        "environment": environment(),
        "results": rows,
    }
    return LatencyReport(header, markdown_table(rows, runs[0].name), loaded, report)


def open_runs(runs: list[Run], config: LatencyConfig, stack: contextlib.ExitStack) -> None:
    """Load every configuration, recording why one could not be loaded."""
    for run in runs:
        try:
            reranker = Reranker(
                config.model,
                backend=run.backend,
                precision=run.precision,
                device=config.device,
                max_length=config.max_length,
            )
        except Exception as exc:  # a benchmark row, not a crash: report and go on
            skip(run, f"load failed: {type(exc).__name__}: {exc}")
            continue
        run.reranker = stack.enter_context(reranker)
        info = reranker.info
        run.loaded = f"{info.backend} {info.precision} on {info.device}, window {info.max_length}"


def skip(run: Run, reason: str) -> None:
    """Mark a configuration as skipped and say why."""
    run.error = reason
    logger.warning("skipping %s: %s", run.name, reason)


def score_once(run: Run, query: str, documents: list[str]) -> float | None:
    """Time one ``score`` call in milliseconds; None (and the run skipped) on failure."""
    assert run.reranker is not None
    try:
        start = time.perf_counter_ns()
        scores = run.reranker.score(query, documents)
        elapsed_ms = (time.perf_counter_ns() - start) / 1e6
    except Exception as exc:  # a benchmark row, not a crash: report and go on
        skip(run, f"score failed: {type(exc).__name__}: {exc}")
        return None
    if len(scores) != len(documents):
        skip(run, f"score returned {len(scores)} values for {len(documents)} documents")
        return None
    run.scores = np.asarray(scores, dtype=np.float64)
    return elapsed_ms


def _timer(run: Run, query: str, documents: list[str]) -> Callable[[], float | None]:
    return lambda: score_once(run, query, documents)


def summarize(run: Run, baseline: Run, n_docs: int) -> dict[str, Any]:
    """Median, p90, pairs/s, speed-up and score drift of one configuration."""
    row: dict[str, Any] = {"config": run.name, "backend": run.backend, "precision": run.precision}
    row["loaded"] = run.loaded
    if not run.active or not run.samples_ms:
        return row | {"skipped": run.error or "no samples"}
    median = statistics.median(run.samples_ms)
    row |= {"median_ms": median, "p90_ms": percentile(run.samples_ms, 90)}
    row["pairs_per_s"] = n_docs / (median / 1e3)
    if baseline.active and baseline.samples_ms:
        row["speedup"] = statistics.median(baseline.samples_ms) / median
    if baseline.scores is not None and run.scores is not None:
        row["max_abs_score_diff"] = float(np.max(np.abs(run.scores - baseline.scores)))
    row["samples_ms"] = run.samples_ms
    return row


def markdown_table(rows: list[dict[str, Any]], baseline_name: str) -> str:
    """Render the summary rows as a Markdown table."""
    lines = [
        "| config | median ms | p90 ms | pairs/s | speed-up | max abs score diff |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        name = row["config"] + (" (baseline)" if row["config"] == baseline_name else "")
        if "skipped" in row:
            lines.append(f"| {name} | skipped: {row['skipped']} | | | | |")
            continue
        speedup = f"{row['speedup']:.2f}x" if "speedup" in row else "n/a"
        drift = f"{row['max_abs_score_diff']:.2e}" if "max_abs_score_diff" in row else "n/a"
        lines.append(
            f"| {name} | {row['median_ms']:.1f} | {row['p90_ms']:.1f} | "
            f"{row['pairs_per_s']:.0f} | {speedup} | {drift} |"
        )
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """Facts about the machine that the numbers depend on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
    }
