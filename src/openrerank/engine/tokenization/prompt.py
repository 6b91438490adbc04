"""PromptTokenizer: (query, document) pairs wrapped in an LLM reranker's prompt.

Builds the token ids each model card builds (:mod:`openrerank.engine.model.recipes`):
``lead + query part + between + document part + tail``, the document part cut where
the card cuts it. Documents are tokenized once, as ``document prefix + text`` (what the
cards tokenize), and the prefix's own tokens (``document:``, ``B:``) are kept aside, so
that a long document's later windows carry them too; the first window is exactly the
card's truncated pair.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

from openrerank.engine.model.recipes import Recipe
from openrerank.engine.tokenization.vocabulary import to_tokens
from openrerank.errors import InputTooLongError, UnsupportedModelError
from openrerank.types import IntArray, TokenizedText

logger = logging.getLogger(__name__)

_MIN_WINDOW = 8
"""Document tokens a pair must leave room for, with an empty query."""


@dataclass(frozen=True, eq=False)
class PromptQuery:
    """A request's query side of every pair.

    Attributes:
        head: ids before the document's tokens (lead, query part, between, the
            document prefix's tokens).
        tail: ids after them.
        window: document tokens that fit between ``head`` and ``tail``.
    """

    head: IntArray
    tail: IntArray
    window: int


class PromptTokenizer:
    """Encodes pairs in one family's prompt; safe to share across threads.

    Args:
        tokenizer: the model's fast tokenizer; copied and reconfigured, never mutated.
        recipe: the family's prompt and scoring tokens.
        max_length: the card's ``max_length`` (what it bounds depends on the recipe).
        max_positions: positions the model holds; no pair is longer.
        pad_id: the padding token's id.
        bos_id: the BOS token's id, when the tokenizer has one.

    Raises:
        UnsupportedModelError: a scoring token is not one token of this vocabulary, or
            ``max_length`` leaves no room for a document.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        recipe: Recipe,
        *,
        max_length: int,
        max_positions: int,
        pad_id: int,
        bos_id: int | None,
    ) -> None:
        self._plain = Tokenizer.from_str(tokenizer.to_str())
        self._plain.no_padding()
        self._plain.no_truncation()
        self.recipe = recipe
        self.max_length = max_length
        self.max_positions = max_positions
        self.pad_id = pad_id
        bos = [bos_id] if recipe.bos and bos_id is not None and bos_id != pad_id else []
        self._lead = np.asarray(bos + self._joined(recipe.lead), dtype=np.int64)
        self._between = np.asarray(self._joined(recipe.between), dtype=np.int64)
        self._tail = np.asarray(self._joined(recipe.tail), dtype=np.int64)
        self._markers = self._ids(recipe.document.rstrip())
        self.score_token_ids = tuple(self._score_id(token) for token in recipe.score_tokens)
        self._warned = False
        try:
            room = self.encode_query("", recipe.default_instruction).window
        except InputTooLongError:
            room = 0
        if room < _MIN_WINDOW:
            raise UnsupportedModelError(
                f"max_length {max_length} leaves no room for a document in the {recipe.name} prompt"
            )

    @property
    def takes_instruction(self) -> bool:
        """Every recipe reads an instruction (gemma's replaces its task prompt)."""
        return True

    def encode_query(self, query: str, instruction: str | None) -> PromptQuery:
        """The query side of this request's pairs, the query cut as the card cuts it.

        Raises:
            InputTooLongError: the instruction leaves no room for the document.
        """
        recipe = self.recipe
        tail = self._tail_for(instruction)
        if recipe.budget == "whole":
            ids = self._whole_query(query, instruction, len(tail))
        else:
            cap = int(self.max_length * recipe.query_share)
            ids = self._ids(self._query_text(query, instruction))[:cap]
        head = np.concatenate((self._lead, ids, self._between, self._markers))
        window = self._window(len(ids), len(tail))
        if window < 1:
            raise InputTooLongError(
                f"the instruction leaves no room for the document within the model's "
                f"{self.max_length} tokens; send a shorter instruction"
            )
        return PromptQuery(head=head, tail=tail, window=window)

    def encode_texts(self, texts: Sequence[str]) -> list[TokenizedText]:
        """Each document's tokens after the document prefix, offsets into the text."""
        prefix = self.recipe.document
        encodings = self._plain.encode_batch([prefix + t for t in texts], add_special_tokens=False)
        tokens = [to_tokens(encoding) for encoding in encodings]
        return [self._document(text, t, len(prefix)) for text, t in zip(texts, tokens, strict=True)]

    def document_window(self, query: PromptQuery) -> int:
        """Document tokens that fit next to this query in one pair."""
        return query.window

    def pair(self, query: PromptQuery, document_ids: IntArray) -> tuple[IntArray, IntArray]:
        """Input ids (and all-zero segment ids) of one prompt."""
        ids = np.concatenate((query.head, document_ids, query.tail))
        return ids, np.zeros_like(ids)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone, without special tokens."""
        return len(self._plain.encode(text, add_special_tokens=False).ids)

    def _window(self, query_tokens: int, tail_tokens: int) -> int:
        """Document tokens the card keeps next to a query part of ``query_tokens``."""
        fixed = len(self._lead) + query_tokens + len(self._between)
        budget = self.recipe.budget
        if budget == "whole":
            room = self.max_length - fixed - tail_tokens
        elif budget == "body":  # mxbai: query part, between and document part
            room = self.max_length - query_tokens - len(self._between)
        else:  # FlagEmbedding: the passage to max_length, the pair to max_length + prompt
            room = min(self.max_length, self.max_length + tail_tokens - fixed)
        longest = self.max_positions - fixed - tail_tokens
        return min(room, longest) - len(self._markers)

    def _whole_query(self, query: str, instruction: str | None, tail_tokens: int) -> IntArray:
        """The query part with the query text cut so the document keeps its share
        (the Qwen3 card cuts only the end of the whole prompt; a query longer than
        ``query_share`` of the window is cut here instead, so documents are scored)."""
        ids = self._ids(self._query_text(query, instruction))
        fixed = self.max_length - len(self._lead) - tail_tokens
        floor = int(fixed * (1 - self.recipe.query_share))
        excess = floor - self._window(len(ids), tail_tokens)
        if excess <= 0 or not query:
            return ids
        kept = self._cut(query, max(self.count_tokens(query) - excess, 0))
        return self._ids(self._query_text(kept, instruction))

    def _cut(self, text: str, tokens: int) -> str:
        """The longest start of ``text`` that re-tokenizes to at most ``tokens`` tokens."""
        encoding = self._plain.encode(text, add_special_tokens=False)
        for _, end in reversed(encoding.offsets[:tokens]):
            if self.count_tokens(text[:end]) <= tokens:
                return text[:end]
        return ""

    def _query_text(self, query: str, instruction: str | None) -> str:
        recipe = self.recipe
        line = ""
        if instruction is not None and recipe.instruction_line is not None:
            line = recipe.instruction_line.format(instruction=instruction)
        return recipe.query.format(instruction=line, query=query)

    def _tail_for(self, instruction: str | None) -> IntArray:
        recipe = self.recipe
        if instruction is None or recipe.instruction_line is not None:
            return self._tail
        return np.asarray(self._joined((*recipe.tail[:-1], instruction)), dtype=np.int64)

    def _document(self, text: str, tokens: TokenizedText, shift: int) -> TokenizedText:
        markers = self._markers
        n = len(markers)
        if n and not np.array_equal(tokens.ids[:n], markers):
            self._warn_merge()
            alone = self._plain.encode(text, add_special_tokens=False)
            return to_tokens(alone)
        offsets = np.maximum(tokens.offsets[n:] - shift, 0)
        return TokenizedText(ids=tokens.ids[n:], offsets=offsets)

    def _warn_merge(self) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "the tokenizer merges the %s prompt's document prefix %r into a document's "
                "first token; such documents are tokenized alone (their first tokens may "
                "differ from the model card's)",
                self.recipe.name,
                self.recipe.document,
            )

    def _score_id(self, token: str) -> int:
        ids = self._ids(token)
        if ids.shape[0] != 1:
            raise UnsupportedModelError(
                f"the {self.recipe.name} recipe scores the token {token!r}, which this "
                f"tokenizer splits into {ids.shape[0]} tokens: not a {self.recipe.name} model"
            )
        return int(ids[0])

    def _ids(self, text: str) -> IntArray:
        return np.asarray(self._plain.encode(text, add_special_tokens=False).ids, dtype=np.int64)

    def _joined(self, texts: Sequence[str]) -> list[int]:
        return [i for text in texts for i in self._plain.encode(text, add_special_tokens=False).ids]
