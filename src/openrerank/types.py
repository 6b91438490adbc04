"""Plain data shared by every layer: encoded pairs, batches' results and ranked outcomes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt

BackendName = Literal["auto", "onnx", "openvino", "torch", "fake"]
Precision = Literal["fp32", "fp16", "bf16", "int8"]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
Document = str | Mapping[str, Any]
"""A document as sent: a string, or an object (rendered with ``rank_fields``)."""


@dataclass(frozen=True, eq=False)
class EncodedPair:
    """One (query, document window) pair, ready for a model.

    A document longer than the model window may become several pairs that share
    ``doc_index`` and differ in ``chunk_index``; the service aggregates them.

    Attributes:
        input_ids: token ids including the model's special tokens.
        type_ids: segment ids from the tokenizer's pair template.
        doc_index: position of the document in the caller's list.
        chunk_index: position of this window inside the document (0 when unsplit).
    """

    input_ids: IntArray
    type_ids: IntArray
    doc_index: int
    chunk_index: int = 0

    @property
    def n_tokens(self) -> int:
        """Number of tokens the model reads for this pair."""
        return int(self.input_ids.shape[0])


@dataclass(frozen=True, eq=False)
class TokenizedText:
    """A text's tokens without special tokens, and where each came from.

    Attributes:
        ids: token ids.
        offsets: ``(n, 2)`` character ranges ``[start, end)`` of each token in the text.
    """

    ids: IntArray
    offsets: IntArray

    @property
    def n_tokens(self) -> int:
        """How many tokens the text has."""
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class SpanOptions:
    """Ask for relevant spans (Cohere's ``relevant_spans``, mode ``enabled``).

    Attributes:
        threshold: only spans whose relevance score reaches this (0..1) are returned.
        max_spans: at most this many spans per document, best first; ``None`` = all.
    """

    threshold: float = 0.1
    max_spans: int | None = None


@dataclass(frozen=True)
class Span:
    """A stretch of a document that matched the query.

    Attributes:
        start: the first character, in code points, of the document as sent.
        end: one past the last character, so the span is ``document[start:end]``.
        score: the span's relevance score on its own, in [0, 1].
    """

    start: int
    end: int
    score: float


class DocumentOptions(TypedDict, total=False):
    """How documents are read and cut (Cohere's request options); all optional.

    Keys:
        max_tokens_per_doc: tokens of each document that are scored (default 4,096).
        max_chunks_per_doc: windows per document; 1 = plain truncation; default: as
            many as ``max_tokens_per_doc`` needs.
        rank_fields: the keys of object documents to score, in order, as
            ``key: value`` lines; absent or empty: their ``text`` field. A record
            with none of them is scored by its ``text``, or as empty text.
        truncation_side: ``"right"`` (the default) keeps a long document's start
            and drops its end; ``"left"`` keeps its end (TEI's
            ``truncation_direction: "Left"``).
        relevant_spans: also return each document's matching spans (string
            documents; ``rerank`` only).
    """

    max_tokens_per_doc: int | None
    max_chunks_per_doc: int | None
    rank_fields: Sequence[str] | None
    truncation_side: Literal["left", "right"]
    relevant_spans: SpanOptions | None


class ScoringOptions(DocumentOptions, total=False):
    """:class:`DocumentOptions` plus how the service scores and schedules.

    Keys:
        raw: report raw logits instead of relevance scores (same order).
        truncate: false refuses a document that does not fit one window
            (text-embeddings-inference's ``truncate: false``); windows are off.
        priority: under load, lower values are served first (Cohere v2 ``priority``).
        structured: read YAML and JSON strings as records (default true).
        instruction: the task an LLM reranker judges relevance for (vLLM's
            ``instruction``); replaces the operator's and the model card's default. A
            cross-encoder takes none.
    """

    raw: bool
    truncate: bool
    priority: int
    structured: bool
    instruction: str | None


@dataclass(frozen=True)
class RankResult:
    """One ranked document.

    Attributes:
        index: position of the document in the caller's list.
        relevance_score: the model's activation of its logit, in [0, 1] for sigmoid
            and softmax models (the raw logit when raw scores were asked for).
        document: the document as sent when requested, else ``None``.
        relevant_spans: when spans were asked for, the spans at or above the threshold,
            best first (possibly empty); else ``None``.
    """

    index: int
    relevance_score: float
    document: Document | None = None
    relevant_spans: tuple[Span, ...] | None = None


@dataclass(frozen=True)
class Usage:
    """What one request cost: documents, pairs (windows) and tokens scored."""

    documents: int
    pairs: int
    tokens: int


@dataclass(frozen=True)
class RerankOutcome:
    """The service's answer to one rerank call: sorted results plus usage."""

    results: list[RankResult] = field(default_factory=list)
    usage: Usage = field(default_factory=lambda: Usage(0, 0, 0))
