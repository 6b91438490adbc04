"""Typed, frozen configuration handed down to the engine's layers.

Only this module reads the environment (for default locations); everything below
receives these objects and never looks at ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from openrerank.types import BackendName, Precision

DEFAULT_MODEL = "cross-encoder/ms-marco-MiniLM-L-6-v2"
ActivationName = Literal["auto", "sigmoid", "softmax", "identity"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "bf16", "int8")
BACKENDS: tuple[BackendName, ...] = ("auto", "onnx", "torch", "fake")


def default_cache_dir() -> Path:
    """Where exported and quantized ONNX files are kept: ``$OPENRERANK_CACHE`` or XDG."""
    explicit = os.environ.get("OPENRERANK_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "openrerank"


@dataclass(frozen=True)
class ModelConfig:
    """How to load and run one model.

    Attributes:
        name: a Hugging Face model id or a local directory.
        revision: a pinned hub revision (branch, tag or commit); ``None`` = ``main``.
        backend: ``auto`` picks ONNX Runtime on CPU and PyTorch on CUDA or for fp16/bf16.
        precision: fp32 everywhere; int8 on ONNX (dynamic quantization); fp16/bf16 on torch.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        max_length: tokens per pair including special tokens; ``None`` = the model's own.
        activation: ``auto`` reads it from the model files; others force it.
        threads: intra-op threads for the backend; ``None`` = available cores.
        trust_remote_code: let transformers run code shipped with the model (off by default).
        cache_dir: where ONNX exports are cached; ``None`` = :func:`default_cache_dir`.
    """

    name: str
    revision: str | None = None
    backend: BackendName = "auto"
    precision: Precision = "fp32"
    device: str = "cpu"
    max_length: int | None = None
    activation: ActivationName = "auto"
    threads: int | None = None
    trust_remote_code: bool = False
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.max_length is not None and self.max_length < 8:
            raise ValueError(f"max_length must be >= 8, got {self.max_length}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")


@dataclass(frozen=True)
class BatchingConfig:
    """How pairs are grouped into model calls.

    Attributes:
        max_batch_tokens: padded-token budget per batch (longest pair x pairs). On CPU
            small batches run fastest (4,096 = 16 pairs of 256 tokens measured best on
            ONNX Runtime); on a GPU raise it (e.g. 32,768) to use the device fully, at the
            cost of memory and latency.
        max_batch_size: cap on pairs per batch, whatever their length.
    """

    max_batch_tokens: int = 4_096
    max_batch_size: int = 32

    def __post_init__(self) -> None:
        if self.max_batch_tokens < 1 or self.max_batch_size < 1:
            raise ValueError("max_batch_tokens and max_batch_size must be >= 1")


@dataclass(frozen=True)
class EngineConfig:
    """Everything one :class:`~openrerank.service.RerankService` needs."""

    model: ModelConfig
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    max_documents: int = 10_000
    tokenizer_threads: int = 1
