"""Typed, frozen configuration handed down to the engine's layers.

Only this module reads the environment (for default locations); everything below
receives these objects and never looks at ``os.environ``.

Each field a user can set is declared once, here, with :func:`setting`: its type and
default are the field's, its help text, command-line name and per-model form are in
the :class:`Setting` it carries. ``openrerank serve`` builds its flags, environment
variables (``OPENRERANK_<FLAG>``) and config-file keys from these declarations.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

if TYPE_CHECKING:
    from openrerank.types import BackendName, Precision

DEFAULT_MODEL = "cross-encoder/ms-marco-MiniLM-L-6-v2"
ActivationName = Literal["auto", "sigmoid", "softmax", "identity"]
TemplateName = Literal["auto", "none", "qwen3-reranker", "mxbai-rerank-v2", "bge-reranker-v2-gemma"]
TEMPLATES: tuple[TemplateName, ...] = get_args(TemplateName)
Aggregation = Literal["max", "mean", "first"]
AGGREGATIONS: tuple[Aggregation, ...] = ("max", "mean", "first")
RerankCompat = Literal["vllm", "infinity"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "bf16", "int8")
BACKENDS: tuple[BackendName, ...] = ("auto", "onnx", "openvino", "torch", "fake")
RERANK_COMPATS: tuple[RerankCompat, ...] = ("vllm", "infinity")
LOG_LEVELS: tuple[str, ...] = ("critical", "error", "warning", "info", "debug")
_LOG_LEVEL_ALIASES = {"warn": "warning", "fatal": "critical"}
PerModel = Literal["any", "own", "names"]
SETTING = "openrerank.setting"
"""The key of a field's :class:`Setting` in its dataclass metadata."""
_T = TypeVar("_T")


@dataclass(frozen=True)
class Setting:
    """How one config field is set from the command line, the environment and a file.

    Attributes:
        help: one line for ``--help`` and the README.
        flag: the option's name when it is not the field's (``grace-period`` for
            ``shutdown_grace_s``); its environment variable is ``OPENRERANK_<FLAG>``.
        per_model: for a server of several models, ``None`` = one value for all;
            ``any`` = ``VALUE`` for every model or ``MODEL=VALUE`` for one (repeatable);
            ``own`` = ``VALUE`` when one model is served, else ``MODEL=VALUE``;
            ``names`` = a switch, on for the served models named.
        zero_is_none: ``0`` on the command line means ``None`` (no limit).
        existing_file: the value is a path that must name a file.
        default_text: how the default reads in help when the value does not say
            (``None`` = "the model's own").
    """

    help: str
    flag: str | None = None
    per_model: PerModel | None = None
    zero_is_none: bool = False
    existing_file: bool = False
    default_text: str | None = None


