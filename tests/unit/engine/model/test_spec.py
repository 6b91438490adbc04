from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openrerank.engine.model.spec import read_json_object, read_spec
from openrerank.errors import ModelLoadError, UnsupportedModelError


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


def test_spec_accepts_architectures_written_as_one_string(tmp_path: Path) -> None:
    folder = write_model(tmp_path, {"architectures": "BertForSequenceClassification"})
    assert read_spec(folder).architecture == "BertForSequenceClassification"


def test_spec_without_config_json_says_so(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError, match=r"has no config\.json"):
        read_spec(tmp_path)


@pytest.mark.parametrize("config", [{}, {"architectures": []}, {"model_type": "bert"}])
def test_spec_of_a_config_without_architectures_names_the_file(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedModelError, match="names no architecture") as caught:
        read_spec(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'config.json'}: ")


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ('{"architectures": [', "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "must hold a JSON object, not list"),
    ],
)
def test_spec_of_a_broken_config_json_is_a_one_line_load_error(
    tmp_path: Path, text: str, cause: str
) -> None:
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ModelLoadError, match=cause) as caught:
        read_spec(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'config.json'}: ") and "\n" not in message


def test_spec_of_a_config_json_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_bytes(b'{"model_type": "\xff\xfe"}')
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        read_spec(tmp_path)


@pytest.mark.parametrize(
    ("config", "cause"),
    [
        ({"max_position_embeddings": "lots"}, "max_position_embeddings must be an integer"),
        ({"id2label": {"zero": "no", "one": "yes"}}, "id2label keys must be class indices"),
        ({"id2label": ["no", "yes"], "num_labels": 2}, "id2label must be an object"),
    ],
)
def test_spec_names_a_config_field_of_the_wrong_type(
    tmp_path: Path, config: dict[str, Any], cause: str
) -> None:
    folder = write_model(tmp_path, config)
    with pytest.raises(ModelLoadError, match=cause) as caught:
        read_spec(folder)
    assert str(caught.value).startswith(f"{folder / 'config.json'}: ")


def test_spec_ignores_a_legacy_activation_key_that_is_not_an_object(tmp_path: Path) -> None:
    folder = write_model(tmp_path, {"num_labels": 1, "sentence_transformers": "Identity"})
    assert read_spec(folder).activation == "sigmoid"


def test_spec_names_a_broken_tokenizer_config(tmp_path: Path) -> None:
    folder = write_model(tmp_path, {"num_labels": 1})
    (folder / "tokenizer_config.json").write_text("{'single': 'quotes'}")
    with pytest.raises(ModelLoadError, match=r"tokenizer_config\.json: not valid JSON"):
        read_spec(folder)


def test_read_json_object_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_json_object(tmp_path / "absent.json") == {}
