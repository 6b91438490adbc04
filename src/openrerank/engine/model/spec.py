"""What a model says about itself: architecture, labels, window, activation, inputs.

Everything is read from the model's own files (``config.json``,
``tokenizer_config.json``, the sentence-transformers metadata); nothing is guessed
from the model's name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openrerank.engine.model.activation import Activation
from openrerank.engine.model.recipes import RECIPES, Recipe, detect_recipe, is_causal_lm
from openrerank.errors import ModelLoadError, UnsupportedModelError

# transformers' tokenizer classes whose ``model_input_names`` omit token_type_ids
# (mirrors the class attributes in transformers; used when tokenizer_config.json
# does not list the names itself).
_NO_TOKEN_TYPE_TOKENIZERS = frozenset(
    {
        "BartTokenizer",
        "CamembertTokenizer",
        "GPT2Tokenizer",
        "LlamaTokenizer",
        "LongformerTokenizer",
        "MPNetTokenizer",
        "Qwen2Tokenizer",
        "RobertaTokenizer",
        "XLMRobertaTokenizer",
    }
)
# Models whose position ids start after the padding index, losing two positions.
_OFFSET_POSITION_TYPES = frozenset({"roberta", "xlm-roberta", "camembert", "longformer"})
_ST_ACTIVATIONS: dict[str, Activation] = {
    "Sigmoid": "sigmoid",
    "Identity": "identity",
    "Softmax": "softmax",
}
_POSITIVE_LABELS = frozenset({"1", "label_1", "relevant", "positive", "yes", "true"})
_UNBOUNDED = 1_000_000


@dataclass(frozen=True)
class ModelSpec:
    """A reranker's behaviour, as its files describe it.

    Attributes:
        architecture: the transformers class name, e.g. ``BertForSequenceClassification``.
        model_type: ``config.json``'s ``model_type``.
        num_labels: 1 (a relevance logit) or 2 (not relevant / relevant).
        positive_index: the logit column of the relevant class.
        activation: how a logit becomes a relevance score.
        max_length: tokens per pair, special tokens included.
        expects_token_type_ids: whether the tokenizer feeds segment ids to the model.
        needs_remote_code: the config maps its classes to code shipped with the model.
        hidden_size: the encoder's width (``config.json``'s ``hidden_size``); 0 if unknown.
        num_attention_heads: heads per attention layer; 0 if unknown.
        template: the LLM reranker recipe that wraps each pair in its prompt
            (:data:`~openrerank.engine.model.recipes.RECIPES`); ``None`` for a
            cross-encoder, which reads the tokenizer's own pair template.
        causal_lm: a ``*ForCausalLM`` checkpoint: its scoring tokens' rows of the output
            head give the logits (``num_labels`` = how many scoring tokens).
        max_positions: positions the model holds (``max_position_embeddings``).
        score_token_ids: the scoring tokens' ids, ``(negative, positive)`` or
            ``(positive,)``, once the tokenizer has resolved them (``()`` until then).
        attention_tokens: the pair length at which attention costs as much compute as
            the rest of the model (batches are cut by ``n x (1 + n / attention_tokens)``
            token-equivalents); 0 = not counted.
    """

    architecture: str
    model_type: str
    num_labels: int
    positive_index: int
    activation: Activation
    max_length: int
    expects_token_type_ids: bool
    needs_remote_code: bool
    hidden_size: int = 0
    num_attention_heads: int = 0
    template: str | None = None
    causal_lm: bool = False
    max_positions: int = _UNBOUNDED
    attention_tokens: int = 0
    score_token_ids: tuple[int, ...] = ()

    @property
    def recipe(self) -> Recipe | None:
        """The LLM recipe of :attr:`template`, if any."""
        return RECIPES[self.template] if self.template is not None else None


def read_json_object(path: Path) -> dict[str, Any]:
    """A model metadata file's JSON object; ``{}`` when the file does not exist.

    Raises:
        ModelLoadError: the file cannot be read, is not UTF-8 JSON, or holds no object;
            the message starts with the path.
    """
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(
            f"{path}: not valid JSON ({exc}); the model files are corrupt or incomplete: "
            "download or save the model again"
        ) from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: must hold a JSON object, not {type(data).__name__}")
    return data


def read_spec(
    directory: Path,
    *,
    max_length: int | None = None,
    activation: str = "auto",
    template: str = "auto",
) -> ModelSpec:
    """Read a :class:`ModelSpec` from a model directory.

    Args:
        directory: a folder holding ``config.json`` and the tokenizer files.
        max_length: override of the window; must not exceed the model's positions.
        activation: ``auto`` to read it from the files, or a forced activation.
        template: ``auto`` detects an LLM reranker's recipe from ``model_type``; a
            recipe name forces it; ``none`` reads the model as a plain cross-encoder.

    Raises:
        UnsupportedModelError: no config.json, not a sequence-classification model
            with 1 or 2 labels nor a decoder LM of a known reranker family, an unknown
            template, or a window the model cannot hold.
        ModelLoadError: a metadata file that cannot be read, is not JSON, or holds a
            field of the wrong type; the message starts with its path.
    """
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise UnsupportedModelError(f"{directory} has no config.json: not a transformers model")
    config = read_json_object(config_path)
    architecture = _architecture(config, config_path)
    model_type = str(config.get("model_type", ""))
    causal = is_causal_lm(architecture)
    recipe = _recipe(config, architecture, template, config_path)
    num_labels = (
        len(recipe.score_tokens) if causal and recipe else _num_labels(config, architecture)
    )
    tokenizer_config = read_json_object(directory / "tokenizer_config.json")
    window = _max_length(directory, config, tokenizer_config, max_length, recipe)
    return ModelSpec(
        architecture=architecture,
        model_type=model_type,
        num_labels=num_labels,
        positive_index=_positive_index(config, num_labels, config_path, causal=causal),
        activation=_activation(directory, config, num_labels, activation, causal=causal),
        max_length=window,
        expects_token_type_ids=recipe is None and _expects_token_type_ids(tokenizer_config),
        needs_remote_code=bool(config.get("auto_map")),
        hidden_size=_optional_int(config.get("hidden_size")) or 0,
        num_attention_heads=_optional_int(config.get("num_attention_heads")) or 0,
        template=recipe.name if recipe else None,
        causal_lm=causal,
        max_positions=_positions(directory, config),
        attention_tokens=_attention_tokens(config) if recipe else 0,
    )


def _recipe(
    config: dict[str, Any], architecture: str, template: str, config_path: Path
) -> Recipe | None:
    model_type = str(config.get("model_type", ""))
    try:
        recipe = detect_recipe(model_type, architecture, _label_count(config), template)
    except ValueError as exc:
        raise UnsupportedModelError(str(exc)) from None
    if recipe is None and is_causal_lm(architecture):
        known = ", ".join(f"{t} ({r.name})" for r in RECIPES.values() for t in r.model_types)
        raise UnsupportedModelError(
            f"{config_path}: architecture {architecture!r} (model_type {model_type!r}) is a "
            f"decoder LM of no known reranker family; openrerank scores the families "
            f"{known} by their model cards, or name one with --template MODEL=NAME"
        )
    return recipe


def _attention_tokens(config: dict[str, Any]) -> int:
    """Where causal attention (``2 n q`` FLOPs a token) costs what the projections and
    the MLP cost (``2 (h (q + 2 kv) + q h + 3 h i)``): ``n = that / 2q``."""
    hidden = _optional_int(config.get("hidden_size")) or 0
    heads = _optional_int(config.get("num_attention_heads")) or 0
    if not hidden or not heads:
        return 0
    head_dim = _optional_int(config.get("head_dim")) or hidden // heads
    kv_heads = _optional_int(config.get("num_key_value_heads")) or heads
    inner = _optional_int(config.get("intermediate_size")) or 4 * hidden
    q, kv = heads * head_dim, kv_heads * head_dim
    linear = 2 * (hidden * (q + 2 * kv) + q * hidden + 3 * hidden * inner)
    return max(1, linear // (2 * q))


def _architecture(config: dict[str, Any], config_path: Path) -> str:
    architectures = config.get("architectures") or []
    if isinstance(architectures, str):
        architectures = [architectures]
    name = str(architectures[0]) if isinstance(architectures, list) and architectures else ""
    if not name:
        raise UnsupportedModelError(
            f"{config_path}: names no architecture ('architectures' is missing or empty); "
            "openrerank serves sequence-classification cross-encoders "
            "(*ForSequenceClassification)"
        )
    if not (name.endswith("ForSequenceClassification") or is_causal_lm(name)):
        raise UnsupportedModelError(
            f"{config_path}: architecture {name!r} is not a "
            "sequence-classification cross-encoder; openrerank serves rerankers "
            "(*ForSequenceClassification, or the *ForCausalLM of an LLM reranker family), "
            "not embedding or generative models"
        )
    return name


def _label_count(config: dict[str, Any]) -> Any:
    """``num_labels`` as the config declares it (else its ``id2label``'s size, else 2)."""
    id2label = config.get("id2label")
    return config.get("num_labels", len(id2label) if isinstance(id2label, dict) else 2)


def _num_labels(config: dict[str, Any], architecture: str) -> int:
    count = _label_count(config)
    if count not in (1, 2):
        raise UnsupportedModelError(
            f"{architecture} has {count} labels; a reranker has 1 (relevance logit) "
            "or 2 (not relevant / relevant)"
        )
    return int(count)


def _positive_index(
    config: dict[str, Any], num_labels: int, config_path: Path, *, causal: bool
) -> int:
    if num_labels == 1 or causal:  # an LLM's logits are (negative, positive) tokens
        return num_labels - 1
    id2label = config.get("id2label") or {}
    if not isinstance(id2label, dict):
        raise ModelLoadError(f"{config_path}: id2label must be an object, got {id2label!r}")
    named = [
        _label_id(key, config_path)
        for key, v in id2label.items()
        if str(v).lower() in _POSITIVE_LABELS
    ]
    return named[0] if len(named) == 1 else 1


def _label_id(key: Any, config_path: Path) -> int:
    try:
        return int(key)
    except (TypeError, ValueError):
        raise ModelLoadError(
            f"{config_path}: id2label keys must be class indices, got {key!r}"
        ) from None


def _activation(
    directory: Path, config: dict[str, Any], num_labels: int, forced: str, *, causal: bool
) -> Activation:
    if forced != "auto":
        if forced not in ("sigmoid", "softmax", "identity"):
            raise UnsupportedModelError(f"unknown activation {forced!r}")
        return forced  # type: ignore[return-value]
    if num_labels == 2:
        return "softmax"
    if causal:
        return "sigmoid"
    st_config = read_json_object(directory / "config_sentence_transformers.json")
    embedded = config.get("sentence_transformers")
    declared = st_config.get("activation_fn") or (
        embedded.get("activation_fn") if isinstance(embedded, dict) else None
    )
    if not declared:
        return "sigmoid"
    short = str(declared).rsplit(".", 1)[-1]
    if short not in _ST_ACTIVATIONS:
        raise UnsupportedModelError(
            f"{directory.name} declares activation {declared!r}, which openrerank does not "
            "support; force one with activation='sigmoid' or 'identity'"
        )
    return _ST_ACTIVATIONS[short]


def _max_length(
    directory: Path,
    config: dict[str, Any],
    tokenizer_config: dict[str, Any],
    override: int | None,
    recipe: Recipe | None,
) -> int:
    positions = _positions(directory, config)
    if override is not None:
        if override > positions:
            raise UnsupportedModelError(
                f"max_length {override} exceeds the model's {positions} positions"
            )
        return override
    if recipe is not None:  # the card's window; the tokenizer config often says 131072
        return min(recipe.default_max_length, positions)
    st_length = read_json_object(directory / "sentence_bert_config.json").get("max_seq_length")
    declared = _optional_int(st_length) or _optional_int(tokenizer_config.get("model_max_length"))
    if declared is None or declared >= _UNBOUNDED:
        declared = positions
    return min(declared, positions)


def _positions(directory: Path, config: dict[str, Any]) -> int:
    positions = _optional_int(config.get("max_position_embeddings", _UNBOUNDED))
    if positions is None:
        raise ModelLoadError(
            f"{directory / 'config.json'}: max_position_embeddings must be an integer, "
            f"got {config.get('max_position_embeddings')!r}"
        )
    if config.get("model_type") in _OFFSET_POSITION_TYPES:
        positions -= 2
    return positions


def _expects_token_type_ids(tokenizer_config: dict[str, Any]) -> bool:
    names = tokenizer_config.get("model_input_names")
    if isinstance(names, list):
        return "token_type_ids" in names
    tokenizer_class = str(tokenizer_config.get("tokenizer_class", ""))
    return tokenizer_class.removesuffix("Fast") not in _NO_TOKEN_TYPE_TOKENIZERS


def _optional_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