def setting(default: _T, help: str, **how: Any) -> _T:
    """A dataclass field with ``default`` that users can set (see :class:`Setting`)."""
    declared: _T = field(default=default, metadata={SETTING: Setting(help, **how)})
    return declared


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
        template: an LLM reranker's prompt recipe: ``auto`` detects it from the
            checkpoint's ``model_type`` (qwen3, qwen2, gemma); a name forces it;
            ``none`` reads the model as a plain cross-encoder.
        instruction: the instruction of an LLM reranker's prompt when a request sends
            none; ``None`` = the model card's default.
    """

    name: str
    revision: str | None = setting(
        None, "Pinned hub revision (branch, tag or commit).", default_text="main"
    )
    backend: BackendName = setting("auto", "Runtime; auto = onnx on CPU, torch on CUDA.")
    precision: Precision = setting(
        "fp32", "int8 on onnx (faster on CPU, slightly different scores); fp16/bf16 on torch."
    )
    device: str = setting("cpu", "cpu or cuda[:N].")
    max_length: int | None = setting(
        None, "Tokens per pair, special tokens included.", default_text="the model's"
    )
    activation: ActivationName = setting(
        "auto", "Score activation; auto reads it from the model's files."
    )
    threads: int | None = setting(None, "Model threads.", default_text="all cores")
    trust_remote_code: bool = setting(
        False,
        "MODEL: let this served model run Python code shipped with it (unsafe: only for "
        "models you trust). Repeatable; off for every other model.",
        per_model="names",
    )
    cache_dir: Path | None = None  # the environment's OPENRERANK_CACHE (default_cache_dir)
    calibration: Path | None = setting(
        None,
        "A calibration file from `openrerank calibrate`: relevance_score becomes the "
        "calibrated probability of relevance. FILE for the only served model, MODEL=FILE "
        "for one of several. Repeatable.",
        per_model="own",
        existing_file=True,
        default_text="none",
    )
    template: TemplateName = setting(
        "auto",
        "An LLM reranker's prompt recipe (auto: from the checkpoint's model_type); "
        "MODEL=NAME for one served model. Repeatable.",
        per_model="any",
    )
    instruction: str | None = setting(
        None,
        "An LLM reranker's instruction when a request sends none: TEXT for the only "
        "served model, MODEL=TEXT for one of several. Repeatable.",
        per_model="own",
        default_text="the model card's",
    )

    def __post_init__(self) -> None:
        if self.template not in TEMPLATES:
            raise ValueError(f"template must be one of {TEMPLATES}, got {self.template!r}")
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

    max_batch_tokens: int = setting(
        1_024,
        "Padded tokens per model call: 1024 is the CPU optimum measured; on a GPU use e.g. "
        "32768 (costs memory and latency).",
    )
    max_batch_size: int = setting(32, "Pairs per model call at most, whatever their length.")

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

    max_tokens_per_doc: int = setting(
        4_096, "Tokens of each document scored when a request does not say (Cohere: 4096)."
    )
    window_overlap: int = setting(
        32, "Tokens shared by consecutive windows (at most half a window)."
    )
    aggregation: Aggregation = setting(
        "max",
        "A long document's score from its windows' scores: max (Cohere's), mean or first; "
        "MODEL=METHOD sets it for one served model. Repeatable.",
        per_model="any",
    )
    max_windows_per_request: int = setting(
        40_000, "Windows one request may score (bounds its memory); beyond it a 400."
    )
    span_tokens: int = setting(64, "Tokens of one relevant span (a sentence) at most.")
    chars_per_token: int = setting(
        16, "Characters kept per allowed token before tokenizing (bounds tokenizer work)."
    )

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
    max_documents: int = setting(10_000, "Documents per request (Cohere's limit).")
    max_query_chars: int = setting(
        20_000, "Characters per query; more is refused (413) before any tokenization."
    )
    max_document_chars: int = setting(
        200_000,
        "Characters per document; more is refused (413) before any tokenization (text past "
        "the window is not scored anyway).",
    )
    max_queued_pairs: int = setting(
        40_000, "Pairs admitted at once per model; beyond it requests get 429 at once."
    )
    max_queue_wait_s: float | None = setting(
        10.0,
        "Seconds of queued work (at the measured throughput) beyond which new requests get "
        "429 + Retry-After at once; 0 = no limit. Lower fails fast under overload, higher "
        "queues more for batch jobs.",
        flag="max-queue-wait",
        zero_is_none=True,
    )
    score_cache_size: int = setting(
        0,
        "Reuse the scores of this many recent (query, window) pairs; 0 = off. Saves the "
        "model's time on repeated pairs, costs ~100 bytes per pair.",
    )
    tokenizer_threads: int = setting(1, "Threads that tokenize requests off the event loop.")

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
        ready_public: serve ``/ready`` without a key even when keys are set, so an
            orchestrator's readiness probe (which cannot send a secret) gets through.
        max_request_bytes: bodies above this are refused (413) before parsing; 10,000
            documents of 2 KB each need about 20 MB.
        cors_origins: browser origins allowed to call the API (``*`` = any); empty =
            no CORS headers at all, so browsers refuse cross-origin calls.
        rerank_compat: whose answer ``POST /rerank`` gives to the Jina/Cohere body
            ``{query, documents}``, which vLLM and infinity both take there: ``vllm``
            returns a document as ``{"text": ...}`` (vLLM, Jina), ``infinity`` as the bare
            string (infinity). Their clients read only their own shape.
        playground: serve the playground page (``GET /`` and ``/playground``); ``None``
            = decided by the bind address (:class:`ServerConfig` turns it on for a
            loopback host, off otherwise); an app built from this object alone serves
            it only when it is ``True``.
    """

    api_keys: tuple[str, ...] = field(
        default=(),
        repr=False,
        metadata={
            SETTING: Setting(
                "Accepted bearer key; repeat for several. When set, every route but /health "
                "needs Authorization: Bearer <key>; keys are compared in constant time and "
                "never logged.",
                flag="api-key",
                default_text="none (open)",
            )
        },
    )
    metrics_public: bool = setting(False, "Serve /metrics without a key (lets Prometheus scrape).")
    ready_public: bool = setting(
        False, "Serve /ready without a key (lets Kubernetes' and compose's probes through)."
    )
    max_request_bytes: int = setting(
        64 * 1024 * 1024, "Largest request body in bytes; larger ones get 413 unread."
    )
    cors_origins: tuple[str, ...] = setting(
        (),
        "Browser origin allowed to call the API (* = any); repeatable. Preflights need no key.",
        flag="cors-origin",
        default_text="none: no CORS headers",
    )
    rerank_compat: RerankCompat = setting(
        "vllm",
        "Whose answer POST /rerank gives to the {query, documents} body: vllm returns a "
        'document as {"text": ...} (vLLM, Jina), infinity as the bare string (infinity\'s '
        "clients, LiteLLM's infinity/). Each one's clients refuse the other's shape; TEI's "
        "{query, texts} body is answered as TEI does.",
    )
    playground: bool | None = setting(
        None,
        "Serve a page at / and /playground to try the served models in a browser (no CDN; "
        "with keys set the page loads without one, its API calls still need one).",
        default_text="on for a loopback --host, else off",
    )

    def __post_init__(self) -> None:
        if self.max_request_bytes < 1:
            raise ValueError("max_request_bytes must be >= 1")
        if any(not key.strip() for key in self.api_keys):
            raise ValueError("an API key must not be empty")
        if self.rerank_compat not in RERANK_COMPATS:
            raise ValueError(f"rerank_compat must be one of {RERANK_COMPATS}")


