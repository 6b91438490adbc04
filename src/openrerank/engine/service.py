"""RerankService: the one rerank algorithm, for the library, the CLI and the server.

validate -> render, tokenize and split into windows
(:mod:`openrerank.engine.documents.prepare`, on a pool, off the event loop) -> infer
(on the model's thread) -> NaN guard -> aggregate windows -> activation -> relevant
spans -> sort -> top_n.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Unpack

import numpy as np

from openrerank.config import EngineConfig
from openrerank.engine.backends.base import Backend
from openrerank.engine.backends.registry import choose_backend, create_backend
from openrerank.engine.documents.aggregate import aggregate
from openrerank.engine.documents.prepare import Prepared, PrepareOptions, prepare
from openrerank.engine.documents.spans import select_spans
from openrerank.engine.model.activation import raw_logit, relevance
from openrerank.engine.model.calibration import Calibration, load_calibration
from openrerank.engine.model.resolve import ModelFiles, resolve_model
from openrerank.engine.model.spec import ModelSpec, read_spec
from openrerank.engine.scheduling.cache import PairCache
from openrerank.engine.scheduling.scheduler import Scheduler
from openrerank.engine.scheduling.worker import InferenceWorker
from openrerank.engine.tokenization.encoder import AnyEncoder, load_encoder
from openrerank.engine.tokenization.prompt import PromptTokenizer
from openrerank.engine.validation import (
    check_documents,
    check_instruction,
    check_positive,
    check_query,
    check_rank_fields,
    check_span_options,
    check_top_n,
    check_truncation_side,
)
from openrerank.errors import (
    BackendError,
    EngineClosedError,
    InputTooLongError,
    InvalidInputError,
    ScoreError,
    UnsupportedModelError,
)
from openrerank.types import (
    Document,
    EncodedPair,
    FloatArray,
    RankResult,
    RerankOutcome,
    ScoringOptions,
    Span,
    SpanOptions,
    Usage,
)

logger = logging.getLogger(__name__)

PROBE_TEXT = "readiness probe"
PROBE_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ModelInfo:
    """What a running service serves."""

    name: str
    revision: str
    backend: str
    precision: str
    device: str
    max_length: int
    num_labels: int
    activation: str
    model_file: str | None = None
    calibration: str | None = None
    template: str | None = None
    instruction: str | None = None


@dataclass(frozen=True)
class ServiceStats:
    """Counters since start: scored work, and the pairs admitted right now."""

    requests: int
    documents: int
    pairs: int
    tokens: int
    queued_pairs: int
    cache_hits: int = 0
    cache_misses: int = 0
    dropped_pairs: int = 0
    failed_batches: int = 0


@dataclass(frozen=True)
class _Options:
    raw: bool
    truncate: bool
    priority: int
    prepare: PrepareOptions
    spans: SpanOptions | None


@dataclass(frozen=True)
class _Scored:
    scores: FloatArray
    strength: FloatArray
    usage: Usage
    spans: list[tuple[Span, ...]] | None


@dataclass(frozen=True)
class _Loaded:
    files: ModelFiles
    spec: ModelSpec
    tokenizer: AnyEncoder
    backend: Backend
    calibration: Calibration | None


class RerankService:
    """Scores documents against a query with one model.

    Use as ``async with RerankService(config) as service:`` or call
    :meth:`start` and :meth:`stop`.

    Args:
        config: the model, batching and limits.
        backend: an already loaded backend (e.g. a ``FakeBackend``) to use instead of
            the one the config names; the model's files still supply the tokenizer.
    """

    def __init__(self, config: EngineConfig, *, backend: Backend | None = None) -> None:
        self.config = config
        self._given_backend = backend
        self._loaded: _Loaded | None = None
        self._scheduler: Scheduler | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._totals = Usage(0, 0, 0)
        self._requests = 0
        self._last_probe = -math.inf
        self._past_scheduler_counts = (0, 0)  # dropped pairs, failed batches before stop()

    async def start(self) -> None:
        """Resolve, read and load the model; idempotent."""
        if self._scheduler is not None:
            return
        self._pool = ThreadPoolExecutor(
            self.config.tokenizer_threads, thread_name_prefix="openrerank-tokenize"
        )
        try:
            loaded = await asyncio.get_running_loop().run_in_executor(self._pool, self._load)
        except BaseException:
            self._pool.shutdown(wait=False)
            self._pool = None
            raise
        self._loaded = loaded
        self._scheduler = Scheduler(
            InferenceWorker(loaded.backend),
            self.config.batching,
            pad_id=loaded.tokenizer.pad_id,
            max_queued_pairs=self.config.max_queued_pairs,
            max_queue_wait_s=self.config.max_queue_wait_s,
            cache=PairCache(self.config.score_cache_size) if self.config.score_cache_size else None,
            attention_tokens=loaded.spec.attention_tokens,
        )
        self._scheduler.start()

    def _load(self) -> _Loaded:
        model = self.config.model
        files = resolve_model(model.name, revision=model.revision, weights=False)
        spec = read_spec(
            files.directory,
            max_length=model.max_length,
            activation=model.activation,
            template=model.template,
        )
        if self._given_backend is None and choose_backend(model, spec) != "onnx":
            files = resolve_model(model.name, revision=model.revision, weights=True)
        tokenizer = load_encoder(files.directory, spec)
        if model.instruction is not None and not tokenizer.takes_instruction:
            raise UnsupportedModelError(
                f"{files.name} is a cross-encoder, which takes no instruction; "
                "an instruction is for LLM rerankers"
            )
        if spec.causal_lm and isinstance(tokenizer, PromptTokenizer):
            spec = replace(spec, score_token_ids=tokenizer.score_token_ids)
        calibration = _read_calibration(model.calibration, files)
        backend = self._given_backend or create_backend(files, spec, model)
        return _Loaded(files, spec, tokenizer, backend, calibration)

    async def stop(self) -> None:
        """Finish running batches and release the model; idempotent."""
        scheduler, pool = self._scheduler, self._pool
        self._scheduler, self._pool = None, None
        if scheduler is not None:
            await scheduler.close()
            self._past_scheduler_counts = (
                self._past_scheduler_counts[0] + scheduler.dropped_pairs,
                self._past_scheduler_counts[1] + scheduler.failed_batches,
            )
        if pool is not None:
            pool.shutdown(wait=False)

    async def __aenter__(self) -> RerankService:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def ready(self) -> bool:
        """The model is loaded, its worker thread accepts work, and its last batches
        did not all fail (see :meth:`check`)."""
        scheduler = self._scheduler
        return scheduler is not None and scheduler.alive and scheduler.healthy

    async def check(self) -> bool:
        """:attr:`ready`, after probing a model marked unhealthy with one small pair.

        Repeated batch failures mark the model not ready; a readiness check then runs
        a probe (at most one per :data:`PROBE_INTERVAL_S`), and a probe that succeeds
        makes it ready again, so a model that recovers does not stay out of rotation.
        """
        scheduler, loaded = self._scheduler, self._loaded
        if scheduler is None or loaded is None or not scheduler.alive or scheduler.healthy:
            return self.ready
        now = time.monotonic()
        if now - self._last_probe >= PROBE_INTERVAL_S:
            self._last_probe = now
            options = prepare_options_for(
                self.config, {}, instruction=self._default_instruction(loaded)
            )
            probe = prepare(loaded.tokenizer, PROBE_TEXT, [PROBE_TEXT], options).pairs
            try:
                await asyncio.wait_for(scheduler.probe(probe), PROBE_TIMEOUT_S)
            except Exception:  # whatever the probe hit, it only means "not ready yet"
                logger.warning("the readiness probe failed; the model stays not ready")
        return self.ready

    @property
    def stats(self) -> ServiceStats:
        """A snapshot of the counters."""
        totals, scheduler, past = self._totals, self._scheduler, self._past_scheduler_counts
        cache = scheduler.cache if scheduler else None
        return ServiceStats(
            requests=self._requests,
            documents=totals.documents,
            pairs=totals.pairs,
            tokens=totals.tokens,
            queued_pairs=scheduler.queued_pairs if scheduler else 0,
            cache_hits=cache.hits if cache else 0,
            cache_misses=cache.misses if cache else 0,
            dropped_pairs=past[0] + (scheduler.dropped_pairs if scheduler else 0),
            failed_batches=past[1] + (scheduler.failed_batches if scheduler else 0),
        )

    @property
    def info(self) -> ModelInfo:
        """The served model, its backend and its window."""
        loaded = self._require()[0]
        backend = loaded.backend.info
        return ModelInfo(
            name=loaded.files.name,
            revision=loaded.files.revision,
            backend=backend.name,
            precision=backend.precision,
            device=backend.device,
            max_length=loaded.spec.max_length,
            num_labels=loaded.spec.num_labels,
            activation=loaded.spec.activation,
            model_file=backend.model_file,
            calibration=loaded.calibration.method if loaded.calibration else None,
            template=loaded.spec.template,
            instruction=self._default_instruction(loaded),
        )

    async def rerank(
        self,
        query: str,
        documents: Sequence[Document],
        *,
        top_n: int | None = None,
        return_documents: bool = False,
        **options: Unpack[ScoringOptions],
    ) -> RerankOutcome:
        """Rank documents by relevance to the query, best first.

        A document longer than the model window next to the query is cut to
        ``max_tokens_per_doc`` tokens and split into overlapping windows; its score
        combines its windows' (``max`` unless the operator chose otherwise).

        Args:
            query: the search query (non-blank).
            documents: 1..``max_documents`` strings or objects; never modified.
            top_n: keep only the best ``top_n`` results; ``None`` keeps all.
            return_documents: include each document, as sent, in its result.
            **options: see :class:`~openrerank.types.ScoringOptions`.

        Raises:
            InvalidInputError: a bad query, document list, option or ``top_n``; too
                many windows for one request.
            InputTooLongError: text over the character limits, or over the window
                with ``truncate=False``.
            OverloadedError: too many pairs are already admitted.
            ScoreError: the model produced NaN or infinite scores.
        """
        limit = check_top_n(top_n)
        texts = check_documents(documents, limit=self.config.max_documents)
        check_span_options(options.get("relevant_spans"), texts)
        scored = await self._score(check_query(query), texts, self._options(options))
        order = np.argsort(-scored.strength, kind="stable")[:limit]
        results = [
            RankResult(
                int(i),
                float(scored.scores[i]),
                texts[i] if return_documents else None,
                scored.spans[i] if scored.spans is not None else None,
            )
            for i in order
        ]
        return RerankOutcome(results=results, usage=scored.usage)

    async def score(
        self, query: str, documents: Sequence[Document], **options: Unpack[ScoringOptions]
    ) -> FloatArray:
        """One score per document, in input order (options as in :meth:`rerank`).

        Raises:
            InvalidInputError: as :meth:`rerank`, or ``relevant_spans`` given (only
                :meth:`rerank` returns spans).
        """
        if options.get("relevant_spans") is not None:
            raise InvalidInputError("score() returns scores only; use rerank() for spans")
        texts = check_documents(documents, limit=self.config.max_documents)
        return (await self._score(check_query(query), texts, self._options(options))).scores

    def _options(self, options: ScoringOptions) -> _Options:
        truncate = options.get("truncate", True)
        instruction = self._instruction(options.get("instruction"))
        prepare_options = prepare_options_for(self.config, options, instruction=instruction)
        return _Options(
            raw=options.get("raw", False),
            truncate=truncate,
            priority=options.get("priority", 0),
            prepare=prepare_options,
            spans=options.get("relevant_spans"),
        )

    async def _score(self, query: str, documents: list[Document], options: _Options) -> _Scored:
        loaded, scheduler, pool = self._require()
        loop = asyncio.get_running_loop()
        with scheduler.admission(len(documents)):
            prepared = await loop.run_in_executor(
                pool, prepare, loaded.tokenizer, query, documents, options.prepare
            )
        if not options.truncate and prepared.cut:
            _refuse_cut(prepared.cut, loaded.spec.max_length)
        with scheduler.admission(len(prepared.pairs)):
            logits = await scheduler.infer(prepared.pairs, priority=options.priority)
        return self._aggregate(loaded, prepared, logits, options, len(documents))

    def _aggregate(
        self,
        loaded: _Loaded,
        prepared: Prepared,
        logits: FloatArray,
        options: _Options,
        n_documents: int,
    ) -> _Scored:
        pairs, spec = prepared.pairs, loaded.spec
        _check_logits(logits, pairs, spec.num_labels)
        windows = pairs[: prepared.n_windows]
        window_logits = logits[: prepared.n_windows]
        rows = aggregate(
            window_logits,
            strength=raw_logit(window_logits, spec.positive_index),
            doc_indices=[p.doc_index for p in windows],
            chunk_indices=[p.chunk_index for p in windows],
            n_documents=n_documents,
            method=self.config.chunking.aggregation,
        )
        strength = raw_logit(rows, spec.positive_index)
        scores = strength if options.raw else _relevance(loaded, rows)
        spans = None
        if options.spans is not None:
            span_scores = _relevance(loaded, logits)
            spans = select_spans(prepared.spans, span_scores, options.spans, n_documents)
        usage = Usage(n_documents, len(pairs), sum(p.n_tokens for p in pairs))
        self._count(usage)
        return _Scored(scores, strength, usage, spans)

    def _instruction(self, requested: str | None) -> str | None:
        """The request's instruction, else the operator's, else the model card's.

        Raises:
            InvalidInputError: an instruction for a model that takes none, or not a string.
        """
        loaded = self._require()[0]
        if requested is None:
            return self._default_instruction(loaded)
        if not isinstance(requested, str):
            raise InvalidInputError(f"instruction must be a string, got {type(requested).__name__}")
        if not loaded.tokenizer.takes_instruction:
            raise InvalidInputError(
                f"model {self.config.model.name} is a cross-encoder and takes no "
                "instruction; send the request without 'instruction', or serve an LLM "
                "reranker (Qwen3-Reranker, mxbai-rerank-v2, bge-reranker-v2-gemma)"
            )
        check_instruction(requested, self.config.max_query_chars)
        return requested

    def _default_instruction(self, loaded: _Loaded) -> str | None:
        recipe = loaded.spec.recipe
        if recipe is None:
            return None
        return self.config.model.instruction or recipe.default_instruction

    def _count(self, usage: Usage) -> None:
        totals = self._totals
        self._requests += 1
        self._totals = Usage(
            totals.documents + usage.documents,
            totals.pairs + usage.pairs,
            totals.tokens + usage.tokens,
        )

    def _require(self) -> tuple[_Loaded, Scheduler, ThreadPoolExecutor]:
        if self._loaded is None or self._scheduler is None or self._pool is None:
            raise EngineClosedError("the rerank service is not running; call start() first")
        return self._loaded, self._scheduler, self._pool


def _relevance(loaded: _Loaded, logits: FloatArray) -> FloatArray:
    """Relevance scores of logit rows: calibrated when the operator gave a calibration."""
    spec = loaded.spec
    if loaded.calibration is not None:
        return loaded.calibration.apply(raw_logit(logits, spec.positive_index))
    return relevance(logits, spec.activation, spec.positive_index)


def _read_calibration(path: Path | None, files: ModelFiles) -> Calibration | None:
    """The model's calibration file, checked against the loaded revision."""
    if path is None:
        return None
    calibration = load_calibration(path)
    calibration.check_revision(files.revision)
    logger.info("%s: relevance scores calibrated by %s (%s)", files.name, path, calibration.method)
    return calibration


