"""Scheduler: one queue of pairs from every request, run in shared batches on one worker.

Every (query, window) pair is a :class:`WorkItem` with its own future. A single
batching task picks the most urgent pair (v2 ``priority``, then arrival), grows a batch
around it from a bounded window of waiting pairs by length (see
:func:`~openrerank.engine.scheduling.policy.select_batch`), and collates the next batch while
the current one runs on the model thread. Cancelled items are dropped before they reach
the model (and counted); a failed batch fails exactly its own waiters and the loop
keeps serving, and after :data:`UNHEALTHY_AFTER_FAILED_BATCHES` failures in a row the
scheduler reports itself unhealthy until a batch succeeds again. Admission is bounded:
beyond ``max_queued_pairs``, or when the work queued ahead would take longer than
``max_queue_wait_s`` to run at the measured throughput, a request is refused at once.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from openrerank.config import BatchingConfig
from openrerank.engine.backends.base import Batch, collate
from openrerank.engine.scheduling.cache import PairCache, pair_key
from openrerank.engine.scheduling.policy import select_batch
from openrerank.engine.scheduling.work import WorkItem
from openrerank.engine.scheduling.worker import InferenceWorker
from openrerank.errors import BackendError, EngineClosedError, OverloadedError
from openrerank.types import EncodedPair, FloatArray

logger = logging.getLogger(__name__)

WINDOW_PER_BATCH = 16
RETRY_AFTER_BOUNDS_S = (1.0, 60.0)
UNHEALTHY_AFTER_FAILED_BATCHES = 3
_RATE_SMOOTHING = 0.2


@dataclass
class _Running:
    items: list[WorkItem]
    task: asyncio.Future[FloatArray]
    started: float


class Scheduler:
    """Batches pairs across concurrent requests for one model.

    Args:
        worker: owns the backend's thread.
        batching: the padded-token budget and size cap of a batch.
        pad_id: token id used for padding.
        max_queued_pairs: pairs admitted at once (waiting or running).
        max_queue_wait_s: refuse a request when the pairs admitted ahead of it would
            take longer than this to run at the measured throughput; ``None`` = no limit.
        cache: logits of pairs seen before, reused instead of recomputed; ``None`` = off.
        attention_tokens: counts attention's quadratic cost in the batch budget (see
            :func:`~openrerank.engine.scheduling.policy.padded_cost`); 0 = not counted.
    """

    def __init__(
        self,
        worker: InferenceWorker,
        batching: BatchingConfig,
        *,
        pad_id: int,
        max_queued_pairs: int,
        max_queue_wait_s: float | None = None,
        cache: PairCache | None = None,
        attention_tokens: int = 0,
    ) -> None:
        self.worker = worker
        self.attention_tokens = attention_tokens
        self.cache = cache
        self.batching = batching
        self.max_queued_pairs = max_queued_pairs
        self.max_queue_wait_s = max_queue_wait_s
        self.dropped_pairs = 0
        self.failed_batches = 0
        self._failures_in_a_row = 0
        self._pad_id = pad_id
        self._window = WINDOW_PER_BATCH * batching.max_batch_size
        self._heap: list[WorkItem] = []
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._admitted = 0
        self._pairs_per_s = 0.0
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the batching task on the running loop."""
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._serve(), name="openrerank-batcher")
        self._task.add_done_callback(self._on_exit)

    @property
    def alive(self) -> bool:
        """The batching task runs and the model thread accepts work."""
        return self._task is not None and not self._task.done() and self.worker.alive

    @property
    def healthy(self) -> bool:
        """Fewer than :data:`UNHEALTHY_AFTER_FAILED_BATCHES` batches failed in a row."""
        return self._failures_in_a_row < UNHEALTHY_AFTER_FAILED_BATCHES

    @property
    def queued_pairs(self) -> int:
        """Pairs admitted and not yet finished (queue depth)."""
        return self._admitted

    @contextmanager
    def admission(self, pairs: int) -> Iterator[None]:
        """Hold room for ``pairs`` while a request is tokenized and scored.

        Raises:
            OverloadedError: the room is not there; ``retry_after_s`` estimates when
                it will be, from the measured throughput.
        """
        if self._admitted + pairs > self.max_queued_pairs:
            raise OverloadedError(
                f"the server is busy ({self._admitted} pairs queued, limit "
                f"{self.max_queued_pairs}); retry later",
                retry_after_s=self._retry_after_s(),
            )
        wait_s = self._queue_wait_s()
        if self.max_queue_wait_s is not None and wait_s > self.max_queue_wait_s:
            raise OverloadedError(
                f"the server is busy (the queued work takes about {wait_s:.1f} s, limit "
                f"{self.max_queue_wait_s:g} s); retry later",
                retry_after_s=self._retry_after_s(),
            )
        self._admitted += pairs
        try:
            yield
        finally:
            self._admitted -= pairs

    async def infer(self, pairs: Sequence[EncodedPair], *, priority: int = 0) -> FloatArray:
        """Logits for every pair, rows in the order of ``pairs``.

        Cancelling the caller cancels the pairs that have not reached the model.

        Raises:
            BackendError: the model failed on a batch holding one of the pairs.
            EngineClosedError: the scheduler is stopping.
        """
        if self._closing or not self.alive:
            raise EngineClosedError("the model is not running")
        if self.cache is None:
            return await self._compute(pairs, priority)
        keys = [pair_key(pair) for pair in pairs]
        rows = self.cache.lookup(keys)
        missing = [index for index, row in enumerate(rows) if row is None]
        if missing:
            computed = await self._compute([pairs[i] for i in missing], priority)
            self.cache.store([keys[i] for i in missing], computed)
            for index, row in zip(missing, computed, strict=True):
                rows[index] = row
        return np.stack([row for row in rows if row is not None]).astype(np.float32, copy=False)

    async def probe(self, pairs: Sequence[EncodedPair]) -> None:
        """Run ``pairs`` through the model, never from the cache (a readiness probe).

        Raises:
            BackendError: the model failed on them.
            EngineClosedError: the scheduler is stopping.
        """
        if self._closing or not self.alive:
            raise EngineClosedError("the model is not running")
        await self._compute(pairs, priority=0)

    async def _compute(self, pairs: Sequence[EncodedPair], priority: int) -> FloatArray:
        loop = asyncio.get_running_loop()
        items = [WorkItem(pair, loop.create_future(), priority, next(self._seq)) for pair in pairs]
        for item in items:
            heapq.heappush(self._heap, item)
        self._wakeup.set()
        try:
            rows = await asyncio.gather(*(item.future for item in items))
        except BaseException:
            _abandon(items)
            self._prune()
            raise
        return np.stack(rows).astype(np.float32, copy=False)

    def _prune(self) -> None:
        """Drop cancelled pairs from the queue once they are most of it, so abandoned
        requests cannot hold memory beyond the admission bound."""
        live = [item for item in self._heap if item.waiting]
        if len(live) * 2 < len(self._heap):
            self.dropped_pairs += len(self._heap) - len(live)
            heapq.heapify(live)
            self._heap = live

    async def close(self) -> None:
        """Fail waiting pairs, finish the running batch, stop, and release the model.

        Safe to call twice.
        """
        if self._closing:
            return
        self._closing = True
        self._fail_waiting(EngineClosedError("the model is stopping"))
        self._wakeup.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self.worker.close()

    async def _serve(self) -> None:
        running: _Running | None = None
        while True:
            batch = self._take()
            if not batch and running is None:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            prepared = self._collate(batch) if batch else None
            if running is not None:
                await self._finish(running)
                if not all(item.waiting for item in batch):  # cancelled while it waited
                    prepared = self._collate(batch)
            running = self._dispatch(batch, prepared) if prepared is not None else None

    def _take(self) -> list[WorkItem]:
        window: list[WorkItem] = []
        while self._heap and len(window) < self._window:
            item = heapq.heappop(self._heap)
            if item.waiting:
                window.append(item)
            else:
                self.dropped_pairs += 1
        lengths = [item.n_tokens for item in window]
        chosen = select_batch(lengths, self.batching, self.attention_tokens)
        picked = set(chosen)
        for index, item in enumerate(window):
            if index not in picked:
                heapq.heappush(self._heap, item)
        return [window[index] for index in chosen]

    def _collate(self, items: list[WorkItem]) -> Batch | None:
        live = [item for item in items if item.waiting]
        self.dropped_pairs += len(items) - len(live)
        items[:] = live
        return collate([item.pair for item in live], self._pad_id) if live else None

    def _dispatch(self, items: list[WorkItem], batch: Batch) -> _Running:
        task = asyncio.ensure_future(self.worker.run(batch))
        return _Running(items, task, time.perf_counter())

    async def _finish(self, running: _Running) -> None:
        items = running.items
        try:
            logits = await running.task
        except Exception as exc:
            self._count_failure()
            _fail(items, exc if isinstance(exc, BackendError) else BackendError("a batch failed"))
            return
        if logits.shape[0] != len(items):
            message = f"the model returned {logits.shape[0]} rows for {len(items)} pairs"
            logger.error("%s; this is a bug", message)
            self._count_failure()
            _fail(items, AssertionError(f"{message}; this is a bug"))
            return
        if not self.healthy:
            logger.warning("a batch succeeded again; the model is healthy")
        self._failures_in_a_row = 0
        self._measure(len(items), time.perf_counter() - running.started)
        for row, item in enumerate(items):
            if item.waiting:
                item.future.set_result(logits[row])

    def _count_failure(self) -> None:
        self.failed_batches += 1
        self._failures_in_a_row += 1
        if self._failures_in_a_row == UNHEALTHY_AFTER_FAILED_BATCHES:
            logger.error(
                "%d batches failed in a row; the model is marked not ready until one succeeds",
                self._failures_in_a_row,
            )

    def _measure(self, pairs: int, seconds: float) -> None:
        rate = pairs / max(seconds, 1e-6)
        previous = self._pairs_per_s
        smoothed = previous + _RATE_SMOOTHING * (rate - previous)
        self._pairs_per_s = rate if previous == 0 else smoothed

    def _queue_wait_s(self) -> float:
        """Seconds the admitted pairs take at the measured rate (0 before any batch)."""
        return self._admitted / self._pairs_per_s if self._pairs_per_s > 0 else 0.0

    def _retry_after_s(self) -> float:
        low, high = RETRY_AFTER_BOUNDS_S
        return min(high, max(low, self._queue_wait_s()))

    def _fail_waiting(self, error: Exception) -> None:
        _fail(self._heap, error)
        self._heap.clear()

    def _on_exit(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            self._fail_waiting(EngineClosedError("the model is stopping"))
            return
        logger.error("the batching loop died; failing waiting pairs", exc_info=task.exception())
        self._fail_waiting(BackendError("the batching loop failed; this is a bug"))


def _fail(items: Sequence[WorkItem], error: BaseException) -> None:
    for item in items:
        if item.waiting:
            item.future.set_exception(error)


def _abandon(items: Sequence[WorkItem]) -> None:
    """Cancel a failed or cancelled request's remaining pairs, and read the errors of
    those that already failed, so none is reported as never retrieved."""
    for item in items:
        if item.waiting:
            item.future.cancel()
        elif not item.future.cancelled():
            item.future.exception()
