from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import numpy as np
import pytest

from openrerank.config import BatchingConfig
from openrerank.engine.backends.base import Batch
from openrerank.engine.backends.fake import FakeBackend, overlap_logits
from openrerank.engine.scheduling.cache import PairCache
from openrerank.engine.scheduling.scheduler import UNHEALTHY_AFTER_FAILED_BATCHES, Scheduler
from openrerank.engine.scheduling.worker import InferenceWorker
from openrerank.errors import BackendError, EngineClosedError, OverloadedError
from openrerank.types import EncodedPair, FloatArray

T = TypeVar("T")
QUERY = [7, 8, 9]


def pair(document: list[int], index: int = 0) -> EncodedPair:
    """A [CLS] query [SEP] document [SEP] pair with segment ids, as a tokenizer makes."""
    ids = [1, *QUERY, 2, *document, 2]
    types = [0] * (len(QUERY) + 2) + [1] * (len(document) + 1)
    return EncodedPair(np.asarray(ids, np.int64), np.asarray(types, np.int64), index)


class Gate:
    """Holds the backend inside its first batch until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def logits(self, batch: Batch) -> FloatArray:
        if not self.released.is_set():
            self.entered.set()
            self.released.wait(timeout=30)
        return overlap_logits(batch)

    async def wait_entered(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.entered.wait, 30)


def run_with(
    backend: FakeBackend,
    scenario: Callable[[Scheduler], Coroutine[Any, Any, T]],
    *,
    batching: BatchingConfig | None = None,
    max_queued_pairs: int = 1_000,
    max_queue_wait_s: float | None = None,
) -> T:
    async def main() -> T:
        scheduler = Scheduler(
            InferenceWorker(backend),
            batching or BatchingConfig(),
            pad_id=0,
            max_queued_pairs=max_queued_pairs,
            max_queue_wait_s=max_queue_wait_s,
        )
        scheduler.start()
        try:
            return await scenario(scheduler)
        finally:
            await scheduler.close()

    return asyncio.run(main())


async def settle() -> None:
    """Let queued callbacks run (submissions reach the queue)."""
    for _ in range(5):
        await asyncio.sleep(0)


def batch_documents(batch: Batch) -> list[tuple[int, ...]]:
    """The document tokens of each row (segment 1, without the final [SEP])."""
    rows = []
    for ids, mask, types in zip(
        batch.input_ids, batch.attention_mask, batch.token_type_ids, strict=True
    ):
        document = ids[(mask == 1) & (types == 1)][:-1]
        rows.append(tuple(int(t) for t in document))
    return rows


def test_scheduler_restores_the_order_of_pairs_of_mixed_lengths() -> None:
    pairs = [pair([7] * n + [50 + n] * (30 - n), i) for i, n in enumerate([3, 29, 1, 17, 8])]

    async def scenario(scheduler: Scheduler) -> tuple[FloatArray, list[FloatArray]]:
        together = await scheduler.infer(pairs)
        alone = [await scheduler.infer([p]) for p in pairs]
        return together, alone

    together, alone = run_with(
        FakeBackend(), scenario, batching=BatchingConfig(max_batch_tokens=64, max_batch_size=2)
    )
    assert together.shape == (5, 1)
    np.testing.assert_array_equal(together[:, 0], np.concatenate(alone)[:, 0])
    assert len(set(together[:, 0].tolist())) == 5


def test_scheduler_merges_concurrent_requests_into_shared_batches() -> None:
    gate = Gate()
    fake = FakeBackend(logit_fn=gate.logits)

    async def scenario(scheduler: Scheduler) -> None:
        first = asyncio.ensure_future(scheduler.infer([pair([11])]))
        await gate.wait_entered()
        second = asyncio.ensure_future(scheduler.infer([pair([21]), pair([22])]))
        third = asyncio.ensure_future(scheduler.infer([pair([31]), pair([32])]))
        await settle()
        gate.released.set()
        await asyncio.gather(first, second, third)

    run_with(fake, scenario)
    assert [sorted(batch_documents(b)) for b in fake.batches] == [
        [(11,)],
        [(21,), (22,), (31,), (32,)],
    ]


def test_scheduler_serves_lower_priority_values_first() -> None:
    gate = Gate()
    fake = FakeBackend(logit_fn=gate.logits)

    async def scenario(scheduler: Scheduler) -> None:
        first = asyncio.ensure_future(scheduler.infer([pair([11])]))
        await gate.wait_entered()
        late = asyncio.ensure_future(scheduler.infer([pair([40]), pair([41])], priority=5))
        await settle()
        urgent = asyncio.ensure_future(scheduler.infer([pair([30])], priority=0))
        await settle()
        gate.released.set()
        await asyncio.gather(first, late, urgent)

    run_with(fake, scenario, batching=BatchingConfig(max_batch_size=1))
    assert [batch_documents(b)[0] for b in fake.batches] == [(11,), (30,), (40,), (41,)]


def test_scheduler_failed_batch_fails_only_its_waiters_and_keeps_serving() -> None:
    poisoned = 99
    fake = FakeBackend(fail_when=lambda batch: bool((batch.input_ids == poisoned).any()))

    async def scenario(scheduler: Scheduler) -> tuple[BaseException | FloatArray, ...]:
        outcomes = await asyncio.gather(
            scheduler.infer([pair([poisoned])]),
            scheduler.infer([pair([12])]),
            return_exceptions=True,
        )
        after = await scheduler.infer([pair([13])])
        return (*outcomes, after)

    failed, served, after = run_with(fake, scenario, batching=BatchingConfig(max_batch_size=1))
    assert isinstance(failed, BackendError)
    assert isinstance(served, np.ndarray) and served.shape == (1, 1)
    assert isinstance(after, np.ndarray)


def test_scheduler_cancelled_pairs_never_reach_the_model() -> None:
    gate = Gate()
    fake = FakeBackend(logit_fn=gate.logits)

    async def scenario(scheduler: Scheduler) -> None:
        first = asyncio.ensure_future(scheduler.infer([pair([11])]))
        await gate.wait_entered()
        abandoned = asyncio.ensure_future(scheduler.infer([pair([20 + i]) for i in range(10)]))
        await settle()
        abandoned.cancel()
        await settle()
        gate.released.set()
        await first
        await scheduler.infer([pair([12])])
        assert scheduler.queued_pairs == 0
        assert scheduler.dropped_pairs == 10

    run_with(fake, scenario, batching=BatchingConfig(max_batch_size=2))
    seen = [doc for b in fake.batches for doc in batch_documents(b)]
    assert seen == [(11,), (12,)]


def test_scheduler_admission_refuses_at_once_beyond_the_limit() -> None:
    async def scenario(scheduler: Scheduler) -> float:
        with scheduler.admission(3):
            assert scheduler.queued_pairs == 3
            with pytest.raises(OverloadedError) as refused, scheduler.admission(2):
                pass
        assert scheduler.queued_pairs == 0
        with scheduler.admission(4):
            pass
        return refused.value.retry_after_s

    assert run_with(FakeBackend(), scenario, max_queued_pairs=4) >= 1.0


def test_scheduler_close_fails_waiting_pairs_and_finishes_the_running_batch() -> None:
    gate = Gate()
    fake = FakeBackend(logit_fn=gate.logits)

    async def scenario(scheduler: Scheduler) -> tuple[Any, Any, bool]:
        running = asyncio.ensure_future(scheduler.infer([pair([11])]))
        await gate.wait_entered()
        waiting = asyncio.ensure_future(scheduler.infer([pair([12])]))
        await settle()
        closing = asyncio.ensure_future(scheduler.close())
        await settle()
        gate.released.set()
        await closing
        outcomes = await asyncio.gather(running, waiting, return_exceptions=True)
        return outcomes[0], outcomes[1], scheduler.alive

    running, waiting, alive = run_with(fake, scenario)
    assert isinstance(running, np.ndarray)
    assert isinstance(waiting, EngineClosedError)
    assert not alive and fake.closed


def test_scheduler_refuses_work_after_close() -> None:
    async def scenario(scheduler: Scheduler) -> None:
        await scheduler.close()
        with pytest.raises(EngineClosedError):
            await scheduler.infer([pair([1])])

    run_with(FakeBackend(), scenario)


def test_scheduler_cache_answers_repeated_pairs_without_the_model() -> None:
    fake = FakeBackend()
    pairs = [pair([11]), pair([12, 13]), pair([14])]

    async def scenario(scheduler: Scheduler) -> tuple[FloatArray, FloatArray]:
        first = await scheduler.infer(pairs)
        again = await scheduler.infer([pairs[2], pair([15]), pairs[0]])
        return first, again

    async def with_cache() -> tuple[FloatArray, FloatArray, int, int]:
        scheduler = Scheduler(
            InferenceWorker(fake),
            BatchingConfig(),
            pad_id=0,
            max_queued_pairs=100,
            cache=PairCache(max_entries=10),
        )
        scheduler.start()
        try:
            first, again = await scenario(scheduler)
        finally:
            await scheduler.close()
        assert scheduler.cache is not None
        return first, again, scheduler.cache.hits, scheduler.cache.misses

    first, again, hits, misses = asyncio.run(with_cache())
    assert (hits, misses) == (2, 4)
    assert float(again[0, 0]) == float(first[2, 0]) and float(again[2, 0]) == float(first[0, 0])
    seen = [doc for b in fake.batches for doc in batch_documents(b)]
    assert sorted(seen) == [(11,), (12, 13), (14,), (15,)]


def test_scheduler_admission_refuses_when_the_queued_work_outlasts_the_wait_limit() -> None:
    delay_s, limit_s = 0.05, 0.5  # the fake runs at most 1 / delay_s = 20 pairs/s

    async def scenario(scheduler: Scheduler) -> float:
        with scheduler.admission(100):  # nothing measured yet: only the pair limit applies
            pass
        await scheduler.infer([pair([11 + i]) for i in range(3)])
        queued = int(limit_s / delay_s) + 1  # > limit_s of work at <= 20 pairs/s
        with scheduler.admission(queued):
            with (
                pytest.raises(OverloadedError, match="queued work") as refused,
                scheduler.admission(1),
            ):
                pass
            assert scheduler.queued_pairs == queued
        with scheduler.admission(queued):  # an empty queue admits any request
            pass
        return refused.value.retry_after_s

    fake = FakeBackend(delay_s=delay_s)
    retry_after = run_with(
        fake, scenario, batching=BatchingConfig(max_batch_size=1), max_queue_wait_s=limit_s
    )
    assert retry_after >= 1.0


def test_scheduler_marks_itself_unhealthy_after_failures_in_a_row_until_one_succeeds() -> None:
    failing = {"on": True}
    fake = FakeBackend(fail_when=lambda batch: failing["on"])

    async def scenario(scheduler: Scheduler) -> list[tuple[bool, int]]:
        seen = [(scheduler.healthy, scheduler.failed_batches)]
        for index in range(UNHEALTHY_AFTER_FAILED_BATCHES):
            with pytest.raises(BackendError):
                await scheduler.infer([pair([20 + index])])
            seen.append((scheduler.healthy, scheduler.failed_batches))
        failing["on"] = False
        await scheduler.probe([pair([30])])
        seen.append((scheduler.healthy, scheduler.failed_batches))
        return seen

    seen = run_with(fake, scenario)
    flips = [(True, 0)] + [
        (n < UNHEALTHY_AFTER_FAILED_BATCHES, n)
        for n in range(1, UNHEALTHY_AFTER_FAILED_BATCHES + 1)
    ]
    assert seen == [*flips, (True, UNHEALTHY_AFTER_FAILED_BATCHES)]


def test_scheduler_probe_runs_the_model_even_when_the_pair_is_cached() -> None:
    fake = FakeBackend()

    async def scenario(scheduler: Scheduler) -> None:
        await scheduler.infer([pair([11])])
        await scheduler.infer([pair([11])])
        await scheduler.probe([pair([11])])

    async def main() -> None:
        scheduler = Scheduler(
            InferenceWorker(fake),
            BatchingConfig(),
            pad_id=0,
            max_queued_pairs=10,
            cache=PairCache(10),
        )
        scheduler.start()
        try:
            await scenario(scheduler)
        finally:
            await scheduler.close()

    asyncio.run(main())
    assert len(fake.batches) == 2
