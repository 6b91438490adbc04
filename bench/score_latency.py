"""Latency of ``Reranker.score`` for one query and its BM25 candidates, per backend/precision.

Loads one SciFact test query and its (up to) 100 BM25 candidates from the shared data
folder and times ``Reranker.score(query, documents)`` for several configurations in one
process, side by side. Configurations are interleaved round-robin (with a rotating start)
across the repeats, so machine noise hits them alike. torch fp32 is the named baseline;
speed-ups are its median over each configuration's median. A configuration that fails to
load or to score is skipped and the reason printed.

Usage::

    .venv/bin/python bench/score_latency.py [--repeats N] [--warmup N] [--query-id ID]
        [--model NAME] [--data DIR] [--device cpu] [--configs torch-fp32,onnx-int8]
        [--json bench/results/score_latency.json]
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"

# The hub must be off (and the cache chosen) before openrerank or huggingface_hub is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_CACHE", str(SHARED_DIR / "hf-cache"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from openrerank import Reranker  # noqa: E402
from openrerank.config import BACKENDS, PRECISIONS  # noqa: E402
from openrerank.eval.datasets import load_beir  # noqa: E402
from openrerank.types import BackendName, Precision  # noqa: E402

DEFAULT_MODEL = "openrerank/minilm-l6-scifact-ce"
DEFAULT_DATA = SHARED_DIR / "data" / "beir-scifact"
DEFAULT_CONFIGS = "torch-fp32,onnx-fp32,onnx-int8,torch-bf16"


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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per configuration")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per configuration")
    parser.add_argument("--query-id", help="SciFact test query id (default: first with 100)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model id or local directory")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR SciFact folder")
    parser.add_argument("--device", default="cpu", help="device for every configuration")
    parser.add_argument("--max-length", type=int, default=None, help="token window override")
    parser.add_argument(
        "--configs",
        default=DEFAULT_CONFIGS,
        help="comma-separated backend-precision list; the first is the speed-up baseline",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")
    return args


def parse_configs(spec: str) -> list[Run]:
    """Turn ``"torch-fp32,onnx-int8"`` into runs, in order."""
    runs = []
    for name in (part.strip() for part in spec.split(",")):
        backend_text, _, precision_text = name.partition("-")
        backend = next((b for b in BACKENDS if b == backend_text), None)
        precision = next((p for p in PRECISIONS if p == precision_text), None)
        if backend is None or precision is None:
            raise SystemExit(
                f"bad configuration {name!r}: expected backend-precision with backend in "
                f"{BACKENDS} and precision in {PRECISIONS}"
            )
        runs.append(Run(name=name, backend=backend, precision=precision))
    return runs


def load_query(data: Path, query_id: str | None) -> tuple[str, str, list[str]]:
    """Return (query id, query text, candidate texts in BM25 order)."""
    dataset = load_beir(data)
    if query_id is None:
        ranked = (q for q in dataset.queries if len(dataset.candidates.get(q, ())) >= 100)
        query_id = next(ranked, None) or next(iter(dataset.candidates))
    if query_id not in dataset.queries or not dataset.candidates.get(query_id):
        raise SystemExit(f"query {query_id!r} is unknown or has no candidates in {data}")
    return query_id, dataset.queries[query_id], dataset.candidate_texts(query_id)


def open_runs(runs: list[Run], args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """Load every configuration, recording why one could not be loaded."""
    for run in runs:
        try:
            reranker = Reranker(
                args.model,
                backend=run.backend,
                precision=run.precision,
                device=args.device,
                max_length=args.max_length,
            )
        except Exception as exc:  # a benchmark row, not a crash: report and go on
            skip(run, f"load failed: {type(exc).__name__}: {exc}")
            continue
        run.reranker = stack.enter_context(reranker)
        info = reranker.info
        run.loaded = f"{info.backend} {info.precision} on {info.device}, window {info.max_length}"


def skip(run: Run, reason: str) -> None:
    """Mark a configuration as skipped and say why on stderr."""
    run.error = reason
    print(f"skipping {run.name}: {reason}", file=sys.stderr)


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


def measure(runs: list[Run], query: str, documents: list[str], args: argparse.Namespace) -> None:
    """Warm up, then time the configurations round-robin, rotating who goes first."""
    for round_index in range(args.warmup + args.repeats):
        shift = round_index % len(runs)
        for run in runs[shift:] + runs[:shift]:
            if not run.active:
                continue
            elapsed_ms = score_once(run, query, documents)
            if elapsed_ms is not None and round_index >= args.warmup:
                run.samples_ms.append(elapsed_ms)


def summarize(run: Run, baseline: Run, n_docs: int) -> dict[str, Any]:
    """Median, p90, pairs/s, speed-up and score drift of one configuration."""
    row: dict[str, Any] = {"config": run.name, "backend": run.backend, "precision": run.precision}
    row["loaded"] = run.loaded
    if not run.active or not run.samples_ms:
        return row | {"skipped": run.error or "no samples"}
    median = statistics.median(run.samples_ms)
    row |= {"median_ms": median, "p90_ms": percentile_90(run.samples_ms)}
    row["pairs_per_s"] = n_docs / (median / 1e3)
    if baseline.active and baseline.samples_ms:
        row["speedup"] = statistics.median(baseline.samples_ms) / median
    if baseline.scores is not None and run.scores is not None:
        row["max_abs_score_diff"] = float(np.max(np.abs(run.scores - baseline.scores)))
    row["samples_ms"] = run.samples_ms
    return row


def percentile_90(samples: list[float]) -> float:
    """The 90th percentile (inclusive method; the value itself for one sample)."""
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; returns the process exit status."""
    args = parse_args(argv)
    runs = parse_configs(args.configs)
    query_id, query, documents = load_query(args.data, args.query_id)
    with contextlib.ExitStack() as stack:
        open_runs(runs, args, stack)
        measure(runs, query, documents, args)
    rows = [summarize(run, runs[0], len(documents)) for run in runs]
    print(
        f"model {args.model} | device {args.device} | SciFact query {query_id} | "
        f"{len(documents)} documents | {args.repeats} repeats after {args.warmup} warm-up\n"
    )
    print(markdown_table(rows, runs[0].name))
    for run in runs:
        if run.loaded:
            print(f"- {run.name}: loaded as {run.loaded}")
    if args.json is not None:
        report = {
            "model": args.model,
            "device": args.device,
            "query_id": query_id,
            "n_documents": len(documents),
            "repeats": args.repeats,
            "warmup": args.warmup,
            "baseline": runs[0].name,
            "environment": environment(),
            "results": rows,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if any("skipped" not in row for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
