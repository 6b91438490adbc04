"""``openrerank finetune``: its flags, checked, handed to `openrerank.finetune.job`.

This module imports only what ``--help`` needs; the training libraries load when the
command runs, after the ``finetune`` extra was checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from openrerank.cli.extras import exit_code, needs_extra

if TYPE_CHECKING:
    from openrerank.eval.compare import Comparison
    from openrerank.finetune.job import FinetuneRequest

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Training JSONL: Cohere's fine-tune rows {query, relevant_passages, "
        "hard_negatives?} or {query, positive, negatives?} rows.",
    ),
]
DatasetOption = Annotated[
    Path | None,
    typer.Option(help="Train on a BEIR-layout folder's judged split instead (see --split)."),
]


@needs_extra("finetune", "finetune")
def finetune(  # noqa: PLR0913 - each flag is one documented option
    model: Annotated[str, typer.Option(help="Base model: Hugging Face id or local folder.")],
    out: Annotated[Path, typer.Option(help="Output folder (a servable model when done).")],
    data: DataOption = None,
    dataset: DatasetOption = None,
    split: Annotated[str, typer.Option(help="qrels/<split>.tsv of --dataset.")] = "train",
    rel: Annotated[
        int | None, typer.Option(min=1, help="Least grade of a --dataset positive.")
    ] = None,
    revision: Annotated[str | None, typer.Option(help="Base model's hub revision.")] = None,
    loss: Annotated[
        str, typer.Option(help="mnrl (listwise, default), bce (pointwise) or lambda (LambdaLoss).")
    ] = "mnrl",
    negatives: Annotated[int, typer.Option(min=1, help="Hard negatives per positive.")] = 3,
    rounds: Annotated[
        int, typer.Option(min=1, help="Rows per positive, each with other negatives.")
    ] = 1,
    in_batch_negatives: Annotated[
        int, typer.Option(min=1, help="mnrl: extra negatives from other rows of the batch.")
    ] = 1,
    epochs: Annotated[float, typer.Option(min=0.01, help="Passes over the rows.")] = 1.0,
    max_steps: Annotated[
        int | None, typer.Option(min=1, help="Stop after N steps (overrides --epochs).")
    ] = None,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate.")] = 3e-5,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per step.")] = 8,
    max_length: Annotated[
        int | None, typer.Option(min=8, help="Tokens per pair; default the base's window.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds data order, negatives and new weights.")] = 13,
    save_steps: Annotated[int, typer.Option(min=1, help="Steps between checkpoints.")] = 100,
    precision: Annotated[str, typer.Option(help="fp32, or bf16/fp16 mixed (GPU).")] = "fp32",
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda or cuda:N; default a GPU if any.")
    ] = None,
    dev: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of queries held out (0 = none).")
    ] = 0.1,
    dev_k: Annotated[int, typer.Option(min=1, help="BM25 candidates per held-out query.")] = 30,
    mine_depth: Annotated[
        int, typer.Option(min=1, help="BM25 negatives mined per query lacking them.")
    ] = 30,
    language: Annotated[str, typer.Option(help="BM25 tokenizer language.")] = "en",
    resume: Annotated[
        bool, typer.Option(help="Continue the run whose checkpoints are in --out.")
    ] = False,
    keep_checkpoints: Annotated[
        bool, typer.Option(help="Keep --out/checkpoints after a successful run.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the facts as JSON.")] = False,
) -> None:
    """Fine-tune a cross-encoder on judged data, then compare base and fine-tuned on
    held-out queries. The output folder serves like any model folder."""
    from openrerank.errors import RerankError
    from openrerank.finetune.data import FinetuneError, TrainingDataError
    from openrerank.finetune.job import FinetuneRequest, run_finetune
    from openrerank.finetune.plan import Loss
    from openrerank.finetune.trainer import Recipe

    try:
        if loss not in {kind.value for kind in Loss}:
            raise FinetuneError(f"unknown --loss {loss!r}: one of mnrl, bce, lambda")
        recipe = Recipe(
            loss=Loss(loss), negatives=negatives, rounds=rounds,
            in_batch_negatives=in_batch_negatives, epochs=epochs, max_steps=max_steps,
            learning_rate=lr, batch_size=batch_size, max_length=max_length, seed=seed,
            save_steps=save_steps, precision=precision, device=device,
        )  # fmt: skip
        request = FinetuneRequest(
            base=model, out=out, data=data, dataset=dataset, split=split, rel=rel,
            revision=revision, dev=dev, dev_k=dev_k, mine_depth=mine_depth,
            language=language, recipe=recipe, resume=resume,
            keep_checkpoints=keep_checkpoints, progress=not json_output,
        )  # fmt: skip
        result = run_finetune(request, say=_say(json_output))
    except (RerankError, TrainingDataError, FinetuneError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exit_code(exc, TrainingDataError, FinetuneError)) from None
    if json_output:
        typer.echo(json.dumps(result.facts, indent=2))
        return
    _print(request, result.comparison)


def _say(quiet: bool) -> Callable[[str], None]:
    def say(line: str) -> None:
        if not quiet:
            typer.echo(line, err=True)

    return say


def _print(request: FinetuneRequest, comparison: Comparison | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"model: {request.out} (card: {request.out / 'README.md'})")
    if comparison is None:
        console.print(
            "nothing to compare: no held-out queries (--dev 0), or BM25 found no candidates "
            "for them"
        )
        return
    facts = comparison.to_dict()
    table = Table(
        "measure", "first stage", "base", "fine-tuned", "delta",
        title=f"held-out: {facts['queries']} queries, {facts['first_stage']}",
    )  # fmt: skip
    for name, row in facts["measures"].items():
        table.add_row(
            name,
            f"{row['first_stage']:.4f}",
            f"{row['baseline']:.4f}",
            f"{row['candidate']:.4f}",
            f"{row['delta']:+.4f}",
        )
    console.print(table)
    console.print(
        f"{facts['primary']} per query: {facts['wins']} better, {facts['losses']} worse, "
        f"{facts['ties']} equal; paired sign-flip p = {facts['p_value']:.3g} (fine-tuned vs "
        f"base), {facts['p_value_candidate_vs_first_stage']:.3g} (fine-tuned vs first stage)"
    )
