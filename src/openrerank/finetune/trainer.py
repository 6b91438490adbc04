"""Training on sentence-transformers' ``CrossEncoderTrainer``: the one module that imports
torch, ``datasets`` and sentence-transformers for fine-tuning.

`Recipe` holds every choice that changes the trained weights. `train` loads the base
model as a one-logit ``CrossEncoder``, trains on the rows `plan.training_rows` built,
writes checkpoints (optimizer and scheduler state included) under ``checkpoints`` every
``save_steps`` steps, resumes from the newest one when asked, and saves the final
weights and tokenizer into ``out``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openrerank.finetune.data import FinetuneError
from openrerank.finetune.plan import Columns, Loss

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Recipe:
    """How the model is trained.

    Attributes:
        loss: the loss (`plan.Loss`); ``mnrl`` by default (see ``docs/FINETUNE.md``).
        negatives: hard negatives per positive in each row.
        rounds: rows per positive, each with other negatives.
        in_batch_negatives: MNRL's extra negatives taken from other rows of the batch.
        epochs: passes over the rows (ignored when ``max_steps`` is set).
        max_steps: optimizer steps; ``None`` = as many as ``epochs`` take.
        learning_rate: AdamW's peak learning rate (linear warm-up, then linear decay).
        batch_size: rows per step.
        warmup: share of the steps spent warming up.
        weight_decay: AdamW's weight decay.
        max_length: tokens per (query, passage) pair; ``None`` = the base model's window.
        seed: seeds the data order, the negatives' order and the new head, if any.
        save_steps: steps between checkpoints.
        precision: ``fp32``, or ``bf16``/``fp16`` mixed precision (GPU).
        device: ``cpu``, ``cuda``, ``cuda:N``; ``None`` = a GPU when there is one.
    """

    loss: Loss = Loss.mnrl
    negatives: int = 3
    rounds: int = 1
    in_batch_negatives: int = 1
    epochs: float = 1.0
    max_steps: int | None = None
    learning_rate: float = 3e-5
    batch_size: int = 8
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_length: int | None = None
    seed: int = 13
    save_steps: int = 100
    precision: str = "fp32"
    device: str | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise FinetuneError(f"precision must be one of {', '.join(PRECISIONS)}")
        positive = (self.negatives, self.rounds, self.in_batch_negatives, self.batch_size)
        if min(*positive, self.save_steps) < 1 or (self.max_steps or 1) < 1:
            raise FinetuneError(
                "negatives, rounds, in-batch negatives, batch size, save steps and max steps "
                "must be >= 1"
            )
        if self.epochs <= 0 or self.learning_rate <= 0 or not 0 <= self.warmup < 1:
            raise FinetuneError("epochs and learning rate must be > 0 and warm-up in [0, 1)")
        if self.max_length is not None and self.max_length < 8:
            raise FinetuneError("max length must be >= 8 tokens")

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for the card and for checking a resumed run."""
        return {**dataclasses.asdict(self), "loss": self.loss.value}


@dataclass(frozen=True)
class TrainSummary:
    """What training did.

    Attributes:
        steps: optimizer steps taken in all (a resumed run counts the earlier ones).
        epochs: passes over the rows.
        seconds: wall time of this process's training.
        resumed_from: the checkpoint it resumed from, if any.
        losses: (step, training loss) as logged.
        max_length: the pair length trained with.
        device: where it trained.
        new_head: the base was a bare encoder, given a new one-logit head.
    """

    steps: int
    epochs: float
    seconds: float
    resumed_from: str | None
    losses: tuple[tuple[int, float], ...]
    max_length: int
    device: str
    new_head: bool = False


