"""A benchmark run as markdown tables, JSON and a PNG plot.

Ratios are computed from measurements of the same run: speed-up over the
sentence-transformers fp32 baseline, concurrent throughput over the same engine's
single-stream throughput, and openrerank over infinity at the same precision. They
compare equal work: every system scores one window per document. openrerank's default,
every window of a long document, is reported beside them as pairs/s, in no ratio.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from openrerank.bench.results import Measurement, find
from openrerank.bench.runner import BenchRun

BASELINE = ("sentence-transformers", "fp32")
EQUAL_WORK = (
    "Equal work: every row, here and under concurrent clients, scores one window per "
    "document (openrerank with `max_chunks_per_doc=1`, in the library and over HTTP "
    "`/v1/rerank`; sentence-transformers and infinity truncate each pair to the model "
    "window), so the docs/s, ratios, GFLOP/s and score deltas compare the same pairs."
)


def markdown(run: BenchRun) -> str:
    """The run's tables and context, as markdown."""
    config = run.config
    lines = [
        f"Model `{config.model}`; {config.queries} queries per workload, "
        f"{config.repeats} timed passes after {config.warmup} warm-up request(s); "
        f"{config.clients} concurrent HTTP clients, {config.requests_per_client} request(s) each.",
        "",
        "Environment: " + ", ".join(f"{k} {v}" for k, v in run.environment.items()) + ".",
        f"Measured fp32 matmul peak of these cores: **{run.peak_gflops:.0f} GFLOP/s**.",
        "",
        "### Single stream (one request of 100 documents at a time)",
        "",
        "| workload | system | precision | p50 ms | p95 ms | docs/s | vs ST fp32 "
        "| GFLOP/s | of fp32 peak | max abs Δ vs ours fp32 | windowed pairs/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_serial_row(run, m) for m in run.measurements if m.serial is not None]
    lines += ["", EQUAL_WORK, *_windowed_note(run)]
    lines += [
        "",
        f"### {config.clients} concurrent clients over HTTP",
        "",
        "| workload | system | precision | docs/s | p50 ms | p99 ms | errors "
        "| vs own single stream | vs infinity | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_concurrent_row(run, m) for m in run.measurements if m.concurrent is not None]
    if run.skipped:
        lines += ["", "Skipped:", *(f"- {reason}" for reason in run.skipped)]
    return "\n".join(lines) + "\n"


def _serial_row(run: BenchRun, m: Measurement) -> str:
    assert m.serial is not None
    baseline = find(run.measurements, *BASELINE, m.workload)
    speedup = _ratio(
        m.serial.docs_per_s, baseline.serial.docs_per_s if baseline and baseline.serial else None
    )
    cost = run.costs.get(m.workload)
    gflops = cost.flops / cost.pairs * m.serial.docs_per_s / 1e9 if cost else float("nan")
    reference = find(run.measurements, "openrerank", "fp32", m.workload)
    delta = _max_delta(m.first_scores, reference.first_scores if reference else None)
    cells = [
        m.workload,
        m.system,
        m.precision,
        f"{m.serial.percentile_ms(50):.0f}",
        f"{m.serial.percentile_ms(95):.0f}",
        f"{m.serial.docs_per_s:.1f}",
        speedup,
        f"{gflops:.0f}",
        f"{gflops / run.peak_gflops:.0%}",
        delta,
        _windowed_cell(m),
    ]
    return "| " + " | ".join(cells) + " |"


def _windowed_cell(m: Measurement) -> str:
    if m.windowed is None:
        return "-"
    return f"{m.windowed.pairs_per_s:.1f} ({m.windowed.windows_per_document:.2f} windows/doc)"


def _windowed_note(run: BenchRun) -> list[str]:
    if not any(m.windowed for m in run.measurements):
        return []
    return [
        "",
        "The windowed pairs/s column is openrerank's library with its default chunking: "
        "every window of a long document scored (windows per document in brackets), "
        "timed once more after the one-window passes, as window pairs per second. It is "
        "more work per document than the baselines do and is not used in any ratio.",
    ]


def _concurrent_row(run: BenchRun, m: Measurement) -> str:
    assert m.concurrent is not None
    own = m.serial.docs_per_s if m.serial else None
    infinity = find(run.measurements, "infinity", m.precision, m.workload)
    versus = (
        _ratio(m.concurrent.docs_per_s, infinity.concurrent.docs_per_s)
        if m.system != "infinity" and infinity and infinity.concurrent
        else "-"
    )
    cells = [
        m.workload,
        m.system,
        m.precision,
        f"{m.concurrent.docs_per_s:.1f}",
        f"{m.concurrent.percentile_ms(50):.0f}",
        f"{m.concurrent.percentile_ms(99):.0f}",
        str(m.concurrent.errors),
        _ratio(m.concurrent.docs_per_s, own),
        versus,
        f"{m.peak_rss_mb:.0f}" if m.peak_rss_mb is not None else "-",
    ]
    return "| " + " | ".join(cells) + " |"


def _ratio(value: float, baseline: float | None) -> str:
    return f"{value / baseline:.2f}x" if baseline else "-"


def _max_delta(scores: tuple[float, ...] | None, reference: tuple[float, ...] | None) -> str:
    if not scores or not reference or len(scores) != len(reference):
        return "-"
    return f"{max(abs(a - b) for a, b in zip(scores, reference, strict=True)):.1e}"


def to_json(run: BenchRun) -> dict[str, Any]:
    """The run as plain data (every latency included), for later analysis."""
    return {
        "config": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in dataclasses.asdict(run.config).items()
        },
        "environment": run.environment,
        "peak_gflops": run.peak_gflops,
        "costs": {k: dataclasses.asdict(v) for k, v in run.costs.items()},
        "measurements": [dataclasses.asdict(m) for m in run.measurements],
        "skipped": run.skipped,
    }


def write(run: BenchRun, out_dir: Path) -> list[Path]:
    """Write ``results.md``, ``results.json`` and ``throughput.png`` (if matplotlib is there)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "results.md", out_dir / "results.json"]
    written[0].write_text(markdown(run), encoding="utf-8")
    written[1].write_text(json.dumps(to_json(run), indent=1, default=_finite), encoding="utf-8")
    from openrerank.bench.plot import plot_throughput

    png = plot_throughput(run, out_dir / "throughput.png")
    return [*written, *([png] if png else [])]


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
