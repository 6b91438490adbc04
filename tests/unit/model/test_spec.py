from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openrerank.errors import UnsupportedModelError
from openrerank.model.spec import read_spec


def write_model(folder: Path, config: dict[str, Any], **files: dict[str, Any]) -> Path:
    base = {"architectures": ["BertForSequenceClassification"], "model_type": "bert"}
    (folder / "config.json").write_text(json.dumps(base | config))
    for name, content in files.items():
        (folder / f"{name}.json").write_text(json.dumps(content))
    return folder


def test_spec_one_logit_defaults_to_sigmoid(tmp_path: Path) -> None:
    spec = read_spec(write_model(tmp_path, {"num_labels": 1, "max_position_embeddings": 512}))
    assert (spec.num_labels, spec.activation, spec.positive_index) == (1, "sigmoid", 0)
    assert spec.max_length == 512


def test_spec_reads_the_encoder_shape_for_graph_fusion(tmp_path: Path) -> None:
    spec = read_spec(write_model(tmp_path, {"hidden_size": 384, "num_attention_heads": 12}))
    assert (spec.hidden_size, spec.num_attention_heads) == (384, 12)


def test_spec_without_an_encoder_shape_reports_zero(tmp_path: Path) -> None:
    spec = read_spec(write_model(tmp_path, {"num_labels": 1}))
    assert (spec.hidden_size, spec.num_attention_heads) == (0, 0)


def test_spec_reads_sentence_transformers_activation(tmp_path: Path) -> None:
    folder = write_model(
        tmp_path,
        {"num_labels": 1},
        config_sentence_transformers={"activation_fn": "torch.nn.modules.linear.Identity"},
    )
    assert read_spec(folder).activation == "identity"


def test_spec_reads_legacy_activation_key_in_config(tmp_path: Path) -> None:
    folder = write_model(
        tmp_path,
        {
            "num_labels": 1,
            "sentence_transformers": {"activation_fn": "torch.nn.modules.linear.Identity"},
        },
    )
    assert read_spec(folder).activation == "identity"


def test_spec_two_logits_use_softmax_of_the_named_positive_label(tmp_path: Path) -> None:
    folder = write_model(
        tmp_path, {"num_labels": 2, "id2label": {"0": "relevant", "1": "not_relevant"}}
    )
    spec = read_spec(folder)
    assert (spec.activation, spec.positive_index) == ("softmax", 0)


def test_spec_two_generic_labels_take_label_1_as_positive(tmp_path: Path) -> None:
    folder = write_model(tmp_path, {"id2label": {"0": "LABEL_0", "1": "LABEL_1"}})
    assert read_spec(folder).positive_index == 1


def test_spec_refuses_a_model_that_is_not_a_sequence_classifier(tmp_path: Path) -> None:
    folder = write_model(tmp_path, {"architectures": ["BertModel"]})
    with pytest.raises(UnsupportedModelError, match="not a sequence-classification"):
        read_spec(folder)


def test_spec_refuses_three_labels(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError, match="3 labels"):
        read_spec(write_model(tmp_path, {"num_labels": 3}))


def test_spec_refuses_an_unknown_activation(tmp_path: Path) -> None:
    folder = write_model(
        tmp_path, {"num_labels": 1}, config_sentence_transformers={"activation_fn": "x.Tanh"}
    )
    with pytest.raises(UnsupportedModelError, match="Tanh"):
        read_spec(folder)


def test_spec_window_prefers_sentence_transformers_then_tokenizer_config(tmp_path: Path) -> None:
    folder = write_model(
        tmp_path,
        {"num_labels": 1, "max_position_embeddings": 512},
        tokenizer_config={"model_max_length": 1e30},
    )
    assert read_spec(folder).max_length == 512
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 256}))
    assert read_spec(folder).max_length == 256
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    assert read_spec(folder).max_length == 128
    assert read_spec(folder, max_length=300).max_length == 300


def test_spec_roberta_family_loses_two_positions(tmp_path: Path) -> None:
    folder = write_model(
        tmp_path,
        {
            "architectures": ["XLMRobertaForSequenceClassification"],
            "model_type": "xlm-roberta",
            "max_position_embeddings": 514,
            "num_labels": 1,
        },
    )
    assert read_spec(folder).max_length == 512
    with pytest.raises(UnsupportedModelError, match="exceeds"):
        read_spec(folder, max_length=513)


@pytest.mark.parametrize(
    ("tokenizer_config", "expected"),
    [
        ({"tokenizer_class": "BertTokenizer"}, True),
        ({"tokenizer_class": "XLMRobertaTokenizerFast"}, False),
        ({"tokenizer_class": "PreTrainedTokenizerFast"}, True),
        ({"model_input_names": ["input_ids", "attention_mask"]}, False),
    ],
)
def test_spec_token_type_ids_come_from_the_tokenizer_config(
    tmp_path: Path, tokenizer_config: dict[str, Any], expected: bool
) -> None:
    folder = write_model(tmp_path, {"num_labels": 1}, tokenizer_config=tokenizer_config)
    assert read_spec(folder).expects_token_type_ids is expected


def test_spec_flags_remote_code(tmp_path: Path) -> None:
    folder = write_model(tmp_path, {"num_labels": 1, "auto_map": {"AutoModel": "x.Y"}})
    assert read_spec(folder).needs_remote_code
