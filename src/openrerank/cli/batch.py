"""``openrerank batch``: rank a file of rows (or a BEIR folder plus a run) offline.

Locally the rows stream through one engine; with ``--ray`` they run as a Ray Data
pipeline on a pool of actors (:mod:`openrerank.cluster.data`). Either way a rerun with the
same output resumes after the rows already written. This module imports only what
``--help`` needs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from openrerank.cli.extras import (
    exit_code,
    fail_missing,
    missing_requirements,
    needs_extra,
)
from openrerank.cli.settings import (
    MODEL_OPTIONS,
    MaxChunksPerDocOption,
    MaxTokensPerDocOption,
    model_config,
    with_options,
)
from openrerank.config import DEFAULT_MODEL, EngineConfig

if TYPE_CHECKING:
    from openrerank.batch.job import JobSummary
    from openrerank.batch.sources import RowSource
    from openrerank.cluster.data import RayPlan
    from openrerank.types import DocumentOptions


class BarProgress:
    """A rich progress bar: rows done of the input, pairs/s, elapsed time and ETA."""

    def __init__(self, console: Console, hidden: bool) -> None:
        columns = (
            TextColumn("[bold]rerank"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TextColumn("{task.fields[rate]} pairs/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self._bar = Progress(*columns, console=console, disable=hidden)
        self._task = self._bar.add_task("rerank", total=None, rate="-")
        self._pairs = 0
        self._started = time.monotonic()

    def start(self, total: int, already_done: int) -> None:
        self._bar.start()
        self._bar.update(self._task, total=total, completed=min(already_done, total))
        self._started = time.monotonic()

    def advance(self, rows: int, pairs: int) -> None:
        self._pairs += pairs
        elapsed = time.monotonic() - self._started
        rate = f"{self._pairs / elapsed:,.0f}" if elapsed > 0 else "-"
        self._bar.update(self._task, advance=rows, rate=rate)

    def stop(self) -> None:
        """Stop drawing; safe to call twice."""
        if self._bar.live.is_started:
            self._bar.stop()


def _source(input_path: Path | None, beir: Path | None, run: Path | None, split: str) -> RowSource:
    from openrerank.batch.sources import BeirSource, FileSource

    if (input_path is None) == (beir is None):
        raise typer.BadParameter("give either --input FILE or --beir FOLDER --run FILE")
    if beir is not None:
        if run is None:
            raise typer.BadParameter("--beir needs --run FILE (a TSV or TREC run)")
        return BeirSource(beir, run, split)
    assert input_path is not None
    if not input_path.is_file():
        raise typer.BadParameter(f"{input_path}: no such file")
    return FileSource(input_path)


@needs_extra("batch", "batch")
@with_options(MODEL_OPTIONS, envvars=False)
def batch(  # noqa: PLR0913 - one documented flag each
    output: Annotated[
        Path, typer.Option(help="Results: .jsonl, .parquet, or .trec (a TREC run; BEIR input).")
    ],
    input_path: Annotated[
        Path | None,
        typer.Option(
            "--input", help='JSONL or Parquet rows {"id", "query", "documents", "top_n"?}.'
        ),
    ] = None,
    beir: Annotated[
        Path | None, typer.Option(help="A BEIR-layout folder (instead of --input), with --run.")
    ] = None,
    run: Annotated[
        Path | None, typer.Option(help="With --beir: the candidates, a TSV or TREC run file.")
    ] = None,
    split: Annotated[str, typer.Option(help="With --beir: the qrels/<split>.tsv read.")] = "test",
    model: Annotated[
        str,
        typer.Option(envvar="OPENRERANK_MODEL", help="Hugging Face model id or local directory."),
    ] = DEFAULT_MODEL,
    max_tokens_per_doc: MaxTokensPerDocOption = None,
    max_chunks_per_doc: MaxChunksPerDocOption = None,
    errors: Annotated[
        Path | None,
        typer.Option(help="Write refused rows here as JSONL and go on (default: stop at one)."),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS|local",
            help="Run on Ray Data: 'local' starts a private Ray here; an address joins a "
            "cluster (needs the ray extra).",
        ),
    ] = None,
    actors: Annotated[int, typer.Option(min=1, help="With --ray: engines (actors).")] = 1,
    cpus_per_actor: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            help="With --ray: CPUs each actor reserves, and its model threads unless "
            "--threads; default: this machine's cores / --actors with 'local', else 1.",
        ),
    ] = None,
    gpus_per_actor: Annotated[
        float, typer.Option(min=0, help="With --ray: GPUs each actor reserves.")
    ] = 0.0,
    rows_per_batch: Annotated[
        int, typer.Option(min=1, help="With --ray: rows per block sent to an actor.")
    ] = 16,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    **settings: Any,
) -> None:
    """Rank every row of a file (or every query of a BEIR run) into a results file.

    Resumes: rerun with the same --output and the ids already written are skipped.
    """
    from openrerank.batch.rows import RowError
    from openrerank.errors import RerankError

    source = _source(input_path, beir, run, split)
    options: DocumentOptions = {
        "max_tokens_per_doc": max_tokens_per_doc,
        "max_chunks_per_doc": max_chunks_per_doc,
    }
    console = Console(stderr=True)
    progress = BarProgress(console, hidden=quiet)
    try:
        engine = EngineConfig(model=model_config(model, settings))
        if ray is None:
            summary = _run_local(source, output, engine, options, errors, progress)
        else:
            plan = _plan(ray, actors, cpus_per_actor, gpus_per_actor, rows_per_batch)
            summary = _run_ray(source, output, engine, options, plan, errors, progress)
    except (RowError, RerankError, OSError, ValueError, RuntimeError) as exc:
        progress.stop()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exit_code(exc, RowError)) from None
    finally:
        progress.stop()  # also on Ctrl-C: what was written stays, a rerun resumes
    _report(output, summary)


def _run_local(
    source: RowSource,
    output: Path,
    engine: EngineConfig,
    options: DocumentOptions,
    errors: Path | None,
    progress: BarProgress,
) -> JobSummary:
    from openrerank.batch.job import run_job
    from openrerank.batch.scorer import BatchScorer

    return run_job(
        source, output, lambda: BatchScorer(engine, options), errors=errors, progress=progress
    )


def _plan(
    address: str, actors: int, cpus: float | None, gpus: float, rows_per_batch: int
) -> RayPlan:
    missing = missing_requirements("ray")
    if missing:
        fail_missing("batch --ray", "ray", ", ".join(missing))
    from openrerank.cluster.data import RayPlan
    from openrerank.cluster.runtime import cpus_per_worker

    if cpus is None:
        cpus = cpus_per_worker(address, actors)
    return RayPlan(address, actors, cpus, gpus, rows_per_batch)


def _run_ray(
    source: RowSource,
    output: Path,
    engine: EngineConfig,
    options: DocumentOptions,
    plan: RayPlan,
    errors: Path | None,
    progress: BarProgress,
) -> JobSummary:
    try:
        from openrerank.cluster.data import run_on_ray

        return run_on_ray(source, output, engine, options, plan, errors=errors, progress=progress)
    except ModuleNotFoundError as exc:
        fail_missing("batch --ray", "ray", exc.name or "ray")


def _report(output: Path, summary: JobSummary) -> None:
    parts = [f"wrote {summary.written} rows to {output}"]
    if summary.already_done:
        parts.append(f"{summary.already_done} were already there")
    if summary.failed:
        parts.append(f"{summary.failed} refused (see --errors)")
    if summary.duplicates:
        parts.append(f"{summary.duplicates} repeated ids dropped")
    rate = f"{summary.pairs:,} pairs in {summary.seconds:.1f} s ({summary.pairs_per_s:,.0f}/s)"
    typer.echo("; ".join(parts) + f"; {rate}", err=True)
