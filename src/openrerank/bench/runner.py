"""One benchmark run: every system, precision and workload, side by side in one process.

The order is fixed and sequential (never two systems at once, so they do not share the
cores): the matmul peak, openrerank's library single-stream per precision, openrerank's
server under N clients per precision, then each baseline. A system that cannot be set
up or fails is recorded as skipped with the reason, and the run goes on.

Every timed system scores one window per document (openrerank with
``max_chunks_per_doc=1``; sentence-transformers and infinity truncate), so the ratios
compare equal work. With ``BenchConfig.windowed``, openrerank's library is also timed
scoring every window (its default), reported as pairs/s beside the ratios, never in them.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from openrerank._version import __version__
from openrerank.bench import ours, st_baseline
from openrerank.bench.flops import (
    WorkloadCost,
    matmul_peak_gflops,
    windowed_cost,
    workload_cost,
)
from openrerank.bench.results import Measurement
from openrerank.bench.venvs import ensure_venv
from openrerank.bench.workloads import Workload, load_workload

logger = logging.getLogger(__name__)

BASELINES = ("sentence-transformers", "infinity")


@dataclass(frozen=True)
class BenchConfig:
    """Everything one run depends on."""

    model: str
    data_dir: Path
    out_dir: Path
    venv_dir: Path
    workloads: tuple[str, ...] = ("scifact-100", "dl19-100")
    queries: int = 5
    repeats: int = 3
    warmup: int = 1
    precisions: tuple[str, ...] = ("fp32", "int8", "bf16")
    clients: int = 32
    requests_per_client: int = 1
    baselines: tuple[str, ...] = BASELINES
    windowed: bool = True
    """Also time openrerank's library scoring every window of each document."""


@dataclass
class BenchRun:
    """The measurements of one run and the context needed to read them."""

    config: BenchConfig
    measurements: list[Measurement] = field(default_factory=list)
    costs: dict[str, WorkloadCost] = field(default_factory=dict)
    windowed_costs: dict[str, WorkloadCost] = field(default_factory=dict)
    peak_gflops: float = float("nan")
    skipped: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)


def run_bench(config: BenchConfig) -> BenchRun:
    """Measure everything ``config`` asks for; never raises for one failing system."""
    workloads = [
        load_workload(n, config.data_dir, queries=config.queries) for n in config.workloads
    ]
    run = BenchRun(config, environment=_environment())
    run.costs = {w.name: workload_cost(config.model, w) for w in workloads}
    if config.windowed:
        run.windowed_costs = {w.name: windowed_cost(config.model, w) for w in workloads}
    run.peak_gflops = matmul_peak_gflops()
    logger.info("fp32 matmul peak: %.0f GFLOP/s", run.peak_gflops)
    for precision in config.precisions:
        _attempt(
            run, f"openrerank {precision}", functools.partial(_ours, run, precision, workloads)
        )
    if "sentence-transformers" in config.baselines:
        _attempt(run, st_baseline.SYSTEM, lambda: _sentence_transformers(run, workloads))
    if "infinity" in config.baselines:
        from openrerank.bench import infinity_baseline

        for precision in config.precisions:
            if precision in infinity_baseline.PRECISIONS:
                step = functools.partial(infinity_baseline.measure, run, precision, workloads)
                _attempt(run, f"infinity {precision}", step)
    return run


def _attempt(run: BenchRun, name: str, step: Callable[[], None]) -> None:
    logger.info("measuring %s", name)
    try:
        step()
    except Exception as exc:  # one system's failure must not end the run
        logger.warning("%s skipped: %s", name, exc, exc_info=logger.isEnabledFor(logging.DEBUG))
        run.skipped.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")


def _ours(run: BenchRun, precision: str, workloads: Sequence[Workload]) -> None:
    config = run.config
    library = ours.measure_library(
        config.model,
        precision,
        workloads,
        repeats=config.repeats,
        warmup=config.warmup,
        windows_per_pass={name: cost.pairs for name, cost in run.windowed_costs.items()},
    )
    server = None
    if config.clients > 0:
        server = ours.measure_server(
            config.model,
            precision,
            workloads,
            clients=config.clients,
            requests_per_client=config.requests_per_client,
            log=config.out_dir / "logs" / f"openrerank-{precision}.log",
        )
    for w in workloads:
        run.measurements.append(
            Measurement(
                ours.SYSTEM,
                precision,
                w.name,
                library.timings[w.name],
                server.timings[w.name] if server else None,
                server.peak_rss_mb if server else None,
                library.first_scores[w.name],
                library.windowed.get(w.name),
            )
        )


def _sentence_transformers(run: BenchRun, workloads: Sequence[Workload]) -> None:
    config = run.config
    logs = config.out_dir / "logs"
    python = ensure_venv(
        config.venv_dir, "sentence-transformers", st_baseline.REQUIREMENTS, log=logs / "st-pip.log"
    )
    baseline = st_baseline.measure_sentence_transformers(
        python,
        config.model,
        workloads,
        repeats=config.repeats,
        warmup=config.warmup,
        log=logs / "sentence-transformers.log",
    )
    run.environment["sentence-transformers"] = baseline.version
    for w in workloads:
        run.measurements.append(
            Measurement(
                st_baseline.SYSTEM,
                "fp32",
                w.name,
                baseline.timings[w.name],
                None,
                baseline.peak_rss_mb,
                baseline.first_scores[w.name],
            )
        )


def _environment() -> dict[str, str]:
    return {
        "openrerank": __version__,
        "python": platform.python_version(),
        "onnxruntime": metadata.version("onnxruntime"),
        "cpu": _cpu_name(),
        "cores": str(len(os.sched_getaffinity(0))),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
