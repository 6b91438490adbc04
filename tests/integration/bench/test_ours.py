"""openrerank's timed runs score one window per document, like the baselines.

The tiny model's window is 64 tokens, so the long documents here have several windows.
Expected scores come from the engine itself, asked for one window per document
(``max_chunks_per_doc=1``) or for every window; nothing is a hard-coded score.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest

from openrerank.bench.flops import windowed_cost, workload_cost
from openrerank.bench.ours import measure_library, rerank_one_window
from openrerank.bench.workloads import Request, Workload, WorkloadSpec
from openrerank.config import EngineConfig, ModelConfig
from openrerank.engine.backends.fake import FakeBackend
from openrerank.engine.catalog import ModelCatalog
from openrerank.engine.service import RerankService
from openrerank.server import create_app
from openrerank.sync import Reranker

QUERY = "quick brown fox"
FILLER = "the museum opened water boils at sea level "
DOCUMENTS = (
    FILLER * 20 + QUERY,  # the query's words only in a late window
    "the quick brown fox",
    FILLER * 12,
    FILLER * 30 + "brown fox " * 3,
)


def _workload() -> Workload:
    spec = WorkloadSpec("tiny-long", "none", len(DOCUMENTS), "long and short documents")
    return Workload(spec, (Request("q1", QUERY, DOCUMENTS), Request("q2", "museum", DOCUMENTS)))


def _fake_service(model_dir: Path) -> RerankService:
    config = EngineConfig(ModelConfig(str(model_dir), backend="fake"))
    return RerankService(config, backend=FakeBackend())


def test_the_server_request_scores_one_window_per_document(tiny_model_dir: Path) -> None:
    async def scenario() -> tuple[list[float], list[float], list[float]]:
        service = _fake_service(tiny_model_dir)
        catalog = ModelCatalog({"tiny": service}, {})
        app = create_app(catalog)
        async with catalog:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                sent = await rerank_one_window(client, "tiny", Request("q", QUERY, DOCUMENTS))
            one = await service.score(QUERY, DOCUMENTS, max_chunks_per_doc=1)
            every = await service.score(QUERY, DOCUMENTS)
        return sent, one.tolist(), every.tolist()

    sent, one_window, every_window = asyncio.run(scenario())
    assert sent == pytest.approx(one_window, abs=1e-6)  # input order, one window each
    assert sent[0] < every_window[0]  # the query's words sit in a later window


def test_windowed_cost_counts_the_windows_the_engine_scores(tiny_model_dir: Path) -> None:
    workload = _workload()

    async def engine_pairs() -> tuple[int, int]:
        async with _fake_service(tiny_model_dir) as service:
            outcomes = [await service.rerank(r.query, r.documents) for r in workload.requests]
        return sum(o.usage.pairs for o in outcomes), sum(o.usage.tokens for o in outcomes)

    pairs, tokens = asyncio.run(engine_pairs())
    windowed = windowed_cost(str(tiny_model_dir), workload)
    assert (windowed.pairs, windowed.tokens) == (pairs, tokens)
    one = workload_cost(str(tiny_model_dir), workload)
    assert one.pairs == workload.documents < windowed.pairs
    assert one.flops < windowed.flops


def test_the_library_is_timed_on_one_window_and_windowed_once_more(tiny_model_dir: Path) -> None:
    workload, model, repeats = _workload(), str(tiny_model_dir), 2
    per_pass = windowed_cost(model, workload).pairs
    run = measure_library(
        model,
        "fp32",
        [workload],
        repeats=repeats,
        warmup=1,
        windows_per_pass={workload.name: per_pass},
    )
    timings, windowed = run.timings[workload.name], run.windowed[workload.name]
    assert timings.documents == windowed.timings.documents == repeats * workload.documents
    assert len(timings.latencies_s) == repeats * len(workload.requests)
    assert windowed.windows == repeats * per_pass
    assert windowed.pairs_per_s == pytest.approx(windowed.windows / windowed.timings.wall_s)
    with Reranker(model, backend="onnx") as reranker:
        first = workload.requests[0]
        one = reranker.score(first.query, first.documents, max_chunks_per_doc=1)
        every = reranker.score(first.query, first.documents)
    np.testing.assert_allclose(run.first_scores[workload.name], one, atol=1e-6)
    assert not np.allclose(one, every, atol=1e-6)  # so the check above can tell them apart


def test_without_windows_per_pass_there_is_no_windowed_run(tiny_model_dir: Path) -> None:
    workload = _workload()
    run = measure_library(str(tiny_model_dir), "fp32", [workload], repeats=1, warmup=0)
    assert run.windowed == {}
    assert run.timings[workload.name].documents == workload.documents
