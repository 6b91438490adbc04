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
from tokenizers import Tokenizer

from openrerank.engine.tokenization.template import PairTemplate
from openrerank.engine.tokenization.vocabulary import (
    load_tokenizer,
    pad_id,
    special_token,
    to_tokens,
)
from openrerank.errors import InvalidInputError, UnsupportedModelError
from openrerank.types import IntArray, TokenizedText


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
        self.pad_id = pad_id(tokenizer, pad_token)

    @classmethod
    def from_directory(cls, directory: Path, *, max_length: int) -> PairTokenizer:
        """Load ``tokenizer.json`` (and the pad token name) from a model folder."""
        pad = special_token(directory, "pad_token")
        return cls(load_tokenizer(directory), max_length=max_length, pad_token=pad)

    @property
    def takes_instruction(self) -> bool:
        """A cross-encoder reads no instruction."""
        return False

    def encode_query(self, query: str, instruction: str | None = None) -> IntArray:
        """The query's tokens, capped to ``query_max_tokens``, without special tokens
        (``instruction`` must be ``None``: see :attr:`takes_instruction`)."""
        if instruction is not None:
            raise InvalidInputError("a cross-encoder reads no instruction")
        ids = self._plain.encode(self.cap_query(query), add_special_tokens=False).ids
        return np.asarray(ids[: self.query_max_tokens], dtype=np.int64)

    def encode_texts(self, texts: Sequence[str]) -> list[TokenizedText]:
        """Each text's tokens (no special tokens) with their character offsets."""
        encodings = self._plain.encode_batch(list(texts), add_special_tokens=False)
        return [to_tokens(encoding) for encoding in encodings]

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
