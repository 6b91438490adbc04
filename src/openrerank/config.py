"""Typed, frozen configuration handed down to the engine's layers.

Only this module reads the environment (for default locations); everything below
receives these objects and never looks at ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from openrerank.types import BackendName, Precision

DEFAULT_MODEL = "cross-encoder/ms-marco-MiniLM-L-6-v2"
ActivationName = Literal["auto", "sigmoid", "softmax", "identity"]
Aggregation = Literal["max", "mean", "first"]
AGGREGATIONS: tuple[Aggregation, ...] = ("max", "mean", "first")
RerankCompat = Literal["vllm", "infinity"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "bf16", "int8")
BACKENDS: tuple[BackendName, ...] = ("auto", "onnx", "openvino", "torch", "fake")
RERANK_COMPATS: tuple[RerankCompat, ...] = ("vllm", "infinity")


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
        calibration: a calibration file (``openrerank calibrate``); when set,
            relevance scores are calibrated probabilities of relevance instead of the
            model's own activation. Raw scores are unchanged.
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
    calibration: Path | None = None

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
            small batches run fastest: 1,024 beat 4,096 by 17% on 100 short (~90-token)
            pairs and matched it on 256-token pairs (ONNX Runtime fp32, 2 cores); on a GPU
            raise it (e.g. 32,768) to use the device fully, at the cost of memory and
            latency.
        max_batch_size: cap on pairs per batch, whatever their length.
    """

    max_batch_tokens: int = 1_024
    max_batch_size: int = 32

    def __post_init__(self) -> None:
        if self.max_batch_tokens < 1 or self.max_batch_size < 1:
            raise ValueError("max_batch_tokens and max_batch_size must be >= 1")


@dataclass(frozen=True)
class ChunkingConfig:
    """How long documents become windows (DESIGN.md §3).

    Attributes:
        max_tokens_per_doc: documents are cut to this many tokens first, when a request
            does not say (Cohere v2's default is 4,096).
        window_overlap: tokens shared by consecutive windows of one document; capped at
            half a window.
        aggregation: a document's score from its windows' scores: ``max`` (Cohere's
            behaviour), ``mean`` or ``first`` (the first window only, i.e. truncation).
        max_windows_per_request: windows (pairs) one request may score, relevant-span
            pairs included (and at most ``max_queued_pairs``); beyond it the request is
            refused, so its memory stays bounded.
        span_tokens: relevant spans are scored one sentence at a time; a sentence longer
            than this many tokens is cut, one under a quarter of it joins the next.
        chars_per_token: before tokenizing, a document is cut to
            ``max_tokens_per_doc x chars_per_token`` characters, so a huge document costs
            bounded tokenizer time and memory.
    """

    max_tokens_per_doc: int = 4_096
    window_overlap: int = 32
    aggregation: Aggregation = "max"
    max_windows_per_request: int = 40_000
    span_tokens: int = 64
    chars_per_token: int = 16

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        counts = (self.max_tokens_per_doc, self.max_windows_per_request, self.chars_per_token)
        if min(counts) < 1 or self.window_overlap < 0 or self.span_tokens < 4:
            raise ValueError(
                "max_tokens_per_doc, max_windows_per_request and chars_per_token must be >= 1, "
                "window_overlap >= 0 and span_tokens >= 4"
            )


@dataclass(frozen=True)
class EngineConfig:
    """Everything one :class:`~openrerank.engine.service.RerankService` needs.

    Attributes:
        model: which model to load and how.
        batching: how pairs are grouped into model calls.
        chunking: how long documents become windows and how their scores combine.
        max_documents: documents per request; Cohere's limit is 10,000.
        max_query_chars: characters per query, checked before any tokenization.
        max_document_chars: characters per document, checked before any tokenization;
            text past the model window is never scored, so a low limit costs nothing
            in quality and bounds tokenizer work per request.
        max_queued_pairs: pairs admitted at once (running or waiting); beyond it a
            request is refused with :class:`~openrerank.errors.OverloadedError` at once
            instead of queueing without bound. Must allow one full request.
        max_queue_wait_s: a request is refused with
            :class:`~openrerank.errors.OverloadedError` (429) when the pairs already
            admitted would take longer than this to run at the measured throughput, so
            that beyond capacity clients hear "retry later" within milliseconds instead
            of waiting minutes; ``None`` = only ``max_queued_pairs`` bounds the queue.
            Lower it for interactive search, raise it for batch jobs.
        score_cache_size: logits of this many recent (query, window) pairs are kept and
            reused when the same pair comes again (0 = off); about 100 bytes each.
        tokenizer_threads: threads that tokenize requests off the event loop.
    """

    model: ModelConfig
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    max_documents: int = 10_000
    max_query_chars: int = 20_000
    max_document_chars: int = 200_000
    max_queued_pairs: int = 40_000
    max_queue_wait_s: float | None = 10.0
    score_cache_size: int = 0
    tokenizer_threads: int = 1

    def __post_init__(self) -> None:
        limits = (self.max_documents, self.max_query_chars, self.max_document_chars)
        if min(limits) < 1 or self.tokenizer_threads < 1 or self.score_cache_size < 0:
            raise ValueError(
                "document, character and thread limits must be >= 1, the cache size >= 0"
            )
        if self.max_queue_wait_s is not None and not self.max_queue_wait_s > 0:
            raise ValueError(f"max_queue_wait_s must be > 0, got {self.max_queue_wait_s}")
        if self.max_queued_pairs < self.max_documents:
            raise ValueError(
                f"max_queued_pairs ({self.max_queued_pairs}) must be >= max_documents "
                f"({self.max_documents}), or a full request could never be admitted"
            )


