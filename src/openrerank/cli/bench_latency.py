"""``openrerank bench latency`` and ``openrerank bench http-latency``: one query, timed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from openrerank.bench import REFERENCE_MODEL
from openrerank.cli.choices import AUTO, FP32, BackendChoice, PrecisionChoice
from openrerank.cli.extras import needs_extra

if TYPE_CHECKING:
    from openrerank.types import BackendName, Precision

ModelOption = Annotated[str, typer.Option(help="Model id or local directory.")]
DatasetOption = Annotated[Path, typer.Option(help="BEIR SciFact folder (with its BM25 run).")]
JsonOption = Annotated[Path | None, typer.Option("--json", help="Also write the results here.")]
SCIFACT = Path("../shared/data/beir-scifact")


@needs_extra("bench latency", "bench")
def latency(  # noqa: PLR0913 - each flag is one documented option
    model: ModelOption = REFERENCE_MODEL,
    dataset: DatasetOption = SCIFACT,
    configs: Annotated[
        str,
        typer.Option(help="Comma-separated backend-precision list; the first is the baseline."),
    ] = "torch-fp32,onnx-fp32,onnx-int8,torch-bf16",
    device: Annotated[str, typer.Option(help="Device for every configuration.")] = "cpu",
    max_length: Annotated[int | None, typer.Option(help="Token window override.")] = None,
    query_id: Annotated[
        str | None, typer.Option(help="SciFact test query id (default: first with 100).")
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timed calls per configuration.")] = 30,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed calls per configuration.")] = 3,
    json_path: JsonOption = None,
) -> None:
    """Latency of Reranker.score per backend/precision on one query, side by side.

    The configurations are interleaved round-robin; exits 1 when none could be measured.
    """
    from openrerank.bench.latency import LatencyConfig, run_latency

    config = LatencyConfig(
        model=model, data=dataset, configs=configs, device=device, max_length=max_length,
        query_id=query_id, repeats=repeats, warmup=warmup,
    )  # fmt: skip
    try:
        report = run_latency(config)
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(report.header + "\n")
    typer.echo(report.table)
    for line in report.loaded:
        typer.echo(line)
    if json_path is not None:
        _write_json(json_path, report.report)
    if not report.measured:
        raise typer.Exit(1)


@needs_extra("bench http-latency", "bench")
def http_latency(  # noqa: PLR0913 - each flag is one documented option
    model: ModelOption = REFERENCE_MODEL,
    dataset: DatasetOption = SCIFACT,
    backend: Annotated[BackendChoice, typer.Option(help="Runtime; auto = onnx on CPU.")] = AUTO,
    precision: Annotated[
        PrecisionChoice, typer.Option(help="int8 needs onnx; fp16/bf16 need torch.")
    ] = FP32,
    repeats: Annotated[int, typer.Option(min=1, help="Timed calls of each.")] = 15,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed calls of each.")] = 2,
    json_path: JsonOption = None,
    log: Annotated[Path, typer.Option(help="Where the server's output goes.")] = Path(
        "bench/results/logs/http-latency-server.log"
    ),
) -> None:
    """One v2 rerank request over HTTP to a real server next to the library's same call."""
    from openrerank.bench.http_latency import HttpLatencyConfig, run_http_latency

    config = HttpLatencyConfig(
        model=model,
        data=dataset,
        backend=cast("BackendName", backend.value),
        precision=cast("Precision", precision.value),
        repeats=repeats,
        warmup=warmup,
        log=log,
    )
    try:
        report = run_http_latency(config)
    except (RuntimeError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(report, indent=2))
    if json_path is not None:
        _write_json(json_path, report)


def _write_json(path: Path, report: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
