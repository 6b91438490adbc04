"""``openrerank bench llm`` and ``bench random-llm``: LLM rerankers' speed and memory."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from openrerank.cli.extras import needs_extra
from openrerank.config import default_cache_dir

LLM_PRECISIONS = ("fp32", "bf16")


@needs_extra("bench llm", "bench")
def llm(  # noqa: PLR0913 - each flag is one documented option
    model: Annotated[str, typer.Option(help="An LLM reranker folder (see `bench random-llm`).")],
    data: Annotated[
        Path, typer.Option(envvar="OPENRERANK_BENCH_DATA", help="Folder with beir-scifact/.")
    ] = Path("../shared/data"),
    documents: Annotated[int, typer.Option(min=1, help="BM25 candidates of one claim.")] = 100,
    repeats: Annotated[int, typer.Option(min=1, help="Timed passes per system.")] = 1,
    precision: Annotated[
        list[str] | None, typer.Option(help="openrerank torch precisions (repeatable): fp32, bf16.")
    ] = None,
    baseline: Annotated[
        bool, typer.Option(help="Also run sentence-transformers' CrossEncoder (own venv).")
    ] = True,
    long_tokens: Annotated[
        int, typer.Option(min=0, help="Also score one pair of this many tokens (0 = not).")
    ] = 0,
    long_model: Annotated[
        str | None, typer.Option(help="Model of the long pair (default --model).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for llm.md, llm.json and the logs.")] = Path(
        "bench-results"
    ),
    venv_dir: Annotated[
        Path | None, typer.Option(help="Where the baseline's virtual environment lives.")
    ] = None,
) -> None:
    """An LLM reranker: openrerank (torch fp32/bf16) against sentence-transformers.

    Same weights, same pairs, each system in its own process: pairs/s, peak memory and
    the largest score difference from openrerank fp32.
    """
    from openrerank.bench.llm import LlmBenchConfig, markdown, run_llm_bench, write_json

    precisions = tuple(dict.fromkeys(precision or LLM_PRECISIONS))
    unknown = sorted(set(precisions) - set(LLM_PRECISIONS))
    if unknown:
        raise typer.BadParameter(
            f"unknown {unknown}; choose from fp32, bf16", param_hint="--precision"
        )
    config = LlmBenchConfig(
        model=model, data=data, documents=documents, repeats=repeats, precisions=precisions,
        baseline=baseline, long_tokens=long_tokens, long_model=long_model,
        venv_dir=venv_dir or default_cache_dir() / "bench-venvs", logs=out / "llm-logs",
    )  # fmt: skip
    command = "openrerank " + shlex.join(sys.argv[1:])
    try:
        rows = run_llm_bench(config, lambda line: typer.echo(line, err=True))
    except (ValueError, OSError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    table = markdown(rows)
    typer.echo(f"command: {command}\n\n{table}")
    (out / "llm.md").write_text(f"command: `{command}`\n\n{table}\n", encoding="utf-8")
    write_json(rows, out / "llm.json")


@needs_extra("bench random-llm", "bench")
def random_llm(
    out: Annotated[Path, typer.Argument(help="Folder to write the model to.")],
    data: Annotated[
        Path, typer.Option(envvar="OPENRERANK_BENCH_DATA", help="Folder with beir-scifact/.")
    ] = Path("../shared/data"),
    layers: Annotated[
        int | None, typer.Option(min=1, help="Decoder layers (default 28, the real model's).")
    ] = None,
) -> None:
    """Write a random-weight model of Qwen3-Reranker-0.6B's exact shape (for speed and
    memory only: its scores mean nothing), with a tokenizer trained on SciFact."""
    from openrerank.bench.random_llm import build_random_qwen3

    typer.echo(f"wrote {build_random_qwen3(out, data, layers=layers)}")
