"""``openrerank eval`` and ``openrerank calibrate``: flags -> EvalTask -> rerank -> report."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, cast

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from openrerank.cli.choices import AUTO, FP32, BackendChoice, PrecisionChoice
from openrerank.config import DEFAULT_MODEL, EngineConfig, ModelConfig
from openrerank.errors import RerankError
from openrerank.eval.calibrate import (
    CalibrationFit,
    ReliabilityCheck,
    check_reliability,
    fit_on_run,
    judged_pairs,
    model_probability,
)
from openrerank.eval.calibration import Reliability, ThresholdRow, reliability, threshold_table
from openrerank.eval.datasets import DatasetError
from openrerank.eval.plot import plot_deltas
from openrerank.eval.runner import (
    DEFAULT_EVAL_MEASURES,
    EvalReport,
    EvalTask,
    RerankedRun,
    build_report,
    rerank_task,
    write_trec_run,
)
from openrerank.eval.scorers import LibraryScorer, RemoteError, RemoteScorer, Scorer
from openrerank.eval.tasks import make_task
from openrerank.model.calibration import Calibration, load_calibration
from openrerank.sync import Reranker
from openrerank.types import BackendName, DocumentOptions, Precision

_ERRORS = (RerankError, DatasetError, RemoteError, OSError, ValueError)

ModelOption = Annotated[
    str, typer.Option(envvar="OPENRERANK_MODEL", help="Hugging Face model id or local directory.")
]
DatasetOption = Annotated[
    Path,
    typer.Option(help="BEIR-layout folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."),
]
RunOption = Annotated[
    Path | None,
    typer.Option(
        help="Candidates: a run file (TSV 'query-id doc-id rank' with header, or TREC). "
        "Default: the built-in BM25 (bm25s, stemming) over corpus.jsonl."
    ),
]
KOption = Annotated[int, typer.Option("--k", min=1, help="Candidates reranked per query.")]
MaxQueriesOption = Annotated[
    int | None, typer.Option(min=1, help="Only the first N judged queries (queries.jsonl order).")
]
RelOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Grade binary measures and calibration count as relevant; default 2 for graded "
        "judgments (TREC DL convention), else 1.",
    ),
]
SplitOption = Annotated[str, typer.Option(help="qrels/<split>.tsv to judge with.")]
LanguageOption = Annotated[
    str, typer.Option(help="Built-in BM25 tokenizer language (en, de, zh, ...).")
]
BackendOption = Annotated[BackendChoice, typer.Option(help="Runtime; auto = onnx on CPU.")]
PrecisionOption = Annotated[
    PrecisionChoice, typer.Option(help="int8 needs onnx; fp16/bf16 need torch.")
]
DeviceOption = Annotated[str, typer.Option(help="cpu or cuda[:N].")]
ChunksOption = Annotated[
    int | None,
    typer.Option(
        min=1, help="Windows per long document; 1 = truncate (as sentence-transformers does)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


def evaluate(  # noqa: PLR0913 - each flag is one documented option
    dataset: DatasetOption,
    model: ModelOption = DEFAULT_MODEL,
    run: RunOption = None,
    k: KOption = 100,
    metrics: Annotated[
        list[str] | None,
        typer.Option(
            help="Measures in ir_measures syntax, repeatable or comma-separated "
            f"(default {','.join(DEFAULT_EVAL_MEASURES)})."
        ),
    ] = None,
    max_queries: MaxQueriesOption = None,
    rel: RelOption = None,
    split: SplitOption = "test",
    language: LanguageOption = "en",
    url: Annotated[
        str | None,
        typer.Option(help="Evaluate a running server (POST URL/v2/rerank) instead of the library."),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="OPENRERANK_API_KEY", help="Bearer key for --url.")
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Queries in flight at once (useful with --url).")
    ] = 1,
    backend: BackendOption = AUTO,
    precision: PrecisionOption = FP32,
    device: DeviceOption = "cpu",
    max_chunks_per_doc: ChunksOption = None,
    calibration: Annotated[
        Path | None,
        typer.Option(help="A calibration file: also report its reliability on these pairs."),
    ] = None,
    json_output: JsonOption = False,
    plot: Annotated[Path | None, typer.Option(help="Write per-query deltas as a PNG.")] = None,
    save_run: Annotated[
        Path | None, typer.Option(help="Write the reranked run (TREC format, scores).")
    ] = None,
) -> None:
    """Measure a reranker on judged data: first stage vs reranked (nDCG@10, MRR@10,
    Recall@10/100, MAP), per-query deltas, and how reliable its scores are."""
    if url is not None and calibration is not None:
        _fail("--calibration applies to library scores; a server applies its own (--calibration)")
    try:
        task = make_task(
            dataset,
            run=run,
            k=k,
            max_queries=max_queries,
            rel=rel,
            split=split,
            language=language,
            measures=_measures(metrics),
        )
        calibrated = load_calibration(calibration) if calibration else None
        with _scorer(model, url, api_key, backend, precision, device, max_chunks_per_doc) as scorer:
            reranked = _rerank(task, scorer, concurrency, quiet=json_output)
        report = build_report(task, reranked)
        scores = _reliability(task, reranked, calibrated, served=url is not None)
    except _ERRORS as exc:
        _fail(str(exc))
    if save_run is not None:
        write_trec_run(save_run, reranked)
    plotted = plot_deltas(report, plot) if plot is not None else None
    if json_output:
        typer.echo(json.dumps({**report.to_dict(), "reliability": scores}, indent=2))
        return
    _print_report(report, scores)
    if plotted is not None:
        Console().print(f"plot: {plotted}")


def calibrate(  # noqa: PLR0913 - each flag is one documented option
    dataset: DatasetOption,
    model: ModelOption = DEFAULT_MODEL,
    run: RunOption = None,
    k: KOption = 100,
    max_queries: MaxQueriesOption = None,
    rel: RelOption = None,
    split: SplitOption = "test",
    language: LanguageOption = "en",
    held_out: Annotated[
        float,
        typer.Option(
            min=0.05, max=0.95, help="Share of queries kept out of fitting, for the report."
        ),
    ] = 0.3,
    seed: Annotated[int, typer.Option(help="Seed of the query split and the folds.")] = 0,
    out: Annotated[Path, typer.Option(help="Where to write the calibration file.")] = Path(
        "calibration.json"
    ),
    backend: BackendOption = AUTO,
    precision: PrecisionOption = FP32,
    device: DeviceOption = "cpu",
    max_chunks_per_doc: ChunksOption = None,
    json_output: JsonOption = False,
) -> None:
    """Fit a map from the model's raw score to P(relevant) (Platt or isotonic, chosen by
    cross-validated log-loss) and write it for `openrerank serve --calibration`."""
    try:
        task = make_task(
            dataset, run=run, k=k, max_queries=max_queries, rel=rel, split=split, language=language
        )
        options = _document_options(max_chunks_per_doc)
        with _reranker(model, backend, precision, device) as reranker:
            info = reranker.info
            scorer = LibraryScorer(reranker, **options)
            reranked = _rerank(task, scorer, 1, quiet=json_output)
        facts = {
            "model": info.name,
            "revision": info.revision,
            "backend": info.backend,
            "max_chunks_per_doc": max_chunks_per_doc,
        }
        fitted = fit_on_run(task, reranked, held_out=held_out, seed=seed, facts=facts)
        calibration = _with_model(fitted.calibration, info.name, info.revision)
        calibration.save(out)
    except _ERRORS as exc:
        _fail(str(exc))
    if json_output:
        typer.echo(json.dumps({"file": str(out), **fitted.to_dict()}, indent=2))
        return
    _print_fit(fitted, out)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _measures(metrics: list[str] | None) -> tuple[str, ...]:
    if not metrics:
        return DEFAULT_EVAL_MEASURES
    return tuple(m.strip() for item in metrics for m in item.split(",") if m.strip())


def _document_options(max_chunks_per_doc: int | None) -> DocumentOptions:
    return {"max_chunks_per_doc": max_chunks_per_doc} if max_chunks_per_doc else {}


@contextmanager
def _reranker(
    model: str, backend: BackendChoice, precision: PrecisionChoice, device: str
) -> Iterator[Reranker]:
    config = ModelConfig(
        name=model,
        backend=cast(BackendName, backend.value),
        precision=cast(Precision, precision.value),
        device=device,
    )
    with Reranker.from_config(EngineConfig(model=config)) as reranker:
        yield reranker


@contextmanager
def _scorer(
    model: str,
    url: str | None,
    api_key: str | None,
    backend: BackendChoice,
    precision: PrecisionChoice,
    device: str,
    max_chunks_per_doc: int | None,
) -> Iterator[Scorer]:
    if url is not None:
        remote = RemoteScorer(url, model, api_key=api_key, max_chunks_per_doc=max_chunks_per_doc)
        try:
            yield remote
        finally:
            remote.close()
        return
    with _reranker(model, backend, precision, device) as reranker:
        yield LibraryScorer(reranker, **_document_options(max_chunks_per_doc))


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
) -> dict[str, Any]:
    """How well the scores work as probabilities: the served relevance_score (--url), or
    the model's sigmoid and, with a calibration file, the calibrated probability."""
    judged = judged_pairs(task, run)
    if served:
        served_scores = np.asarray(judged.raw, dtype=np.float64)
        return {
            "served relevance_score": reliability(served_scores, judged.label).to_dict(),
            "thresholds": [
                row.to_dict() for row in threshold_table(served_scores, judged.label, judged.query)
            ],
        }
    if calibration is None:
        return {"model sigmoid": reliability(model_probability(judged), judged.label).to_dict()}
    check = check_reliability(calibration, judged)
    return {
        "model sigmoid": check.before.to_dict(),
        f"calibrated ({calibration.method})": check.after.to_dict(),
        "thresholds": [row.to_dict() for row in check.thresholds],
    }


