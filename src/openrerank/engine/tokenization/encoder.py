"""PairEncoder: what turns a query and documents into model-ready pairs, for any model.

A cross-encoder's :class:`~openrerank.engine.tokenization.tokenizer.PairTokenizer`
joins the texts with the tokenizer's own special tokens; an LLM reranker's
:class:`~openrerank.engine.tokenization.prompt.PromptTokenizer` wraps them in its
family's prompt. Both tokenize each document once, so that a long document's windows
are slices of its tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from openrerank.engine.model.spec import ModelSpec
from openrerank.engine.tokenization.prompt import PromptTokenizer
from openrerank.engine.tokenization.tokenizer import PairTokenizer
from openrerank.engine.tokenization.vocabulary import load_tokenizer, pad_id, special_token
from openrerank.types import IntArray, TokenizedText

Query = TypeVar("Query")


class PairEncoder(Protocol[Query]):
    """Encodes (query, document) pairs for one model; safe to share across threads."""

    @property
    def pad_id(self) -> int:
        """The token id batches are padded with."""
        ...

    @property
    def takes_instruction(self) -> bool:
        """Whether :meth:`encode_query` reads an instruction."""
        ...

    def encode_query(self, query: str, instruction: str | None) -> Query:
        """The query side of a request's pairs."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> list[TokenizedText]:
        """Each document's tokens and character offsets."""
        ...

    def document_window(self, query: Query) -> int:
        """Document tokens that fit next to ``query`` in one pair."""
        ...

    def pair(self, query: Query, document_ids: IntArray) -> tuple[IntArray, IntArray]:
        """Input ids and segment ids of one pair."""
        ...


AnyEncoder = PairTokenizer | PromptTokenizer


def load_encoder(directory: Path, spec: ModelSpec) -> AnyEncoder:
    """The encoder a model's spec calls for, from its folder's tokenizer files.

    Raises:
        UnsupportedModelError: no ``tokenizer.json``, or one the recipe cannot use.
        ModelLoadError: a tokenizer file that cannot be read.
    """
    recipe = spec.recipe
    if recipe is None:
        return PairTokenizer.from_directory(directory, max_length=spec.max_length)
    tokenizer = load_tokenizer(directory)
    bos = special_token(directory, "bos_token")
    return PromptTokenizer(
        tokenizer,
        recipe,
        max_length=spec.max_length,
        max_positions=spec.max_positions,
        pad_id=pad_id(tokenizer, special_token(directory, "pad_token")),
        bos_id=tokenizer.token_to_id(bos) if bos is not None else None,
    )
