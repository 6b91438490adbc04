"""Which checkpoints are LLM rerankers, and by which card's recipe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openrerank.config import TEMPLATES, ModelConfig
from openrerank.engine.backends.registry import choose_backend
from openrerank.engine.model.recipes import RECIPES, detect_recipe
from openrerank.engine.model.spec import read_spec
from openrerank.errors import UnsupportedModelError
from openrerank.types import BackendName


def write_config(folder: Path, architecture: str, model_type: str, **extra: Any) -> Path:
    config = {"architectures": [architecture], "model_type": model_type} | extra
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_template_names_are_the_recipes_plus_auto_and_none() -> None:
    assert set(TEMPLATES) == {"auto", "none", *RECIPES}


@pytest.mark.parametrize(
    ("architecture", "model_type", "labels", "expected"),
    [
        ("Qwen3ForCausalLM", "qwen3", 2, "qwen3-reranker"),
        ("Qwen2ForCausalLM", "qwen2", 2, "mxbai-rerank-v2"),
        ("GemmaForCausalLM", "gemma", 2, "bge-reranker-v2-gemma"),
        ("Qwen3ForSequenceClassification", "qwen3", 1, "qwen3-reranker"),
        ("Qwen2ForSequenceClassification", "qwen2", 1, "mxbai-rerank-v2"),
        ("GemmaForSequenceClassification", "gemma", 1, "bge-reranker-v2-gemma"),
        ("Qwen3ForSequenceClassification", "qwen3", 2, None),  # a classifier, not converted
        ("BertForSequenceClassification", "bert", 1, None),
        ("LlamaForCausalLM", "llama", 2, None),
    ],
)
def test_recipe_is_detected_from_model_type(
    architecture: str, model_type: str, labels: int, expected: str | None
) -> None:
    recipe = detect_recipe(model_type, architecture, labels)
    assert (recipe.name if recipe else None) == expected


def test_a_forced_template_wins_and_none_turns_detection_off() -> None:
    forced = detect_recipe("llama", "LlamaForCausalLM", 2, "qwen3-reranker")
    assert forced is RECIPES["qwen3-reranker"]
    assert detect_recipe("qwen3", "Qwen3ForSequenceClassification", 1, "none") is None
    with pytest.raises(ValueError, match="unknown template 'qwen4'"):
        detect_recipe("qwen3", "Qwen3ForCausalLM", 2, "qwen4")


def test_model_config_refuses_an_unknown_template() -> None:
    with pytest.raises(ValueError, match="template must be one of"):
        ModelConfig(name="m", template="qwen4")  # type: ignore[arg-type]


def test_spec_of_a_qwen3_causal_lm_scores_two_tokens_by_softmax(tmp_path: Path) -> None:
    folder = write_config(
        tmp_path,
        "Qwen3ForCausalLM",
        "qwen3",
        max_position_embeddings=40_960,
        hidden_size=64,
        num_attention_heads=4,
        head_dim=16,
        num_key_value_heads=2,
        intermediate_size=128,
    )
    spec = read_spec(folder)
    assert spec.template == "qwen3-reranker" and spec.causal_lm
    assert (spec.num_labels, spec.positive_index, spec.activation) == (2, 1, "softmax")
    assert spec.max_length == 32_768  # the card's 32k, within the 40,960 positions
    assert spec.max_positions == 40_960 and not spec.expects_token_type_ids


def test_spec_of_gemma_scores_one_token_by_sigmoid_with_the_cards_window(tmp_path: Path) -> None:
    folder = write_config(tmp_path, "GemmaForCausalLM", "gemma", max_position_embeddings=8192)
    spec = read_spec(folder)
    assert (spec.num_labels, spec.positive_index, spec.activation) == (1, 0, "sigmoid")
    assert spec.max_length == 512


def test_spec_of_a_converted_checkpoint_keeps_its_one_label(tmp_path: Path) -> None:
    folder = write_config(tmp_path, "Qwen3ForSequenceClassification", "qwen3", num_labels=1)
    spec = read_spec(folder, max_length=1024)
    assert (spec.template, spec.causal_lm, spec.num_labels) == ("qwen3-reranker", False, 1)
    assert spec.max_length == 1024


def test_a_causal_lm_of_no_known_family_is_refused_naming_the_families(tmp_path: Path) -> None:
    folder = write_config(tmp_path, "LlamaForCausalLM", "llama")
    with pytest.raises(UnsupportedModelError, match="qwen3 \\(qwen3-reranker\\)") as error:
        read_spec(folder)
    assert "--template" in str(error.value)


def test_attention_is_counted_at_the_width_where_it_costs_what_the_rest_costs(
    tmp_path: Path,
) -> None:
    # Qwen3-Reranker-0.6B's shape: per token and layer the projections and MLP cost
    # 2 (h (q + 2 kv) + q h + 3 h i) FLOPs and causal attention 2 n q, with h=1024,
    # q=16x128, kv=8x128, i=3072
    shape = {
        "hidden_size": 1024,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "intermediate_size": 3072,
        "max_position_embeddings": 40_960,
    }
    spec = read_spec(write_config(tmp_path, "Qwen3ForCausalLM", "qwen3", **shape))
    q, kv, h, i = 2048, 1024, 1024, 3072
    rest = 2 * (h * (q + 2 * kv) + q * h + 3 * h * i)
    assert spec.attention_tokens == rest // (2 * q)
    assert 7_000 < spec.attention_tokens < 8_000


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_only_torch_runs_an_llm_reranker_and_auto_picks_it(
    tmp_path: Path, backend: BackendName
) -> None:
    spec = read_spec(write_config(tmp_path, "Qwen3ForCausalLM", "qwen3"))
    assert choose_backend(ModelConfig(name="m"), spec) == "torch"  # auto on CPU fp32
    assert choose_backend(ModelConfig(name="m")) == "onnx"  # a cross-encoder's auto
    with pytest.raises(UnsupportedModelError, match="--backend torch"):
        choose_backend(ModelConfig(name="m", backend=backend), spec)
