"""``openrerank bench long-documents``: truncation vs every window on judged data."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from openrerank.bench import REFERENCE_MODEL
from openrerank.cli.extras import needs_extra


@needs_extra("bench long-documents", "bench")
def long_documents(  # noqa: PLR0913 - each flag is one documented option
    model: Annotated[str, typer.Option(help="Model id or local directory.")] = REFERENCE_MODEL,
    data: Annotated[
        Path,
        typer.Option(
            envvar="OPENRERANK_BENCH_DATA",
            help="Folder with beir-scifact/ and trec-dl-2019-passage/.",
        ),
    ] = Path("../shared/data"),
    sets: Annotated[str, typer.Option(help="dl19, scifact or both (comma-separated).")] = (
        "dl19,scifact"
    ),
    windows: Annotated[str, typer.Option(help="Model windows (max_length).")] = "256,128",
    queries: Annotated[
        int | None, typer.Option(min=1, help="First N queries of each set (default all).")
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, help="SciFact BM25 candidates/query.")] = 10,
    passages: Annotated[int, typer.Option(min=1, help="DL19 BM25 passages/query.")] = 100,
    group: Annotated[int, typer.Option(min=1, help="DL19 passages per document.")] = 4,
    aggregations: Annotated[str, typer.Option(help="Of max, mean, first.")] = "max,mean",
    overlap: Annotated[int, typer.Option(min=0, help="Window overlap in tokens.")] = 32,
    parts: Annotated[
        bool,
        typer.Option(
            help="DL19 diagnostic: also score each passage alone, document = max over its passages."
        ),
    ] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the rows as JSON here.")
    ] = None,
) -> None:
    """Long documents on judged data: truncation to one window vs every window.

    Prints a markdown table (max / mean / first aggregation) with paired tests against
    truncation.
    """
    from openrerank.bench.long_documents import LongDocumentsConfig, run_long_documents

    config = LongDocumentsConfig(
        model=model, data=data, sets=sets, windows=windows, queries=queries, top_k=top_k,
        passages=passages, group=group, aggregations=aggregations, overlap=overlap,
        parts=parts, json=json_path,
    )  # fmt: skip
    typer.echo("command: openrerank " + shlex.join(sys.argv[1:]))
    try:
        run_long_documents(config, lambda line: typer.echo(line))
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