@dataclass(frozen=True)
class ReplicaConfig:
    """Replicas on Ray Serve (``serve --ray``): where, how many, and what each reserves.

    Attributes:
        ray: ``None`` = one process, no Ray; ``local`` = a private Ray on this machine;
            else a Ray cluster's address.
        replicas: replicas at start (and always, without autoscaling).
        min_replicas: with ``max_replicas``, autoscaling's floor (default 1).
        max_replicas: turns autoscaling on, up to this many replicas.
        target_ongoing_requests: autoscaling's target of requests in flight per replica.
        max_ongoing_requests: requests one replica takes at once; more queue in the
            proxy. Each replica batches what it takes, so this is well above 1.
        cpus_per_replica: logical CPUs a replica reserves (and its model threads, unless
            ``--threads``); ``None`` = this machine's cores / replicas with ``local``, else 1.
        gpus_per_replica: GPUs a replica reserves.
    """

    ray: str | None = setting(
        None,
        "Serve on Ray Serve: local = a private Ray on this machine, else a cluster's "
        "address (needs the ray extra).",
        default_text="off: one process",
    )
    replicas: int = setting(1, "With --ray: replicas (at start, when autoscaling).")
    min_replicas: int | None = setting(None, "With --ray and --max-replicas: fewest replicas.")
    max_replicas: int | None = setting(None, "With --ray: autoscale up to this many replicas.")
    target_ongoing_requests: float = setting(
        8.0, "With --ray autoscaling: requests in flight per replica to aim for."
    )
    max_ongoing_requests: int = setting(
        64, "With --ray: requests one replica takes at once (it batches them)."
    )
    cpus_per_replica: float | None = setting(
        None,
        "With --ray: CPUs each replica reserves (and its threads unless --threads).",
        default_text="cores / replicas with local, else 1",
    )
    gpus_per_replica: float = setting(0.0, "With --ray: GPUs each replica reserves.")

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError(f"replicas must be >= 1, got {self.replicas}")
        if self.max_replicas is None:
            if self.min_replicas is not None:
                raise ValueError("min_replicas sets autoscaling's floor: give max_replicas too")
        else:
            floor = self.min_replicas if self.min_replicas is not None else 1
            if not 0 <= floor <= self.replicas <= self.max_replicas:
                raise ValueError(
                    "autoscaling needs 0 <= min_replicas (1) <= replicas <= max_replicas, got "
                    f"{floor}, {self.replicas}, {self.max_replicas}"
                )
        if self.max_ongoing_requests < 1 or self.target_ongoing_requests <= 0:
            raise ValueError("max_ongoing_requests and target_ongoing_requests must be > 0")


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
        replicas: replicas on Ray Serve (``ray=None``: this process only).
    """

    models: tuple[EngineConfig, ...]
    aliases: tuple[tuple[str, str], ...] = ()
    default_aliases: bool = setting(
        True, "Map Cohere names (" + ", ".join(COHERE_MODEL_NAMES) + ") to the default model."
    )
    host: str = setting("127.0.0.1", "Interface to bind; 0.0.0.0 exposes it on every interface.")
    port: int = setting(8000, "TCP port.")
    http: HttpConfig = field(default_factory=HttpConfig)
    log_level: str = setting(
        "info",
        "Level of the openrerank and uvicorn loggers: debug, info, warning, error or "
        "critical, in any case (also openrerank --log-level).",
    )
    shutdown_grace_s: float = setting(
        25.0,
        "On SIGTERM, seconds for requests in flight to finish while new ones get 503 and "
        "/ready fails; then exit 0. Keep it under the orchestrator's kill timeout.",
        flag="grace-period",
    )
    replicas: ReplicaConfig = field(default_factory=ReplicaConfig)

    def __post_init__(self) -> None:
        level = _LOG_LEVEL_ALIASES.get(self.log_level.lower(), self.log_level.lower())
        if level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {LOG_LEVELS}, got {self.log_level!r}")
        object.__setattr__(self, "log_level", level)
        if self.shutdown_grace_s < 0:
            raise ValueError(f"shutdown_grace_s must be >= 0, got {self.shutdown_grace_s}")
        if not self.models:
            raise ValueError("serve at least one model")
        if not 0 <= self.port <= 65_535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if self.http.playground is None:
            http = replace(self.http, playground=is_loopback(self.host))
            object.__setattr__(self, "http", http)
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


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine (``localhost``,
    ``127.0.0.0/8``, ``::1``); ``0.0.0.0``, ``::`` and names are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
