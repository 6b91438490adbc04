"""The output folder's rules (fresh run, resume) and the model card's contents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openrerank.finetune.card import render_card
from openrerank.finetune.job import FinetuneError, FinetuneRequest, _prepare
from openrerank.finetune.trainer import Recipe

PLAN = {"base": "b", "revision": "r", "rows_sha256": "x", "recipe": Recipe().to_dict()}


def request(out: Path, **changes: Any) -> FinetuneRequest:
    return FinetuneRequest(base="b", out=out, **changes)


def test_a_fresh_run_needs_an_empty_or_new_folder_and_writes_its_plan(tmp_path: Path) -> None:
    out = tmp_path / "model"
    _prepare(request(out), out / "checkpoints", PLAN)
    assert json.loads((out / "checkpoints" / "plan.json").read_text()) == PLAN
    with pytest.raises(FinetuneError, match="not an empty folder; pass --resume"):
        _prepare(request(out), out / "checkpoints", PLAN)


def test_resume_needs_a_checkpoint_and_the_same_plan(tmp_path: Path) -> None:
    out = tmp_path / "model"
    checkpoints = out / "checkpoints"
    with pytest.raises(FinetuneError, match="no checkpoint to resume"):
        _prepare(request(out, resume=True), checkpoints, PLAN)
    _prepare(request(out), checkpoints, PLAN)
    (checkpoints / "checkpoint-20").mkdir()  # cut off while saving: no trainer_state.json
    with pytest.raises(FinetuneError, match="no checkpoint to resume"):
        _prepare(request(out, resume=True), checkpoints, PLAN)
    (checkpoints / "checkpoint-20" / "trainer_state.json").write_text("{}")
    longer = {**PLAN, "recipe": {**PLAN["recipe"], "max_steps": 40}}
    _prepare(request(out, resume=True), checkpoints, longer)  # more steps: allowed
    other = {**PLAN, "rows_sha256": "y", "recipe": {**PLAN["recipe"], "learning_rate": 1.0}}
    with pytest.raises(FinetuneError, match="other learning_rate, rows_sha256"):
        _prepare(request(out, resume=True), checkpoints, other)


def facts(dev: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "base": {"name": "org/base-model", "revision": "abc123"},
        "data": {"source": "train.jsonl (Cohere fine-tune JSONL)", "queries": 300,
                 "train_queries": 270, "dev_queries": 30, "positives": 310,
                 "given_negatives": 12, "mined_negatives": 8000, "passages": 9000, "rows": 310},
        "recipe": Recipe().to_dict(),
        "training": {"steps": 39, "epochs": 1.0, "seconds": 61.0, "device": "cpu",
                     "max_length": 256, "resumed_from": None, "losses": [[25, 1.5], [39, 1.2]]},
        "dev": dev,
        "versions": {"openrerank": "0.1.0", "sentence-transformers": "6.2.0"},
    }  # fmt: skip


def test_the_card_names_base_revision_data_recipe_and_held_out_figures() -> None:
    dev = {
        "queries": 30, "first_stage": "BM25 top-30", "primary": "nDCG@10",
        "measures": {"nDCG@10": {"first_stage": 0.5, "baseline": 0.6, "candidate": 0.7,
                                 "delta": 0.1}},
        "wins": 12, "losses": 3, "ties": 15, "p_value": 0.004,
        "p_value_candidate_vs_first_stage": 0.001,
    }  # fmt: skip
    card = render_card(facts(dev))
    assert card.startswith("---\nbase_model: org/base-model\n")
    for expected in (
        "revision `abc123`",
        "train.jsonl (Cohere fine-tune JSONL)",
        "held out (dev): 30",
        "negatives mined with BM25 (or drawn at random where BM25 had none): 8,000",
        "loss `mnrl` (MultipleNegativesRankingLoss)",
        "39 steps (1.00 epochs) on cpu",
        "1.5000 at step 25, 1.2000 at step 39",
        "| nDCG@10 | 0.5000 | 0.6000 | 0.7000 | +0.1000 |",
        "12 better, 3 worse, 15 equal; paired sign-flip p = 0.004",
        "- sentence-transformers 6.2.0",
    ):
        assert expected in card


def test_a_card_without_held_out_queries_says_so() -> None:
    assert "No held-out figures: no queries were held out" in render_card(facts(None))