def newest_checkpoint(checkpoints: Path) -> Path | None:
    """The complete ``checkpoint-N`` folder with the largest N, if any (the trainer writes
    ``trainer_state.json`` last, so a folder without it was cut off while saving)."""
    found = [
        p
        for p in checkpoints.glob("checkpoint-*")
        if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


def train(
    base: Path,
    columns: Columns,
    recipe: Recipe,
    *,
    checkpoints: Path,
    out: Path,
    initial: Path | None = None,
    progress: bool = True,
) -> TrainSummary:
    """Train ``base`` on ``columns`` and save the result into ``out``.

    Resumes from the newest checkpoint under ``checkpoints`` when there is one (the
    caller checks that it belongs to the same data and recipe). With ``initial``, the
    model as loaded (a bare encoder with its new, seeded head) is saved there first,
    unless it already is: the "before" of a base that is not a cross-encoder yet.
    """
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer

    model = _model(base, recipe)
    if initial is not None and not (initial / "config.json").is_file():
        model.save_pretrained(str(initial), create_model_card=False)
    resume = newest_checkpoint(checkpoints)
    trainer = CrossEncoderTrainer(
        model=model,
        args=_arguments(recipe, checkpoints, progress),
        train_dataset=Dataset.from_dict(columns),
        loss=_loss(model, recipe),
    )
    started = time.perf_counter()
    # The trainer prints its log lines to stdout; stdout is the command's answer (--json).
    with contextlib.redirect_stdout(sys.stderr):
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.perf_counter() - started
    model.save_pretrained(str(out), create_model_card=False)
    state = trainer.state
    losses = tuple(
        (int(entry["step"]), float(entry["loss"])) for entry in state.log_history if "loss" in entry
    )
    return TrainSummary(
        steps=int(state.global_step),
        epochs=float(state.epoch or 0.0),
        seconds=seconds,
        resumed_from=resume.name if resume else None,
        losses=losses,
        max_length=int(model.max_seq_length),
        device=str(model.device),
        new_head=initial is not None,
    )


def _model(base: Path, recipe: Recipe) -> Any:
    import torch
    import transformers
    from sentence_transformers.cross_encoder import CrossEncoder

    _check_device(recipe.device, recipe.precision, torch.cuda.device_count())
    transformers.set_seed(recipe.seed)
    return CrossEncoder(str(base), num_labels=1, max_length=recipe.max_length, device=recipe.device)


def _check_device(device: str | None, precision: str, gpus: int) -> None:
    on_cpu = device == "cpu" or (device is None and gpus == 0)
    if on_cpu and precision == "fp16":
        raise FinetuneError("fp16 training needs a GPU; use bf16 or fp32 on the CPU")
    if device is None or device == "cpu":
        return
    kind, _, index = device.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise FinetuneError(f"unknown device {device!r}: use cpu, cuda or cuda:N")
    if int(index or 0) >= gpus:
        raise FinetuneError(f"device {device!r} asked for, but this machine has {gpus} GPU(s)")


def _arguments(recipe: Recipe, checkpoints: Path, progress: bool) -> Any:
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.cross_encoder import CrossEncoderTrainingArguments

    sampler = (
        BatchSamplers.NO_DUPLICATES if recipe.loss is Loss.mnrl else BatchSamplers.BATCH_SAMPLER
    )
    return CrossEncoderTrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps if recipe.max_steps is not None else -1,
        per_device_train_batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate,
        warmup_steps=recipe.warmup,
        weight_decay=recipe.weight_decay,
        seed=recipe.seed,
        data_seed=recipe.seed,
        save_strategy="steps",
        save_steps=recipe.save_steps,
        save_total_limit=2,
        logging_steps=max(1, min(25, recipe.save_steps)),
        report_to="none",
        bf16=recipe.precision == "bf16",
        fp16=recipe.precision == "fp16",
        use_cpu=recipe.device == "cpu",
        batch_sampler=sampler,
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
    )


def _loss(model: Any, recipe: Recipe) -> Any:
    import torch
    from sentence_transformers.cross_encoder import losses

    if recipe.loss is Loss.mnrl:
        return losses.MultipleNegativesRankingLoss(model, num_negatives=recipe.in_batch_negatives)
    if recipe.loss is Loss.bce:
        # One positive per `negatives` negatives: weigh positives up to balance them.
        weight = torch.tensor(float(recipe.negatives), device=model.device)
        return losses.BinaryCrossEntropyLoss(model, pos_weight=weight)
    return losses.LambdaLoss(model, mini_batch_size=recipe.batch_size)