def _with_model(calibration: Calibration, name: str, revision: str) -> Calibration:
    return dataclasses.replace(calibration, model=name, revision=revision)


def _print_report(report: EvalReport, scores: dict[str, Any]) -> None:
    console = Console()
    table = Table(
        "measure",
        f"first stage ({report.first_stage})",
        "reranked",
        "delta",
        title=f"{report.dataset}: {report.queries} queries, top {report.k}, {report.reranker}",
    )
    for row in report.rows:
        table.add_row(
            row.name, f"{row.first_stage:.4f}", f"{row.reranked:.4f}", f"{row.delta:+.4f}"
        )
    console.print(table)
    wins, losses, ties = report.wins_losses_ties
    console.print(
        f"{report.primary} per query: {wins} better, {losses} worse, {ties} equal; "
        f"paired sign-flip p = {report.p_value:.3g}. {report.relevance_rule.capitalize()}; "
        f"{report.with_candidates} queries had candidates, {report.pairs} pairs in "
        f"{report.seconds:.1f} s."
    )
    _print_reliability(console, scores)


def _print_reliability(console: Console, scores: dict[str, Any]) -> None:
    table = Table("scores", "ECE", "Brier", "log-loss", "pairs", "relevant", title="reliability")
    for name, values in scores.items():
        if name == "thresholds":
            continue
        table.add_row(
            name,
            f"{values['ece']:.4f}",
            f"{values['brier']:.4f}",
            f"{values['log_loss']:.4f}",
            str(values["pairs"]),
            str(values["positives"]),
        )
    console.print(table)
    if "thresholds" in scores:
        _print_thresholds(console, [_row(r) for r in scores["thresholds"]])


