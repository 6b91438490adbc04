"""``openrerank bench``: the benchmark tools, one subcommand each.

``compare`` (flags → BenchConfig → run → tables, JSON and a plot) lives here; the other
subcommands' flags live in ``cli/bench_*.py``. Each checks the ``bench`` extra, then
hands its flags to a tool in `openrerank.bench`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from openrerank.bench import REFERENCE_MODEL
from openrerank.bench.workloads import WORKLOADS
from openrerank.cli.bench_latency import http_latency, latency
from openrerank.cli.bench_llm import llm, random_llm
from openrerank.cli.bench_long_documents import long_documents
from openrerank.cli.bench_reliability import reliability
from openrerank.cli.bench_scaling import scaling
from openrerank.cli.extras import needs_extra
from openrerank.config import default_cache_dir

PRECISIONS = ("fp32", "int8", "bf16")

bench_app = typer.Typer(
    help="Benchmarks: side by side with the baselines, latency, long documents, reliability.",
    no_args_is_help=True,
)


@bench_app.command()
@needs_extra("bench compare", "bench")
def compare(  # noqa: PLR0913 - each flag is one documented option
    model: Annotated[
        str, typer.Option(help="Model to benchmark (hub id or local directory).")
    ] = REFERENCE_MODEL,
    data: Annotated[
        Path,
        typer.Option(
            envvar="OPENRERANK_BENCH_DATA",
            help="Folder with beir-scifact/ and trec-dl-2019-passage/.",
        ),
    ] = Path("../shared/data"),
    workload: Annotated[
        list[str] | None, typer.Option(help=f"Workloads (repeatable): {', '.join(WORKLOADS)}.")
    ] = None,
    queries: Annotated[int, typer.Option(min=1, help="Requests (queries) per workload.")] = 5,
    repeats: Annotated[int, typer.Option(min=1, help="Timed passes over each workload.")] = 3,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed requests before timing.")] = 1,
    precision: Annotated[
        list[str] | None, typer.Option(help="openrerank precisions (repeatable): fp32, int8, bf16.")
    ] = None,
    clients: Annotated[
        int, typer.Option(min=0, help="Concurrent HTTP clients (0 = no server load test).")
    ] = 32,
    requests_per_client: Annotated[
        int, typer.Option(min=1, help="Requests each client sends.")
    ] = 1,
    baseline: Annotated[
        list[str] | None,
        typer.Option(help="Baselines (repeatable): sentence-transformers, infinity, or none."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for results.md/.json and the plot.")] = Path(
        "bench-results"
    ),
    venv_dir: Annotated[
        Path | None, typer.Option(help="Where the baselines' virtual environments live.")
    ] = None,
) -> None:
    """Benchmark openrerank against sentence-transformers and infinity, side by side."""
    from openrerank.bench.report import markdown, write
    from openrerank.bench.runner import BASELINES, BenchConfig, run_bench

    config = BenchConfig(
        model=model,
        data_dir=data,
        out_dir=out,
        venv_dir=venv_dir or default_cache_dir() / "bench-venvs",
        workloads=_choices(workload, tuple(WORKLOADS), "--workload"),
        queries=queries,
        repeats=repeats,
        warmup=warmup,
        precisions=_choices(precision, PRECISIONS, "--precision"),
        clients=clients,
        requests_per_client=requests_per_client,
        baselines=() if baseline == ["none"] else _choices(baseline, BASELINES, "--baseline"),
    )
    if not data.is_dir():
        raise typer.BadParameter(f"{data} is not a folder", param_hint="--data")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    run = run_bench(config)
    typer.echo(markdown(run))
    for path in write(run, out):
        typer.echo(f"wrote {path}")


def _choices(given: list[str] | None, allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    if not given:
        return allowed
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise typer.BadParameter(
            f"unknown {unknown}; choose from {', '.join(allowed)}", param_hint=flag
        )
    return tuple(dict.fromkeys(given))


bench_app.command()(latency)
bench_app.command("http-latency")(http_latency)
bench_app.command("long-documents")(long_documents)
bench_app.command()(reliability)
bench_app.command()(llm)
bench_app.command("random-llm")(random_llm)
bench_app.command()(scaling)
