"""Reading a model's fast tokenizer and its special tokens (shared by both encoders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Encoding, Tokenizer

from openrerank.engine.model.spec import read_json_object
from openrerank.errors import ModelLoadError, UnsupportedModelError, summarize_exception
from openrerank.types import TokenizedText

_ADVICE = "the model files are corrupt or incomplete: download or save the model again"


def pad_id(tokenizer: Tokenizer, pad_token: str | None) -> int:
    """The padding id: the configured pad token, else the tokenizer's padding, else 0."""
    token_id = tokenizer.token_to_id(pad_token) if pad_token is not None else None
    if token_id is not None:
        return int(token_id)
    padding = tokenizer.padding
    return int(padding["pad_id"]) if padding is not None else 0


def to_tokens(encoding: Encoding) -> TokenizedText:
    """An encoding's ids and character offsets."""
    offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
    return TokenizedText(ids=np.asarray(encoding.ids, dtype=np.int64), offsets=offsets)


def read_tokenizer(path: Path) -> Tokenizer:
    """Load a ``tokenizer.json``; a file that cannot be read or parsed is a ModelLoadError."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ModelLoadError(f"{path}: not a valid tokenizer.json ({exc}); {_ADVICE}") from exc
    try:
        return Tokenizer.from_str(text)
    except Exception as exc:  # tokenizers raises plain Exception for every failure
        raise ModelLoadError(
            f"{path}: not a valid tokenizer.json ({summarize_exception(exc)}); {_ADVICE}"
        ) from exc


def special_token(directory: Path, key: str) -> str | None:
    """A special token's text (``pad_token``, ``bos_token``) from the tokenizer config."""
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        token = read_json_object(directory / name).get(key)
        if isinstance(token, dict):
            token = token.get("content")
        if isinstance(token, str):
            return token
    return None


def load_tokenizer(directory: Path) -> Tokenizer:
    """A model folder's ``tokenizer.json``.

    Raises:
        UnsupportedModelError: the folder has none (a fast tokenizer is required).
        ModelLoadError: see :func:`read_tokenizer`.
    """
    path = directory / "tokenizer.json"
    if not path.is_file():
        raise UnsupportedModelError(
            f"{directory} has no tokenizer.json (a fast tokenizer is required)"
        )
    return read_tokenizer(path)