def _refuse_cut(cut: Sequence[int], max_length: int) -> None:
    raise InputTooLongError(
        f"documents {list(cut[:10])} do not fit the model window of {max_length} tokens "
        "next to the query; allow truncation or shorten them"
    )


def _check_logits(logits: FloatArray, pairs: Sequence[EncodedPair], num_labels: int) -> None:
    if logits.shape[1] != num_labels:
        raise BackendError(
            f"the model returned {logits.shape[1]} logits per pair but its config declares "
            f"{num_labels} labels"
        )
    bad_rows = np.flatnonzero(~np.isfinite(logits).all(axis=1))
    if bad_rows.size:
        documents = sorted({pairs[int(row)].doc_index for row in bad_rows})
        raise ScoreError(
            f"the model produced non-finite scores for documents {documents[:10]}; "
            "this is a model or precision problem (try fp32)"
        )


def prepare_options_for(
    config: EngineConfig, options: ScoringOptions, *, instruction: str | None = None
) -> PrepareOptions:
    """How a request with ``options`` is prepared (windows, limits) under ``config``,
    with the resolved ``instruction`` of an LLM reranker's prompt.

    Raises:
        InvalidInputError: an option out of range (``max_tokens_per_doc < 1``, ...).
    """
    chunking = config.chunking
    tokens = check_positive("max_tokens_per_doc", options.get("max_tokens_per_doc"))
    chunks = check_positive("max_chunks_per_doc", options.get("max_chunks_per_doc"))
    return PrepareOptions(
        max_tokens_per_doc=tokens or chunking.max_tokens_per_doc,
        max_windows_per_doc=chunks if options.get("truncate", True) else 1,
        overlap=chunking.window_overlap,
        max_pairs=min(chunking.max_windows_per_request, config.max_queued_pairs),
        structured=options.get("structured", True),
        rank_fields=check_rank_fields(options.get("rank_fields")),
        keep_end=check_truncation_side(options.get("truncation_side", "right")),
        spans=options.get("relevant_spans") is not None,
        span_tokens=chunking.span_tokens,
        chars_per_token=chunking.chars_per_token,
        max_query_chars=config.max_query_chars,
        max_document_chars=config.max_document_chars,
        instruction=instruction,
    )
