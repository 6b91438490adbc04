"""``openrerank`` commands: parse flags, call the library, print the outcome."""

from __future__ import annotations

import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from openrerank._version import __version__
from openrerank.cli.batch import batch
from openrerank.cli.bench import bench_app
from openrerank.cli.documents import DocumentFileError, parse_documents
from openrerank.cli.evaluate import calibrate, evaluate
from openrerank.cli.extras import exit_code
from openrerank.cli.finetune import finetune
from openrerank.cli.serve import serve
from openrerank.cli.settings import (
    MODEL_OPTIONS,
    MaxChunksPerDocOption,
    MaxTokensPerDocOption,
    model_config,
    with_options,
)
from openrerank.config import DEFAULT_MODEL, EngineConfig
from openrerank.errors import RerankError

if TYPE_CHECKING:
    from openrerank.types import RankResult

app = typer.Typer(
    help="Self-hosted, Cohere-compatible reranking with open cross-encoders.",
    no_args_is_help=True,
    add_completion=False,
)
_PREVIEW_CHARS = 100


class OutputFormat(StrEnum):
    """How ``rank`` prints its results."""

    table = "table"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"openrerank {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    log_level: Annotated[
        str | None,
        typer.Option(
            envvar="OPENRERANK_LOG_LEVEL",
            help="Logging level (debug, info, warning); default warning, info for serve.",
        ),
    ] = None,
) -> None:
    """openrerank: rerank documents with open cross-encoders."""
    logging.basicConfig(
        level=(log_level or "warning").upper(), format="%(levelname)s %(name)s: %(message)s"
    )


@app.command()
@with_options(MODEL_OPTIONS, envvars=False)
def rank(
    query: Annotated[str, typer.Option("--query", "-q", help="The search query.")],
    model: Annotated[
        str,
        typer.Option(envvar="OPENRERANK_MODEL", help="Hugging Face model id or local directory."),
    ] = DEFAULT_MODEL,
    documents: Annotated[
        str, typer.Option("--documents", "-d", help="JSONL or text-lines file; '-' = stdin.")
    ] = "-",
    top_n: Annotated[int | None, typer.Option(help="Print only the best N.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = (
        OutputFormat.table
    ),
    max_tokens_per_doc: MaxTokensPerDocOption = None,
    max_chunks_per_doc: MaxChunksPerDocOption = None,
    **settings: Any,
) -> None:
    """Rank documents against a query and print them, best first.

    A document longer than the model window is scored as its best window.
    """
    from openrerank.sync import Reranker

    try:
        texts = _read_documents(documents)
        config = model_config(model, settings)
        with Reranker.from_config(EngineConfig(model=config)) as reranker:
            results = reranker.rank(
                query,
                texts,
                top_n=top_n,
                return_documents=True,
                max_tokens_per_doc=max_tokens_per_doc,
                max_chunks_per_doc=max_chunks_per_doc,
            )
    except (RerankError, DocumentFileError, OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exit_code(exc, DocumentFileError)) from None
    _print(results, output)


def _read_documents(source: str) -> list[str]:
    if source == "-":
        return parse_documents(sys.stdin)
    with Path(source).open(encoding="utf-8") as handle:
        return parse_documents(handle)


def _print(results: list[RankResult], output: OutputFormat) -> None:
    if output is OutputFormat.json:
        rows = [
            {"index": r.index, "relevance_score": r.relevance_score, "document": r.document}
            for r in results
        ]
        typer.echo(json.dumps({"results": rows}, ensure_ascii=False))
        return
    table = Table("rank", "index", "score", "document")
    for position, result in enumerate(results, start=1):
        document = result.document
        text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
        preview = text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1] + "…"
        table.add_row(str(position), str(result.index), f"{result.relevance_score:.4f}", preview)
    Console().print(table)


app.command()(serve)
app.command()(batch)
app.command("eval")(evaluate)
app.command()(calibrate)
app.command()(finetune)
app.add_typer(bench_app, name="bench")


def main() -> None:
    """Console-script entry point."""
    app()