def _row(data: dict[str, Any]) -> ThresholdRow:
    return ThresholdRow(**data)


def _print_thresholds(console: Console, rows: list[ThresholdRow], title: str = "") -> None:
    table = Table(
        "threshold", "kept", "precision", "recall", "queries with none kept", title=title or None
    )
    for row in rows:
        precision = "-" if row.precision is None else f"{row.precision:.3f}"
        recall = "-" if row.recall is None else f"{row.recall:.3f}"
        table.add_row(
            f">= {row.threshold:.2f}",
            f"{row.kept:.3f}",
            precision,
            recall,
            f"{row.queries_with_none_kept:.3f}",
        )
    console.print(table)


def _print_fit(fitted: CalibrationFit, out: Path) -> None:
    console = Console()
    losses = ", ".join(f"{m} {v:.4f}" for m, v in fitted.choice.cv_log_loss.items())
    console.print(
        f"fitted {fitted.calibration.method} on {fitted.fit_queries} queries "
        f"({fitted.fit_pairs} pairs, {fitted.fit_positives} relevant); "
        f"{fitted.choice.folds}-fold cross-validated log-loss: {losses}"
    )
    _print_check(console, fitted.held_out)
    console.print(f"wrote {out}: serve it with `openrerank serve --calibration {out}`")


def _print_check(console: Console, check: ReliabilityCheck) -> None:
    table = Table("scores", "ECE", "Brier", "log-loss", title=f"held-out queries ({check.queries})")
    for name, values in (("model sigmoid", check.before), ("calibrated", check.after)):
        table.add_row(name, *_figures(values))
    console.print(table)
    _print_thresholds(console, list(check.thresholds), "calibrated thresholds, held-out queries")


def _figures(values: Reliability) -> tuple[str, str, str]:
    return f"{values.ece:.4f}", f"{values.brier:.4f}", f"{values.log_loss:.4f}"
