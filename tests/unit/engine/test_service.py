from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from openrerank.config import BatchingConfig, EngineConfig, ModelConfig
from openrerank.engine.backends.base import Batch
from openrerank.engine.backends.fake import FakeBackend, overlap_logits
from openrerank.engine.service import RerankService, ServiceStats
from openrerank.errors import (
    BackendError,
    EmptyDocumentsError,
    EngineClosedError,
    InputTooLongError,
    InvalidTopNError,
    OverloadedError,
    ScoreError,
    TooManyDocumentsError,
)
from openrerank.types import FloatArray

T = TypeVar("T")
DOCUMENTS = [
    "the weather is sunny today",
    "the river bank was flooded",
    "a cross encoder reads the query and the document together",
    "the quick brown fox",
]
QUERY = "how does a cross encoder read the query and the document"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def service_for(model_dir: Path, backend: FakeBackend, **engine: Any) -> RerankService:
    config = EngineConfig(model=ModelConfig(name=str(model_dir), backend="fake"), **engine)
    return RerankService(config, backend=backend)


async def rerank_with(
    model_dir: Path, backend: FakeBackend, call: Callable[[RerankService], Coroutine[Any, Any, T]]
) -> T:
    async with service_for(model_dir, backend) as service:
        return await call(service)


def test_service_ranks_best_first_by_the_models_scores(tiny_model_dir: Path) -> None:
    fake = FakeBackend()
    outcome = run(rerank_with(tiny_model_dir, fake, lambda s: s.rerank(QUERY, DOCUMENTS)))
    scores = [r.relevance_score for r in outcome.results]
    assert scores == sorted(scores, reverse=True)
    assert outcome.results[0].index == 2
    assert sorted(r.index for r in outcome.results) == [0, 1, 2, 3]
    assert all(r.document is None for r in outcome.results)


def test_service_rank_agrees_with_score_in_input_order(tiny_model_dir: Path) -> None:
    async def both(service: RerankService) -> tuple[Any, Any]:
        return await service.rerank(QUERY, DOCUMENTS), await service.score(QUERY, DOCUMENTS)

    outcome, scores = run(rerank_with(tiny_model_dir, FakeBackend(), both))
    assert scores.dtype == np.float32 and scores.shape == (4,)
    for result in outcome.results:
        assert result.relevance_score == pytest.approx(float(scores[result.index]))
    assert ((scores > 0) & (scores < 1)).all()


def test_service_top_n_cuts_and_return_documents_carries_text(tiny_model_dir: Path) -> None:
    outcome = run(
        rerank_with(
            tiny_model_dir,
            FakeBackend(),
            lambda s: s.rerank(QUERY, DOCUMENTS, top_n=2, return_documents=True),
        )
    )
    assert len(outcome.results) == 2
    assert [r.document for r in outcome.results] == [DOCUMENTS[r.index] for r in outcome.results]
    assert outcome.usage.documents == 4 and outcome.usage.pairs == 4 and outcome.usage.tokens > 0


def test_service_top_n_larger_than_the_list_returns_everything(tiny_model_dir: Path) -> None:
    outcome = run(
        rerank_with(tiny_model_dir, FakeBackend(), lambda s: s.rerank(QUERY, DOCUMENTS, top_n=50))
    )
    assert len(outcome.results) == 4


def test_service_equal_scores_keep_input_order(tiny_model_dir: Path) -> None:
    documents = ["same text", "same text", "same text"]
    outcome = run(
        rerank_with(tiny_model_dir, FakeBackend(), lambda s: s.rerank("query", documents))
    )
    assert [r.index for r in outcome.results] == [0, 1, 2]


def test_service_never_mutates_the_callers_documents(tiny_model_dir: Path) -> None:
    documents = list(DOCUMENTS)
    run(rerank_with(tiny_model_dir, FakeBackend(), lambda s: s.rerank(QUERY, documents, top_n=1)))
    assert documents == DOCUMENTS


def test_service_two_logit_model_scores_the_positive_class(
    tiny_model_dir: Path, tiny_model_factory: Callable[..., Path]
) -> None:
    one = run(rerank_with(tiny_model_dir, FakeBackend(), lambda s: s.score(QUERY, DOCUMENTS)))
    two_label_dir = tiny_model_factory("bert", 2)
    two_logits = FakeBackend(num_labels=2)
    two = run(rerank_with(two_label_dir, two_logits, lambda s: s.score(QUERY, DOCUMENTS, raw=True)))
    # the fake's two columns are (-l, l): log-odds 2l, so sigmoid(raw/2) equals the 1-logit score
    np.testing.assert_allclose(1 / (1 + np.exp(-two.astype(np.float64) / 2)), one, rtol=1e-6)


