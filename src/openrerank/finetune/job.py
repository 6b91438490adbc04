"""One ``openrerank finetune`` run: data -> negatives -> split -> train -> held-out -> card.

The output folder holds the fine-tuned model (it loads wherever a model folder does),
``README.md`` (the model card), ``finetune.json`` (the same facts as data) and, while
training, ``checkpoints/`` with ``plan.json``: the base, data fingerprint and recipe a
``--resume`` must match.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from openrerank._version import __version__
from openrerank.config import ModelConfig
from openrerank.engine.model.resolve import ModelFiles, resolve_model
from openrerank.eval.compare import Comparison
from openrerank.finetune.card import render_card
from openrerank.finetune.data import (
    FinetuneError,
    TrainingData,
    TrainingQuery,
    read_beir,
    read_jsonl,
)
from openrerank.finetune.heldout import compare_models, dev_task
from openrerank.finetune.mining import MiningReport, mine_negatives
from openrerank.finetune.plan import split_dev, training_rows
from openrerank.finetune.trainer import Recipe, TrainSummary, newest_checkpoint, train

FACTS_FILE = "finetune.json"
PLAN_FILE = "plan.json"
_MAY_CHANGE_ON_RESUME = ("epochs", "max_steps", "device", "precision")
_VERSIONED = ("sentence-transformers", "transformers", "torch")


@dataclass(frozen=True)
class FinetuneRequest:
    """Everything one run needs.

    Attributes:
        base: the base model: a Hugging Face id or a local folder.
        out: the output folder.
        data: a JSONL file (Cohere's fine-tune format or query/positive/negatives rows).
        dataset: a BEIR-layout folder (instead of ``data``), with ``split``.
        split: the BEIR qrels split trained on.
        rel: the least grade of a BEIR positive; ``None`` = 2 if graded, else 1.
        revision: the base's hub revision.
        dev: the share of queries held out for the before/after comparison.
        dev_k: BM25 candidates per dev query.
        mine_depth: hard negatives mined per query lacking them.
        language: the BM25 tokenizer's language.
        recipe: how to train.
        resume: continue the run whose checkpoints are in ``out``.
        keep_checkpoints: keep ``checkpoints/`` after a successful run.
        progress: show the trainer's progress bar.
    """

    base: str
    out: Path
    data: Path | None = None
    dataset: Path | None = None
    split: str = "train"
    rel: int | None = None
    revision: str | None = None
    dev: float = 0.1
    dev_k: int = 30
    mine_depth: int = 30
    language: str = "en"
    recipe: Recipe = field(default_factory=Recipe)
    resume: bool = False
    keep_checkpoints: bool = False
    progress: bool = True


@dataclass(frozen=True)
class FinetuneResult:
    """The output folder, its facts and the held-out comparison (if any queries were)."""

    out: Path
    facts: dict[str, Any]
    comparison: Comparison | None


Say = Callable[[str], None]


def run_finetune(request: FinetuneRequest, say: Say = lambda _: None) -> FinetuneResult:
    """Run it all; ``say`` gets one line per step.

    Raises:
        FinetuneError: the output folder is in the way, or a resume does not match.
        TrainingDataError: bad training data (naming the row).
        ModelNotFoundError, ModelLoadError: the base cannot be found or read.
    """
    _check_out(request)
    data, mining = _data(request)
    try:
        train_queries, dev_queries = split_dev(data, dev=request.dev, seed=request.recipe.seed)
    except ValueError as exc:
        raise FinetuneError(f"{exc}; with so few queries, pass --dev 0") from exc
    recipe = request.recipe
    columns = training_rows(
        train_queries,
        data.passages,
        loss=recipe.loss,
        negatives=recipe.negatives,
        rounds=recipe.rounds,
        seed=recipe.seed,
    )
    rows = len(next(iter(columns.values())))
    say(
        f"data: {data.source}: {len(train_queries)} training queries ({rows} rows), "
        f"{len(dev_queries)} held out; {mining.bm25} negatives mined with BM25"
    )
    files = resolve_model(request.base, revision=request.revision, weights=True)
    ranks_already = _check_base(files)
    checkpoints = request.out / "checkpoints"
    _prepare(request, checkpoints, _plan(files, columns, recipe))
    initial = None if ranks_already else checkpoints / "initial"
    summary = train(
        files.directory,
        columns,
        recipe,
        checkpoints=checkpoints,
        out=request.out,
        initial=initial,
        progress=request.progress,
    )
    say(f"trained: {summary.steps} steps in {summary.seconds:.0f} s on {summary.device}")
    comparison = _held_out(request, data, dev_queries, summary, initial, say)
    facts = _facts(
        request,
        files=files,
        data=data,
        mining=mining,
        split=(len(train_queries), len(dev_queries), rows),
        summary=summary,
        comparison=comparison,
    )
    _write(request.out, facts)
    if not request.keep_checkpoints:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return FinetuneResult(request.out, facts, comparison)


def _check_base(files: ModelFiles) -> bool:
    """Refuse a base finetune cannot train; whether it is a cross-encoder already (one
    logit) rather than a bare encoder that gets a new head."""
    config = json.loads((files.directory / "config.json").read_text(encoding="utf-8"))
    architectures = config.get("architectures") or []
    labels = len(config.get("id2label") or {}) or config.get("num_labels", 1)
    if any(a.endswith("ForCausalLM") for a in architectures):
        raise FinetuneError(
            f"{files.name}: a causal LM; finetune trains cross-encoders (BERT-like encoders)"
        )
    classifier = any(a.endswith("ForSequenceClassification") for a in architectures)
    if classifier and labels != 1:
        raise FinetuneError(
            f"{files.name}: has {labels} output labels; finetune trains one-logit cross-encoders"
        )
    return classifier


def _check_out(request: FinetuneRequest) -> None:
    out = request.out
    if not request.resume and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FinetuneError(
            f"{out}: exists and is not an empty folder; pass --resume to continue its run, "
            "or choose another --out"
        )


def _data(request: FinetuneRequest) -> tuple[TrainingData, MiningReport]:
    if (request.data is None) == (request.dataset is None):
        raise FinetuneError("give the training data as --data FILE.jsonl or --dataset DIR")
    if request.data is not None:
        data = read_jsonl(request.data)
    else:
        assert request.dataset is not None
        data = read_beir(request.dataset, split=request.split, rel=request.rel)
    return mine_negatives(
        data,
        wanted=request.recipe.negatives * request.recipe.rounds,
        depth=request.mine_depth,
        language=request.language,
        seed=request.recipe.seed,
    )


def _plan(files: ModelFiles, columns: dict[str, list[Any]], recipe: Recipe) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(columns, sort_keys=True).encode()).hexdigest()
    return {
        "base": files.name,
        "revision": files.revision,
        "rows_sha256": digest,
        "recipe": recipe.to_dict(),
    }


def _prepare(request: FinetuneRequest, checkpoints: Path, plan: dict[str, Any]) -> None:
    """Check the output folder for a fresh run or a resume, and write the plan."""
    out, plan_file = request.out, checkpoints / PLAN_FILE
    _check_out(request)
    if request.resume:
        if not plan_file.is_file() or newest_checkpoint(checkpoints) is None:
            raise FinetuneError(f"{out}: no checkpoint to resume (expected {checkpoints})")
        _check_same(json.loads(plan_file.read_text(encoding="utf-8")), plan, out)
    checkpoints.mkdir(parents=True, exist_ok=True)
    plan_file.write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")


def _check_same(saved: dict[str, Any], plan: dict[str, Any], out: Path) -> None:
    def fixed(p: dict[str, Any]) -> dict[str, Any]:
        recipe = {k: v for k, v in p["recipe"].items() if k not in _MAY_CHANGE_ON_RESUME}
        return {**p, "recipe": recipe}

    old, new = fixed(saved), fixed(plan)
    if old != new:
        changed = sorted(
            [k for k in new if k != "recipe" and old.get(k) != new[k]]
            + [k for k in new["recipe"] if old["recipe"].get(k) != new["recipe"][k]]
        )
        raise FinetuneError(
            f"{out}: cannot resume: its run used other {', '.join(changed)} "
            f"(only {', '.join(_MAY_CHANGE_ON_RESUME)} may change)"
        )


def _held_out(
    request: FinetuneRequest,
    data: TrainingData,
    dev_queries: tuple[TrainingQuery, ...],
    summary: TrainSummary,
    initial: Path | None,
    say: Say,
) -> Comparison | None:
    task = dev_task(data.passages, dev_queries, k=request.dev_k, language=request.language)
    if task is None:
        return None
    say(f"held-out: ranking {task.pairs} pairs of {len(task.queries)} dev queries with both models")
    device = "cuda" if summary.device.startswith("cuda") else "cpu"
    base = ModelConfig(
        name=str(initial) if initial is not None else request.base,
        revision=None if initial is not None else request.revision,
        device=device,
        max_length=summary.max_length,
    )
    tuned = replace(base, name=str(request.out.resolve()), revision=None)
    return compare_models(task, base, tuned)


def _facts(
    request: FinetuneRequest,
    *,
    files: ModelFiles,
    data: TrainingData,
    mining: MiningReport,
    split: tuple[int, int, int],
    summary: TrainSummary,
    comparison: Comparison | None,
) -> dict[str, Any]:
    train_queries, dev_queries, rows = split
    return {
        "base": {
            "name": request.base,
            "revision": files.revision,
            "new_head": summary.new_head,
        },
        "data": {
            "source": data.source,
            "format": data.format,
            **data.counts(),
            "train_queries": train_queries,
            "dev_queries": dev_queries,
            "rows": rows,
            "mining": {"queries": mining.queries, "bm25": mining.bm25, "random": mining.random},
        },
        "recipe": request.recipe.to_dict(),
        "training": {
            "steps": summary.steps,
            "epochs": summary.epochs,
            "seconds": summary.seconds,
            "device": summary.device,
            "max_length": summary.max_length,
            "resumed_from": summary.resumed_from,
            "losses": [list(entry) for entry in summary.losses],
        },
        "dev": comparison.to_dict() if comparison is not None else None,
        "versions": {"openrerank": __version__, **_versions()},
    }


def _versions() -> dict[str, str]:
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _write(out: Path, facts: dict[str, Any]) -> None:
    (out / FACTS_FILE).write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(render_card(facts), encoding="utf-8")
