"""``openrerank bench scaling``: local, Ray Data and Ray Serve side by side on equal work."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from openrerank.bench import REFERENCE_MODEL
from openrerank.cli.extras import needs_extra


@needs_extra("bench scaling", "bench")
@needs_extra("bench scaling", "ray")
def scaling(
    model: Annotated[
        str, typer.Option(help="Model (hub id or local directory).")
    ] = REFERENCE_MODEL,
    data: Annotated[
        Path, typer.Option(envvar="OPENRERANK_BENCH_DATA", help="Folder with beir-scifact/.")
    ] = Path("../shared/data"),
    queries: Annotated[int, typer.Option(min=1, help="SciFact claims (rows, requests).")] = 24,
    documents: Annotated[int, typer.Option(min=1, help="BM25 candidates per claim.")] = 20,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent HTTP clients.")] = 8,
    out: Annotated[Path | None, typer.Option(help="Also write the figures here as JSON.")] = None,
) -> None:
    """Rank the same SciFact rows as a local batch job, on Ray Data with 1 and 2 actors,
    through one `openrerank serve`, and through Ray Serve with 1 and 2 replicas."""
    from openrerank.batch.rows import BatchRow
    from openrerank.batch.sources import BeirSource
    from openrerank.cluster.scaling import measure
    from openrerank.config import EngineConfig, ModelConfig

    folder = data / "beir-scifact"
    rows: list[BatchRow] = []
    for row in BeirSource(folder, folder / "run" / "bm25_top100.tsv").rows():
        rows.append(BatchRow(row.id, row.query, row.documents[:documents]))
        if len(rows) == queries:
            break
    engine = EngineConfig(model=ModelConfig(name=model))
    with tempfile.TemporaryDirectory(prefix="openrerank-scaling-") as work:
        results = measure(rows, engine, Path(work), clients=clients)
    base = {"batch": results[0].pairs_per_s, "HTTP": results[3].pairs_per_s}
    typer.echo("| mode | pairs | seconds | pairs/s | vs one process | failed |")
    typer.echo("|---|---:|---:|---:|---:|---:|")
    for result in results:
        ratio = result.pairs_per_s / base[result.mode.split(":")[0]]
        typer.echo(
            f"| {result.mode} | {result.pairs} | {result.seconds:.1f} | "
            f"{result.pairs_per_s:.1f} | {ratio:.2f}x | {result.failed} |"
        )
    if out is not None:
        out.write_text(json.dumps([r.to_dict() for r in results], indent=2) + "\n")