def test_service_rejects_bad_input_before_scoring(tiny_model_dir: Path) -> None:
    fake = FakeBackend()

    async def calls(service: RerankService) -> None:
        with pytest.raises(EmptyDocumentsError):
            await service.rerank(QUERY, [])
        with pytest.raises(InvalidTopNError):
            await service.rerank(QUERY, DOCUMENTS, top_n=0)

    run(rerank_with(tiny_model_dir, fake, calls))
    assert fake.batches == []


def test_service_enforces_the_document_limit(tiny_model_dir: Path) -> None:
    async def call() -> None:
        async with service_for(tiny_model_dir, FakeBackend(), max_documents=3) as service:
            await service.rerank(QUERY, DOCUMENTS)

    with pytest.raises(TooManyDocumentsError):
        run(call())


def test_service_nan_scores_raise_a_score_error_naming_the_document(tiny_model_dir: Path) -> None:
    def nan_for_row_one(batch: Batch) -> Any:
        values = np.zeros(batch.size, dtype=np.float32)
        values[batch.input_ids[:, 1] == batch.input_ids[1, 1]] = np.nan
        return values

    fake = FakeBackend(logit_fn=nan_for_row_one)
    with pytest.raises(ScoreError, match="non-finite"):
        run(rerank_with(tiny_model_dir, fake, lambda s: s.rerank("q", ["alpha", "beta"])))


def test_service_backend_failure_fails_the_request_and_keeps_serving(tiny_model_dir: Path) -> None:
    fake = FakeBackend(fail_when=lambda batch: batch.size > 1)

    async def calls(service: RerankService) -> float:
        with pytest.raises(BackendError, match="failed on a batch"):
            await service.rerank(QUERY, DOCUMENTS)
        return float((await service.score(QUERY, DOCUMENTS[:1]))[0])

    assert 0 < run(rerank_with(tiny_model_dir, fake, calls)) < 1


def test_service_truncates_long_pairs_to_the_model_window(tiny_model_dir: Path) -> None:
    fake = FakeBackend()
    long_query = " ".join(["cross encoder query"] * 100)
    long_doc = " ".join(["the document reads together"] * 200)
    outcome = run(
        rerank_with(
            tiny_model_dir,
            fake,
            lambda s: s.rerank(long_query, [long_doc, "short"], max_chunks_per_doc=1),
        )
    )
    window = 64  # build_tiny_model's max_length
    assert outcome.usage.tokens <= 2 * window
    batch = fake.batches[0]
    assert batch.input_ids.shape[1] == window
    query_tokens = int(((batch.token_type_ids[0] == 0) & (batch.attention_mask[0] == 1)).sum())
    assert query_tokens <= window // 2


def test_service_batches_within_the_token_budget(tiny_model_dir: Path) -> None:
    fake = FakeBackend()
    documents = [" ".join(["word"] * n) for n in range(1, 40)]

    async def call() -> None:
        batching = BatchingConfig(max_batch_tokens=256, max_batch_size=8)
        async with service_for(tiny_model_dir, fake, batching=batching) as service:
            await service.score(QUERY, documents, max_chunks_per_doc=1)

    run(call())
    assert sum(b.size for b in fake.batches) == len(documents)
    assert all(
        b.size <= 8 and (b.size * b.input_ids.shape[1] <= 256 or b.size == 1) for b in fake.batches
    )


def test_service_refuses_calls_when_not_started(tiny_model_dir: Path) -> None:
    service = service_for(tiny_model_dir, FakeBackend())
    with pytest.raises(EngineClosedError):
        run(service.rerank(QUERY, DOCUMENTS))


def test_service_stop_closes_the_backend(tiny_model_dir: Path) -> None:
    fake = FakeBackend()
    run(rerank_with(tiny_model_dir, fake, lambda s: s.score(QUERY, DOCUMENTS)))
    assert fake.closed


def test_service_refuses_logits_that_disagree_with_the_config(tiny_model_dir: Path) -> None:
    with pytest.raises(BackendError, match="2 logits"):
        run(
            rerank_with(
                tiny_model_dir, FakeBackend(num_labels=2), lambda s: s.score(QUERY, DOCUMENTS)
            )
        )