COHERE_MODEL_NAMES: tuple[str, ...] = (
    "rerank-v4.0-pro",
    "rerank-v4.0-fast",
    "rerank-v3.5",
    "rerank-english-v3.0",
    "rerank-multilingual-v3.0",
    "rerank-english-v2.0",
    "rerank-multilingual-v2.0",
)
"""Cohere model names that, by default, are aliases of the first served model."""


@dataclass(frozen=True)
class HttpConfig:
    """What the HTTP layer enforces before a request reaches a model, and how it answers.

    Attributes:
        api_keys: accepted bearer keys; empty = no authentication.
        metrics_public: serve ``/metrics`` without a key even when keys are set.
        max_request_bytes: bodies above this are refused (413) before parsing; 10,000
            documents of 2 KB each need about 20 MB.
        cors_origins: browser origins allowed to call the API (``*`` = any); empty =
            no CORS headers at all, so browsers refuse cross-origin calls.
        rerank_compat: whose answer ``POST /rerank`` gives to the Jina/Cohere body
            ``{query, documents}``, which vLLM and infinity both take there: ``vllm``
            returns a document as ``{"text": ...}`` (vLLM, Jina), ``infinity`` as the bare
            string (infinity). Their clients read only their own shape.
    """

    api_keys: tuple[str, ...] = field(default=(), repr=False)
    metrics_public: bool = False
    max_request_bytes: int = 64 * 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    rerank_compat: RerankCompat = "vllm"

    def __post_init__(self) -> None:
        if self.max_request_bytes < 1:
            raise ValueError("max_request_bytes must be >= 1")
        if any(not key.strip() for key in self.api_keys):
            raise ValueError("an API key must not be empty")
        if self.rerank_compat not in RERANK_COMPATS:
            raise ValueError(f"rerank_compat must be one of {RERANK_COMPATS}")


@dataclass(frozen=True)
class ServerConfig:
    """The HTTP server: what it serves, where, and who may call it.

    Attributes:
        models: one engine per served model; the first is the default.
        aliases: extra names (alias -> served model name) a request may use.
        default_aliases: also map :data:`COHERE_MODEL_NAMES` to the default model,
            unless an explicit alias claims the name.
        host: the interface to bind (``0.0.0.0`` for every interface).
        port: the TCP port (0 = any free port).
        http: authentication and request limits.
        log_level: level of the ``openrerank`` and ``uvicorn`` loggers.
        shutdown_grace_s: on SIGTERM, requests in flight get this long to finish while
            new ones are refused with 503; then the process exits 0. Set it below your
            orchestrator's kill timeout (Kubernetes: 30 s) and above your slowest request.
    """

    models: tuple[EngineConfig, ...]
    aliases: tuple[tuple[str, str], ...] = ()
    default_aliases: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    http: HttpConfig = field(default_factory=HttpConfig)
    log_level: str = "info"
    shutdown_grace_s: float = 25.0

    def __post_init__(self) -> None:
        if self.shutdown_grace_s < 0:
            raise ValueError(f"shutdown_grace_s must be >= 0, got {self.shutdown_grace_s}")
        if not self.models:
            raise ValueError("serve at least one model")
        if not 0 <= self.port <= 65_535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        served = [engine.model.name for engine in self.models]
        for alias, target in self.aliases:
            if target not in served:
                raise ValueError(f"alias {alias!r} points at {target!r}, which is not served")

    def alias_table(self) -> dict[str, str]:
        """Every alias -> served model name, defaults first, explicit ones winning."""
        default = self.models[0].model.name
        table = dict.fromkeys(COHERE_MODEL_NAMES, default) if self.default_aliases else {}
        table.update(self.aliases)
        return table
