"""Running ``openrerank eval`` and ``openrerank calibrate``: task -> scorer -> report.

Imported only when one of those commands runs, after its extra was checked: this is
where the evaluation libraries (ir_measures, bm25s, scikit-learn, matplotlib) load.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from openrerank.cli.eval_print import print_fit, print_report
from openrerank.cli.evaluate import CalibrateArgs, EvalArgs, ModelArgs, TaskArgs
from openrerank.config import EngineConfig
from openrerank.engine.model.calibration import Calibration, load_calibration
from openrerank.errors import RerankError
from openrerank.eval.calibrate import (
    ScoreReliability,
    check_reliability,
    fit_on_run,
    judged_pairs,
    model_probability,
)
from openrerank.eval.datasets import DatasetError
from openrerank.eval.defaults import DEFAULT_EVAL_MEASURES
from openrerank.eval.fitting import reliability, threshold_table
from openrerank.eval.plot import plot_deltas
from openrerank.eval.runner import (
    EvalTask,
    RerankedRun,
    build_report,
    rerank_task,
    write_trec_run,
)
from openrerank.eval.scorers import LibraryScorer, RemoteError, RemoteScorer, Scorer
from openrerank.eval.tasks import make_task
from openrerank.sync import Reranker
from openrerank.types import DocumentOptions

_ERRORS = (RerankError, DatasetError, RemoteError, OSError, ValueError)


def run_evaluate(task_args: TaskArgs, model_args: ModelArgs, args: EvalArgs) -> None:
    """``openrerank eval``: rerank the task's candidates, then print or write the report."""
    try:
        task = _task(task_args, measures=_measures(task_args.metrics))
        calibrated = load_calibration(args.calibration) if args.calibration else None
        with _scorer(model_args, args.url, args.api_key) as scorer:
            reranked = _rerank(task, scorer, args.concurrency, quiet=args.json_output)
        report = build_report(task, reranked)
        scores = _reliability(task, reranked, calibrated, served=args.url is not None)
    except _ERRORS as exc:
        fail(str(exc))
    if args.save_run is not None:
        write_trec_run(args.save_run, reranked)
    plotted = plot_deltas(report, args.plot) if args.plot is not None else None
    if args.json_output:
        typer.echo(json.dumps({**report.to_dict(), "reliability": scores.to_dict()}, indent=2))
        return
    print_report(report, scores)
    if plotted is not None:
        Console().print(f"plot: {plotted}")


def run_calibrate(task_args: TaskArgs, model_args: ModelArgs, args: CalibrateArgs) -> None:
    """``openrerank calibrate``: score the candidates, fit, write the file, print the check."""
    try:
        task = _task(task_args)
        options = _document_options(model_args.max_chunks_per_doc)
        with _reranker(model_args) as reranker:
            info = reranker.info
            scorer = LibraryScorer(reranker, **options)
            reranked = _rerank(task, scorer, 1, quiet=args.json_output)
        facts = {
            "model": info.name,
            "revision": info.revision,
            "backend": info.backend,
            "max_chunks_per_doc": model_args.max_chunks_per_doc,
        }
        fitted = fit_on_run(task, reranked, held_out=args.held_out, seed=args.seed, facts=facts)
        calibration = _with_model(fitted.calibration, info.name, info.revision)
        calibration.save(args.out)
    except _ERRORS as exc:
        fail(str(exc))
    if args.json_output:
        typer.echo(json.dumps({"file": str(args.out), **fitted.to_dict()}, indent=2))
        return
    print_fit(fitted, args.out)


def fail(message: str) -> NoReturn:
    """Print ``error: message`` and exit 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _task(args: TaskArgs, **measures: tuple[str, ...]) -> EvalTask:
    return make_task(
        args.dataset,
        run=args.run,
        k=args.k,
        max_queries=args.max_queries,
        rel=args.rel,
        split=args.split,
        language=args.language,
        **measures,
    )


def _measures(metrics: list[str] | None) -> tuple[str, ...]:
    if not metrics:
        return DEFAULT_EVAL_MEASURES
    return tuple(m.strip() for item in metrics for m in item.split(",") if m.strip())


def _document_options(max_chunks_per_doc: int | None) -> DocumentOptions:
    return {"max_chunks_per_doc": max_chunks_per_doc} if max_chunks_per_doc else {}


@contextmanager
def _reranker(args: ModelArgs) -> Iterator[Reranker]:
    with Reranker.from_config(EngineConfig(model=args.config)) as reranker:
        yield reranker


@contextmanager
def _scorer(args: ModelArgs, url: str | None, api_key: str | None) -> Iterator[Scorer]:
    if url is not None:
        remote = RemoteScorer(
            url, args.model, api_key=api_key, max_chunks_per_doc=args.max_chunks_per_doc
        )
        try:
            yield remote
        finally:
            remote.close()
        return
    with _reranker(args) as reranker:
        yield LibraryScorer(reranker, **_document_options(args.max_chunks_per_doc))


def _rerank(task: EvalTask, scorer: Scorer, concurrency: int, *, quiet: bool) -> RerankedRun:
    columns = (
        TextColumn("reranking {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pairs"),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True)
    hidden = quiet or not console.is_terminal
    with Progress(*columns, console=console, disable=hidden, transient=True) as progress:
        bar = progress.add_task(task.dataset.path.name, total=task.pairs)
        advance: Callable[[int], None] = lambda n: progress.advance(bar, n)  # noqa: E731
        return rerank_task(task, scorer, concurrency=concurrency, progress=advance)


def _reliability(
    task: EvalTask, run: RerankedRun, calibration: Calibration | None, *, served: bool
) -> ScoreReliability:
    """How well the scores work as probabilities: the served relevance_score (--url), or
    the model's sigmoid and, with a calibration file, the calibrated probability."""
    judged = judged_pairs(task, run)
    if served:
        served_scores = np.asarray(judged.raw, dtype=np.float64)
        return ScoreReliability(
            (("served relevance_score", reliability(served_scores, judged.label)),),
            tuple(threshold_table(served_scores, judged.label, judged.query)),
        )
    if calibration is None:
        return ScoreReliability(
            (("model sigmoid", reliability(model_probability(judged), judged.label)),)
        )
    check = check_reliability(calibration, judged)
    return ScoreReliability(
        (("model sigmoid", check.before), (f"calibrated ({calibration.method})", check.after)),
        check.thresholds,
    )


def _with_model(calibration: Calibration, name: str, revision: str) -> Calibration:
    return dataclasses.replace(calibration, model=name, revision=revision)
