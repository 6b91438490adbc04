"""Reranker: the blocking facade over RerankService, run on a private event loop thread.

Example:
    >>> from openrerank import Reranker
    >>> with Reranker("cross-encoder/ms-marco-MiniLM-L-6-v2") as reranker:  # doctest: +SKIP
    ...     best = reranker.rank("How do I reset my password?", documents, top_n=3)
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack

from openrerank.config import EngineConfig, ModelConfig, TemplateName
from openrerank.engine.service import ModelInfo, RerankService
from openrerank.errors import EngineClosedError
from openrerank.types import (
    BackendName,
    Document,
    DocumentOptions,
    FloatArray,
    Precision,
    RankResult,
)

T = TypeVar("T")


class _LoopThread:
    """An event loop running forever on a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="openrerank-loop", daemon=True
        )
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self.loop.is_closed():
            coroutine.close()
            raise EngineClosedError("this Reranker is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def _shutdown(service: RerankService, runner: _LoopThread) -> None:
    if not runner.loop.is_closed():
        runner.call(service.stop())
        runner.stop()


class EngineHandle:
    """One :class:`RerankService` started on a private event loop thread, stopped by
    :meth:`close`, at the end of a ``with`` block, or when collected. The base of
    :class:`Reranker` and of the batch scorer."""

    def _open(self, config: EngineConfig) -> None:
        self._runner = _LoopThread()
        self._service = RerankService(config)
        try:
            self._runner.call(self._service.start())
        except BaseException:
            self._runner.stop()
            raise
        self._finalizer = weakref.finalize(self, _shutdown, self._service, self._runner)

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Run ``coroutine`` on the engine's loop; its result, when it comes."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._runner.loop)

    @property
    def info(self) -> ModelInfo:
        """The loaded model, backend, precision and window."""
        return self._service.info

    def close(self) -> None:
        """Stop the engine and free the model; safe to call twice."""
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Reranker(EngineHandle):
    """Score and rank documents in-process with an open reranker (a cross-encoder, or an
    LLM reranker such as Qwen3-Reranker).

    Args:
        model: a Hugging Face model id or a local model directory.
        backend: ``auto`` (ONNX Runtime on CPU, PyTorch on CUDA or for fp16/bf16),
            ``onnx``, ``torch`` or ``fake``.
        precision: ``fp32``, ``int8`` (ONNX), ``fp16`` or ``bf16`` (PyTorch).
        device: ``cpu`` or ``cuda[:N]``.
        max_length: tokens per pair including special tokens; ``None`` = the model's.
        revision: a pinned hub revision.
        calibration: a calibration file (``openrerank calibrate``) for this model: scores
            become calibrated probabilities of relevance; ``raw=True`` scores do not change.
        template: an LLM reranker's prompt recipe; ``auto`` detects it.
        instruction: an LLM reranker's instruction for calls that pass none;
            ``None`` = the model card's.

    Use :meth:`from_config` for every other option (threads, batching, limits).
    """

    def __init__(  # noqa: PLR0913 - each is one documented model option
        self,
        model: str,
        *,
        backend: BackendName = "auto",
        precision: Precision = "fp32",
        device: str = "cpu",
        max_length: int | None = None,
        revision: str | None = None,
        calibration: Path | str | None = None,
        template: TemplateName = "auto",
        instruction: str | None = None,
    ) -> None:
        config = ModelConfig(
            name=model,
            revision=revision,
            backend=backend,
            precision=precision,
            device=device,
            max_length=max_length,
            calibration=Path(calibration) if calibration is not None else None,
            template=template,
            instruction=instruction,
        )
        self._open(EngineConfig(model=config))

    @classmethod
    def from_config(cls, config: EngineConfig) -> Reranker:
        """A Reranker for a full :class:`EngineConfig`."""
        reranker = cls.__new__(cls)
        reranker._open(config)
        return reranker

    def rank(
        self,
        query: str,
        documents: Sequence[Document],
        top_n: int | None = None,
        return_documents: bool = False,
        *,
        instruction: str | None = None,
        **options: Unpack[DocumentOptions],
    ) -> list[RankResult]:
        """Documents ranked by relevance, best first.

        The options are Cohere's (:class:`~openrerank.types.DocumentOptions`):
        documents may be strings or objects (scored by ``rank_fields``); a long
        document is cut to ``max_tokens_per_doc`` tokens and scored as its best window,
        at most ``max_chunks_per_doc`` windows; ``relevant_spans`` adds the spans that
        matched. ``instruction`` is an LLM reranker's task (``None`` = the served
        model's default; a cross-encoder takes none). See ``RerankService.rerank``.
        """
        outcome = self._runner.call(
            self._service.rerank(
                query,
                documents,
                top_n=top_n,
                return_documents=return_documents,
                instruction=instruction,
                **options,
            )
        )
        return outcome.results

    def score(
        self,
        query: str,
        documents: Sequence[Document],
        *,
        raw: bool = False,
        instruction: str | None = None,
        **options: Unpack[DocumentOptions],
    ) -> FloatArray:
        """A float32 score per document, in input order (options as in :meth:`rank`)."""
        work = self._service.score(query, documents, raw=raw, instruction=instruction, **options)
        return self._runner.call(work)
