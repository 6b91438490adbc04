"""The timing loops count what they time: documents, failures, clients."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from openrerank.bench.measure import Timings, time_concurrent, time_round_robin, time_serial
from openrerank.bench.workloads import WORKLOADS, Request, Workload


def _workload(sizes: list[int]) -> Workload:
    requests = tuple(
        Request(str(i), f"q{i}", tuple(f"d{j}" for j in range(n))) for i, n in enumerate(sizes)
    )
    return Workload(WORKLOADS["dl19-100"], requests)


def test_serial_times_every_request_of_every_pass_after_the_warmup() -> None:
    workload = _workload([3, 5])
    seen: list[str] = []
    timings = time_serial(lambda r: seen.append(r.query_id), workload, repeats=2, warmup=3)
    assert seen == ["0", "1", "0", "0", "1", "0", "1"]  # 3 warm-up, then 2 passes
    assert len(timings.latencies_s) == 4
    assert timings.documents == 2 * (3 + 5)
    assert timings.wall_s == pytest.approx(sum(timings.latencies_s))


def test_concurrent_clients_start_at_different_requests_and_count_failures() -> None:
    workload = _workload([2, 4, 6])
    started: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        started.append(body["query"][1:])
        return httpx.Response(429 if body["query"] == "q2" else 200, json={"results": []})

    def body(request: Request) -> dict[str, object]:
        return {"query": request.query, "documents": list(request.documents)}

    async def run() -> Timings:
        transport = httpx.MockTransport(answer)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.test") as client:
            return await time_concurrent(
                client, workload, body, clients=3, requests_per_client=2, path="/v1/rerank"
            )

    timings = asyncio.run(run())
    assert started[:3] == ["0", "1", "2"]  # each client's first request
    assert sorted(started) == ["0", "0", "1", "1", "2", "2"]
    assert timings.errors == 2
    assert timings.documents == 2 * 2 + 2 * 4
    assert len(timings.latencies_s) == 4
    assert timings.clients == 3


def test_percentiles_and_rate_come_from_the_samples() -> None:
    timings = Timings(tuple(x / 1000 for x in range(1, 101)), documents=500, wall_s=2.0)
    assert timings.percentile_ms(50) == pytest.approx(50.5)
    assert timings.percentile_ms(99) == pytest.approx(99.01)
    assert timings.docs_per_s == 250.0
    assert Timings((), 0, 0.0).docs_per_s == 0.0


def test_round_robin_rotates_the_first_call_and_drops_a_failed_one() -> None:
    order: list[str] = []
    failures = iter([False, False, True])

    def call(name: str, fails: bool = False) -> float | None:
        order.append(name)
        return None if fails and next(failures) else float(len(order))

    calls = {"a": lambda: call("a"), "b": lambda: call("b"), "c": lambda: call("c", fails=True)}
    samples = time_round_robin(calls, repeats=3, warmup=1)
    # Round 0 (warm-up): a b c; round 1: b c a; round 2: c fails, then a b; round 3: a b.
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b"]
    assert samples == {"a": [6.0, 8.0, 10.0], "b": [4.0, 9.0, 11.0], "c": [5.0]}