def test_service_refuses_overlong_text_before_tokenizing(tiny_model_dir: Path) -> None:
    fake = FakeBackend()

    async def scenario() -> None:
        async with service_for(
            tiny_model_dir, fake, max_query_chars=10, max_document_chars=20
        ) as service:
            with pytest.raises(InputTooLongError, match="query has 11 characters"):
                await service.rerank("q" * 11, ["doc"])
            with pytest.raises(InputTooLongError, match=r"documents\[1\] has 21 characters"):
                await service.rerank("q", ["ok", "d" * 21])
            await service.rerank("q" * 10, ["d" * 20])

    run(scenario())
    assert len(fake.batches) == 1


def test_service_without_truncation_refuses_documents_over_the_window(
    tiny_model_dir: Path,
) -> None:
    fake = FakeBackend()
    long_document = " ".join(["document"] * 200)

    async def scenario() -> float:
        async with service_for(tiny_model_dir, fake) as service:
            with pytest.raises(InputTooLongError, match=r"documents \[1\] do not fit"):
                await service.rerank(QUERY, ["short", long_document], truncate=False)
            outcome = await service.rerank(QUERY, ["short", long_document])
            return outcome.results[0].relevance_score

    assert 0.0 <= run(scenario()) <= 1.0
    assert len(fake.batches) == 1


def test_service_raw_rerank_orders_by_logits(tiny_model_dir: Path) -> None:
    async def scenario() -> tuple[list[float], np.ndarray[Any, Any]]:
        async with service_for(tiny_model_dir, FakeBackend()) as service:
            outcome = await service.rerank(QUERY, DOCUMENTS, raw=True)
            logits = await service.score(QUERY, DOCUMENTS, raw=True)
            return [r.relevance_score for r in outcome.results], logits

    ranked, logits = run(scenario())
    assert ranked == pytest.approx(sorted(logits.tolist(), reverse=True))


def test_service_admission_refuses_at_once_beyond_the_queue_limit(tiny_model_dir: Path) -> None:
    release = threading.Event()
    entered = threading.Event()

    def held(batch: Batch) -> FloatArray:
        entered.set()
        release.wait(timeout=30)
        return overlap_logits(batch)

    fake = FakeBackend(logit_fn=held)

    async def scenario() -> ServiceStats:
        async with service_for(
            tiny_model_dir, fake, max_documents=3, max_queued_pairs=4
        ) as service:
            first = asyncio.ensure_future(service.rerank(QUERY, DOCUMENTS[:3]))
            await asyncio.get_running_loop().run_in_executor(None, entered.wait, 30)
            busy = service.stats
            with pytest.raises(OverloadedError) as refused:
                await service.rerank(QUERY, DOCUMENTS[:2])
            assert refused.value.retry_after_s > 0
            release.set()
            await first
            assert service.stats.queued_pairs == 0
            return busy

    busy = run(scenario())
    assert busy.queued_pairs == 3


def test_service_counts_scored_work(tiny_model_dir: Path) -> None:
    async def scenario() -> tuple[ServiceStats, bool, bool]:
        service = service_for(tiny_model_dir, FakeBackend())
        before = service.ready
        async with service:
            await service.rerank(QUERY, DOCUMENTS)
            await service.score(QUERY, DOCUMENTS[:1])
            return service.stats, before, service.ready

    stats, ready_before_start, ready_running = run(scenario())
    assert (stats.requests, stats.documents, stats.pairs) == (2, 5, 5)
    assert stats.tokens > 5
    assert stats.queued_pairs == 0
    assert not ready_before_start and ready_running


def test_service_score_cache_reuses_scores_of_repeated_pairs(tiny_model_dir: Path) -> None:
    fake = FakeBackend()

    async def scenario() -> tuple[FloatArray, FloatArray, ServiceStats]:
        async with service_for(tiny_model_dir, fake, score_cache_size=100) as service:
            first = await service.score(QUERY, DOCUMENTS)
            again = await service.score(QUERY, list(reversed(DOCUMENTS)))
            return first, again, service.stats

    first, again, stats = run(scenario())
    np.testing.assert_array_equal(first, again[::-1])
    assert (stats.cache_hits, stats.cache_misses) == (4, 4)
    assert sum(batch.size for batch in fake.batches) == 4
