"""``openrerank bench reliability``: flags → ReliabilityConfig → run → report and exit code."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from openrerank.bench import REFERENCE_MODEL
from openrerank.cli.extras import needs_extra

if TYPE_CHECKING:
    from openrerank.bench.reliability_config import ReliabilityConfig

Seconds = Annotated[float, typer.Option(min=0.0)]


class Mode(StrEnum):
    """What ``reliability`` runs."""

    load = "load"
    soak = "soak"


@needs_extra("bench reliability", "bench")
def reliability(  # noqa: PLR0913 - each flag is one documented option
    mode: Annotated[
        Mode, typer.Option(help="load (four phases) or soak (memory growth).")
    ] = Mode.load,
    model: Annotated[
        str, typer.Option(help="Served model: hub id or local folder.")
    ] = REFERENCE_MODEL,
    shared: Annotated[Path, typer.Option(help="Folder with hf-cache/ and data/.")] = Path(
        "../shared"
    ),
    payloads: Annotated[
        Path | None, typer.Option(help="JSON list of /v2/rerank bodies instead of SciFact.")
    ] = None,
    queries: Annotated[int, typer.Option(min=1, help="SciFact queries to cycle through.")] = 300,
    documents: Annotated[int, typer.Option(min=1, help="BM25 candidates per request.")] = 20,
    clients: Annotated[int, typer.Option(min=1, help="Closed-loop clients (load mode).")] = 64,
    warmup: Annotated[float, typer.Option(min=0.0, help="Warm-up seconds (load mode).")] = 5.0,
    load_duration: Seconds = 60.0,
    overload_duration: Seconds = 30.0,
    overload_factor: Annotated[
        float, typer.Option(min=0.0, help="x the load phase's 200s per s.")
    ] = 4.0,
    max_outstanding: Annotated[
        int, typer.Option(min=1, help="Open-loop requests in flight.")
    ] = 2000,
    recovery_duration: Seconds = 20.0,
    soak_clients: Annotated[int, typer.Option(min=1)] = 16,
    soak_duration: Seconds = 600.0,
    soak_warmup: Annotated[
        float, typer.Option(min=0.0, help="Soak seconds before the baseline.")
    ] = 60.0,
    soak_window: Annotated[
        float, typer.Option(min=0.0, help="Seconds of each RSS median window.")
    ] = 60.0,
    max_rss_growth: Annotated[float, typer.Option(help="Soak claim: growth below this.")] = 0.05,
    rss_interval: Annotated[
        float | None, typer.Option(help="RSS sampling period (default 0.5 s load, 1 s soak).")
    ] = None,
    max_queue_wait: Annotated[float, typer.Option(help="Passed to serve when it has it.")] = 2.0,
    server_arg: Annotated[
        list[str] | None, typer.Option(help="Extra serve flags (shell-split, repeatable).")
    ] = None,
    request_timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 120.0,
    drain: Annotated[
        float, typer.Option(help="Seconds for in-flight requests at a deadline.")
    ] = 60.0,
    require_429: Annotated[
        bool,
        typer.Option("--require-429/--no-require-429", help="Fail when overload sees no 429."),
    ] = True,
    honor_retry_after: Annotated[
        bool,
        typer.Option(help="Closed-loop clients wait out a 429's Retry-After (open loops never)."),
    ] = True,
    ready_timeout: Seconds = 600.0,
    out: Annotated[Path, typer.Option(help="Folder for reliability-<mode>.json/.md.")] = Path(
        "bench/results"
    ),
) -> None:
    """Load, overload, recovery (or a soak) of a real `openrerank serve` on 127.0.0.1.

    Exits 1 naming each claim that failed.
    """
    from openrerank.bench.reliability_config import ReliabilityConfig

    config = ReliabilityConfig(
        mode=mode.value,
        model=model,
        shared=shared,
        payloads=payloads,
        queries=queries,
        documents=documents,
        clients=clients,
        warmup=warmup,
        load_duration=load_duration,
        overload_duration=overload_duration,
        overload_factor=overload_factor,
        max_outstanding=max_outstanding,
        recovery_duration=recovery_duration,
        soak_clients=soak_clients,
        soak_duration=soak_duration,
        soak_warmup=soak_warmup,
        soak_window=soak_window,
        max_rss_growth=max_rss_growth,
        rss_interval=rss_interval,
        max_queue_wait=max_queue_wait,
        server_args=tuple(server_arg or ()),
        request_timeout=request_timeout,
        drain=drain,
        require_429=require_429,
        honor_retry_after=honor_retry_after,
        ready_timeout=ready_timeout,
        out=out,
    )
    _run(config)


def _run(config: ReliabilityConfig) -> None:
    from openrerank.bench.reliability import run_reliability

    try:
        outcome = run_reliability(config, lambda line: typer.echo(line))
    except RuntimeError as exc:  # the server never got ready; the message has its log
        typer.echo(f"FAILED: the server did not start: {exc}", err=True)
        raise typer.Exit(1) from None
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(outcome.markdown)
    for check in outcome.failed:
        typer.echo(f"FAILED: {check.claim}: {check.detail}", err=True)
    if outcome.failed:
        raise typer.Exit(1)
