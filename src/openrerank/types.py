"""Plain data shared by every layer: encoded pairs, batches' results and ranked outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

BackendName = Literal["auto", "onnx", "openvino", "torch", "fake"]
Precision = Literal["fp32", "fp16", "bf16", "int8"]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


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
        truncated: tokens of the document were cut to fit the window.
    """

    input_ids: IntArray
    type_ids: IntArray
    doc_index: int
    chunk_index: int = 0
    truncated: bool = False

    @property
    def n_tokens(self) -> int:
        """Number of tokens the model reads for this pair."""
        return int(self.input_ids.shape[0])


@dataclass(frozen=True)
class RankResult:
    """One ranked document.

    Attributes:
        index: position of the document in the caller's list.
        relevance_score: the model's activation of its logit, in [0, 1] for sigmoid
            and softmax models (the raw logit when raw scores were asked for).
        document: the document text when requested, else ``None``.
    """

    index: int
    relevance_score: float
    document: str | None = None


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
