"""``openrerank eval`` and ``openrerank calibrate``: their flags, checked, handed to ``eval_run``.

This module imports only what ``--help`` needs; the evaluation libraries load in
``openrerank.cli.eval_run`` when a command runs, after its extra was checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from openrerank.cli.extras import needs_extra
from openrerank.cli.settings import MODEL_OPTIONS, model_config, with_options
from openrerank.config import DEFAULT_MODEL, ModelConfig
from openrerank.eval.defaults import DEFAULT_EVAL_MEASURES

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
ChunksOption = Annotated[
    int | None,
    typer.Option(
        min=1, help="Windows per long document; 1 = truncate (as sentence-transformers does)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


@dataclass(frozen=True)
class TaskArgs:
    """The flags that pick the judged queries and their candidates."""

    dataset: Path
    run: Path | None
    k: int
    max_queries: int | None
    rel: int | None
    split: str
    language: str
    metrics: list[str] | None = None


@dataclass(frozen=True)
class ModelArgs:
    """The flags that pick the reranker the library runs.

    Attributes:
        config: the model and how it runs (the shared model options).
        max_chunks_per_doc: windows scored per long document.
    """

    config: ModelConfig
    max_chunks_per_doc: int | None

    @property
    def model(self) -> str:
        return self.config.name


@dataclass(frozen=True)
class EvalArgs:
    """The flags of ``eval`` beyond the task and the model."""

    url: str | None
    api_key: str | None
    concurrency: int
    calibration: Path | None
    json_output: bool
    plot: Path | None
    save_run: Path | None


@dataclass(frozen=True)
class CalibrateArgs:
    """The flags of ``calibrate`` beyond the task and the model."""

    held_out: float
    seed: int
    out: Path
    json_output: bool


@needs_extra("eval", "eval")
@with_options(MODEL_OPTIONS, envvars=False)
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
    **settings: Any,
) -> None:
    """Measure a reranker on judged data: first stage vs reranked (nDCG@10, MRR@10,
    Recall@10/100, MAP), per-query deltas, and how reliable its scores are."""
    if url is not None and calibration is not None:
        typer.echo(
            "error: --calibration applies to library scores; a server applies its own "
            "(--calibration)",
            err=True,
        )
        raise typer.Exit(1)
    from openrerank.cli.eval_run import run_evaluate

    run_evaluate(
        TaskArgs(dataset, run, k, max_queries, rel, split, language, metrics),
        ModelArgs(model_config(model, settings), max_chunks_per_doc),
        EvalArgs(url, api_key, concurrency, calibration, json_output, plot, save_run),
    )


@needs_extra("calibrate", "eval")
@with_options(MODEL_OPTIONS, envvars=False)
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
    max_chunks_per_doc: ChunksOption = None,
    json_output: JsonOption = False,
    **settings: Any,
) -> None:
    """Fit a map from the model's raw score to P(relevant) (Platt or isotonic, chosen by
    cross-validated log-loss) and write it for `openrerank serve --calibration`."""
    from openrerank.cli.eval_run import run_calibrate

    run_calibrate(
        TaskArgs(dataset, run, k, max_queries, rel, split, language),
        ModelArgs(model_config(model, settings), max_chunks_per_doc),
        CalibrateArgs(held_out, seed, out, json_output),
    )
