"""PairTokenizer: encodes a query against documents with the model's own pair template.

The template (special tokens, segment ids) comes from the model's ``tokenizer.json``
post-processor. The query is capped to half of the tokens the window leaves for text.
Documents are tokenized once, alone (as ``tokenizers`` does for each side of a pair);
:meth:`PairTokenizer.pair` then joins the query with any slice of a document's tokens,
which is how long documents become windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Encoding, Tokenizer

from openrerank.engine.model.spec import read_json_object
from openrerank.engine.tokenization.template import PairTemplate
from openrerank.errors import ModelLoadError, UnsupportedModelError, summarize_exception
from openrerank.types import IntArray, TokenizedText

_ADVICE = "the model files are corrupt or incomplete: download or save the model again"


class PairTokenizer:
    """Encodes (query, document) pairs for one model; safe to share across threads.

    Args:
        tokenizer: the model's fast tokenizer; copied and reconfigured, never mutated.
        max_length: tokens per pair, special tokens included.
        pad_token: the padding token's text, when the tokenizer config names one.
    """

    def __init__(self, tokenizer: Tokenizer, *, max_length: int, pad_token: str | None) -> None:
        self._plain = Tokenizer.from_str(tokenizer.to_str())
        self._plain.no_padding()
        self._plain.no_truncation()
        specials = self._plain.num_special_tokens_to_add(is_pair=True)
        if max_length <= specials + 2:
            raise UnsupportedModelError(f"max_length {max_length} leaves no room for text")
        self._template = PairTemplate.learn(self._plain)
        self.max_length = max_length
        self.pair_specials = specials
        self.query_max_tokens = (max_length - specials) // 2
        self.pad_id = _pad_id(tokenizer, pad_token)

    @classmethod
    def from_directory(cls, directory: Path, *, max_length: int) -> PairTokenizer:
        """Load ``tokenizer.json`` (and the pad token name) from a model folder."""
        path = directory / "tokenizer.json"
        if not path.is_file():
            raise UnsupportedModelError(
                f"{directory} has no tokenizer.json (a fast tokenizer is required)"
            )
        return cls(_read_tokenizer(path), max_length=max_length, pad_token=_pad(directory))

    def encode_query(self, query: str) -> IntArray:
        """The query's tokens, capped to ``query_max_tokens``, without special tokens."""
        ids = self._plain.encode(self.cap_query(query), add_special_tokens=False).ids
        return np.asarray(ids[: self.query_max_tokens], dtype=np.int64)

    def encode_texts(self, texts: Sequence[str]) -> list[TokenizedText]:
        """Each text's tokens (no special tokens) with their character offsets."""
        encodings = self._plain.encode_batch(list(texts), add_special_tokens=False)
        return [_to_tokens(encoding) for encoding in encodings]

    def document_window(self, query_ids: IntArray) -> int:
        """Document tokens that fit next to this query in one pair."""
        return self.max_length - self.pair_specials - int(query_ids.shape[0])

    def pair(self, query_ids: IntArray, document_ids: IntArray) -> tuple[IntArray, IntArray]:
        """Input ids and segment ids of ``query + document`` with the special tokens.

        Identical to what the model's tokenizer produces for the pair of texts whose
        tokens these are.
        """
        return self._template.join(query_ids, document_ids)

    def cap_query(self, query: str) -> str:
        """Cut the query text at the token boundary that keeps it within its share.

        Cutting text can re-tokenize differently (inside a character or a merge), so
        the cut moves back one token at a time until the rest fits.
        """
        encoding = self._plain.encode(query, add_special_tokens=False)
        if len(encoding.ids) <= self.query_max_tokens:
            return query
        ends = [end for _, end in encoding.offsets[: self.query_max_tokens]]
        for end in reversed(ends):
            cut = query[:end]
            if self.count_tokens(cut) <= self.query_max_tokens:
                return cut
        return ""

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone, without special tokens."""
        return len(self._plain.encode(text, add_special_tokens=False).ids)


def _pad_id(tokenizer: Tokenizer, pad_token: str | None) -> int:
    """The padding id: the configured pad token, else the tokenizer's padding, else 0."""
    token_id = tokenizer.token_to_id(pad_token) if pad_token is not None else None
    if token_id is not None:
        return int(token_id)
    padding = tokenizer.padding
    return int(padding["pad_id"]) if padding is not None else 0


def _to_tokens(encoding: Encoding) -> TokenizedText:
    offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
    return TokenizedText(ids=np.asarray(encoding.ids, dtype=np.int64), offsets=offsets)


def _read_tokenizer(path: Path) -> Tokenizer:
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


def _pad(directory: Path) -> str | None:
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        token = read_json_object(directory / name).get("pad_token")
        if isinstance(token, dict):
            token = token.get("content")
        if isinstance(token, str):
            return token
    return None
