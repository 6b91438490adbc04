"""Tests for openrerank.bench.load: the closed and open loops against ``httpx.MockTransport``.

The handlers log what they received, so each expected count is computed from what the
"server" saw, independently of the generator's own bookkeeping. Loops run for a fraction
of a second; time bounds asserted here are generous (they check that a loop ends at all).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

import httpx
import numpy as np
import pytest

from openrerank.bench.load import (
    LoadResult,
    Payload,
    RequestRecord,
    closed_loop,
    latency_summary_ms,
    open_loop,
    percentile,
)

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def body(query: str, documents: int) -> Payload:
    return {"model": "rerank-v3.5", "query": query, "documents": ["d"] * documents}


def run_closed(handler: Handler, payloads: Sequence[Payload], **options: float) -> LoadResult:
    async def main() -> LoadResult:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await closed_loop(client, payloads, **options)  # type: ignore[arg-type]

    return asyncio.run(main())


def run_open(handler: Handler, payloads: Sequence[Payload], **options: float) -> LoadResult:
    async def main() -> LoadResult:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await open_loop(client, payloads, **options)  # type: ignore[arg-type]

    return asyncio.run(main())


ANSWERS = {
    "ok": httpx.Response(200, json={"results": []}),
    "busy": httpx.Response(429, headers={"Retry-After": "3"}, json={"message": "busy"}),
    "busy-bare": httpx.Response(429, json={"message": "busy"}),
    "broken": httpx.Response(503, json={"message": "down"}),
}


def logging_handler(seen: list[str]) -> Handler:
    """Answers by the body's query (see ``ANSWERS``) and logs each query it received."""

    async def handler(request: httpx.Request) -> httpx.Response:
        query = json.loads(request.content)["query"]
        seen.append(query)
        await asyncio.sleep(0.001)
        return ANSWERS[query]

    return handler


# --- percentiles ------------------------------------------------------------------


def test_percentile_matches_hand_computed_values() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([10.0, 20.0], 99) == pytest.approx(19.9)
    assert percentile([7.0], 95) == 7.0
    assert percentile([1.0, 2.0, 3.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0], 100) == 3.0


@pytest.mark.parametrize("q", [0.0, 12.5, 50.0, 95.0, 99.0, 100.0])
def test_percentile_matches_numpy_linear_method(q: float) -> None:
    values = np.random.default_rng(7).exponential(size=101).tolist()
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_refuses_no_values_and_out_of_range_q() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="q must be"):
        percentile([1.0], 101)


def test_latency_summary_is_in_milliseconds_and_none_when_empty() -> None:
    assert latency_summary_ms([0.1, 0.2, 0.3]) == {"p50": 200.0, "p95": 290.0, "p99": 298.0,
                                                    "max": 300.0}  # fmt: skip
    assert latency_summary_ms([]) == {"p50": None, "p95": None, "p99": None, "max": None}


# --- counts, documents, Retry-After -------------------------------------------------


def test_closed_loop_counts_answers_documents_and_retry_after() -> None:
    seen: list[str] = []
    payloads = [body("ok", 3), body("busy", 5), body("ok", 2), body("broken", 7),
                body("busy-bare", 1)]  # fmt: skip
    result = run_closed(logging_handler(seen), payloads, clients=2, duration_s=0.2)

    sizes = {"ok": 5 / 2, "busy": 5, "broken": 7, "busy-bare": 1}  # "ok" is 3 or 2 docs
    by_query = Counter(seen)
    assert result.requests == len(seen) > 10
    assert result.status_counts == {
        code: n
        for code, n in sorted({200: by_query["ok"], 429: by_query["busy"] + by_query["busy-bare"],
                               503: by_query["broken"]}.items())
        if n
    }  # fmt: skip
    assert result.ok == by_query["ok"]
    assert result.failures == len(seen) - by_query["ok"]
    assert result.server_errors == by_query["broken"]
    assert result.retry_after_values == {"3": by_query["busy"]}
    assert result.missing_retry_after == by_query["busy-bare"]
    assert result.error_counts == {}
    # Payloads go out in turn, so the "ok" ones alternate between 3 and 2 documents.
    assert abs(result.documents_scored - sizes["ok"] * by_query["ok"]) <= 0.5
    assert [r.documents for r in result.records if r.status == 503] == [7] * by_query["broken"]


def test_summary_latencies_match_the_records() -> None:
    seen: list[str] = []
    result = run_closed(logging_handler(seen), [body("ok", 4), body("busy", 1)],
                        clients=3, duration_s=0.2)  # fmt: skip
    summary = result.summary()
    ok_ms = [r.latency_s * 1000 for r in result.records if r.status == 200]
    busy_ms = [r.latency_s * 1000 for r in result.records if r.status == 429]
    latency_ok = summary["latency_ok_ms"]
    latency_429 = summary["latency_429_ms"]
    assert isinstance(latency_ok, dict) and isinstance(latency_429, dict)
    for key, q in {"p50": 50, "p95": 95, "p99": 99}.items():
        assert latency_ok[key] == pytest.approx(np.percentile(ok_ms, q), abs=0.01)
        assert latency_429[key] == pytest.approx(np.percentile(busy_ms, q), abs=0.01)
    assert summary["requests"] == len(seen)
    assert summary["status_counts"] == {"200": len(ok_ms), "429": len(busy_ms)}
    assert summary["documents_per_s"] == pytest.approx(4 * len(ok_ms) / result.duration_s, rel=1e-3)
    json.dumps(summary)  # JSON-ready


def test_a_polite_closed_loop_waits_out_retry_after_until_the_deadline() -> None:
    seen: list[str] = []
    polite = run_closed(logging_handler(seen), [body("busy", 1)], clients=2, duration_s=0.3,
                        honor_retry_after=True)  # fmt: skip
    assert polite.requests == len(seen) == 2, "each client waits 3 s, past the deadline"
    assert polite.duration_s < 2.0
    eager = run_closed(logging_handler([]), [body("busy", 1)], clients=2, duration_s=0.1)
    assert eager.requests > 2


# --- failures without an answer ------------------------------------------------------


def test_transport_errors_and_timeouts_are_failures_of_their_kind() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        query = json.loads(request.content)["query"]
        if query == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if query == "slow":
            raise httpx.ReadTimeout("timed out", request=request)
        if query == "reset":
            raise httpx.RemoteProtocolError("peer closed", request=request)
        return httpx.Response(200)

    payloads = [body("refused", 1), body("slow", 1), body("reset", 1), body("fine", 2)]
    result = run_open(handler, payloads, rate_per_s=200, duration_s=0.2, max_outstanding=50)

    assert result.requests + result.skipped == 40  # 200/s x 0.2 s
    sent = Counter(i % 4 for i in range(result.requests))  # payloads go out in turn
    assert result.error_counts == {"connect": sent[0], "timeout": sent[1], "transport": sent[2]}
    assert result.status_counts == ({200: sent[3]} if sent[3] else {})
    assert result.failures == sent[0] + sent[1] + sent[2]
    assert result.documents_scored == 2 * sent[3]
    assert all(r.status is None for r in result.records if r.error is not None)


def test_an_unexpected_exception_in_a_request_is_raised_not_hidden() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in the handler")

    with pytest.raises(RuntimeError, match="a bug"):
        run_closed(handler, [body("q", 1)], clients=1, duration_s=0.05)


# --- bounds --------------------------------------------------------------------------


def hanging_handler(in_flight: list[int], most: list[int]) -> Handler:
    """Never answers; tracks how many requests it holds at once."""

    async def handler(request: httpx.Request) -> httpx.Response:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        try:
            await asyncio.Event().wait()
        finally:
            in_flight[0] -= 1
        raise AssertionError("unreachable")

    return handler


def test_closed_loop_ends_by_its_deadline_cancelling_requests_in_flight() -> None:
    in_flight, most = [0], [0]
    started = time.perf_counter()
    result = run_closed(hanging_handler(in_flight, most), [body("q", 1)],
                        clients=3, duration_s=0.1, drain_s=0.1)  # fmt: skip
    assert time.perf_counter() - started < 5.0
    assert result.error_counts == {"cancelled": 3}
    assert most == [3] and in_flight == [0]
    assert 0.15 <= result.duration_s < 5.0


@pytest.mark.parametrize("shape", ["closed", "open"])
def test_a_cancelled_loop_cancels_its_requests(shape: str) -> None:
    in_flight, most = [0], [0]

    async def main() -> None:
        transport = httpx.MockTransport(hanging_handler(in_flight, most))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if shape == "closed":
                loop = closed_loop(client, [body("q", 1)], clients=3, duration_s=60)
            else:
                loop = open_loop(client, [body("q", 1)], rate_per_s=100, duration_s=60,
                                 max_outstanding=3)  # fmt: skip
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(loop, timeout=0.2)
            await asyncio.sleep(0.01)  # let the cancelled requests unwind
            assert in_flight == [0]

    asyncio.run(main())
    assert most == [3]


def test_open_loop_never_exceeds_max_outstanding_and_counts_the_skipped() -> None:
    in_flight, most = [0], [0]
    result = run_open(hanging_handler(in_flight, most), [body("q", 1)],
                      rate_per_s=500, duration_s=0.2, max_outstanding=4, drain_s=0.05)  # fmt: skip
    assert most == [4] and in_flight == [0]
    assert result.requests == 4
    assert result.requests + result.skipped == 100  # 500/s x 0.2 s were due
    assert result.error_counts == {"cancelled": 4}


def test_open_loop_fires_on_schedule_without_waiting_for_answers() -> None:
    in_flight, most = [0], [0]

    async def slow(request: httpx.Request) -> httpx.Response:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        await asyncio.sleep(0.1)
        in_flight[0] -= 1
        return httpx.Response(200)

    result = run_open(slow, [body("q", 1)], rate_per_s=200, duration_s=0.25,
                      max_outstanding=1000)  # fmt: skip
    assert result.requests + result.skipped == 50
    assert result.requests >= 25 and result.ok == result.requests
    assert most[0] > 5, "an open loop keeps sending while earlier requests wait"
    assert max(r.started_s for r in result.records) < 0.25


def test_open_loop_behind_its_schedule_stops_sending_at_the_deadline() -> None:
    def blocking(request: httpx.Request) -> httpx.Response:
        time.sleep(0.02)  # holds the event loop, as a saturated generator does
        return httpx.Response(200)

    started = time.perf_counter()
    result = run_open(blocking, [body("q", 1)], rate_per_s=1000, duration_s=0.1,
                      max_outstanding=1000)  # fmt: skip
    assert time.perf_counter() - started < 2.0
    assert result.requests + result.skipped == 100
    assert result.skipped > 50
    assert max(r.started_s for r in result.records) < 0.1


# --- slicing and validation ----------------------------------------------------------


def test_retry_after_values_are_ordered_by_seconds() -> None:
    values = ("10", "3", "60", "3", "soon")
    records = tuple(
        RequestRecord(started_s=0.0, latency_s=0.001, documents=1, status=429, retry_after=value)
        for value in values
    )
    ordered = LoadResult(records, 1.0).retry_after_values
    assert list(ordered.items()) == [("3", 2), ("10", 1), ("60", 1), ("soon", 1)]


def test_between_keeps_the_requests_started_in_the_window() -> None:
    records = tuple(RequestRecord(started_s=t, latency_s=0.01, documents=2, status=200)
                    for t in (0.5, 1.5, 1.9, 2.0, 3.2))  # fmt: skip
    window = LoadResult(records, duration_s=4.0).between(1.0, 2.0)
    assert [r.started_s for r in window.records] == [1.5, 1.9]
    assert window.duration_s == 1.0
    assert window.summary()["documents_per_s"] == 4.0


@pytest.mark.parametrize(
    ("payloads", "options", "message"),
    [
        ([], {"clients": 1, "duration_s": 1.0}, "no payloads"),
        ([body("q", 1)], {"clients": 0, "duration_s": 1.0}, "clients"),
        ([body("q", 1)], {"clients": 1, "duration_s": -1.0}, "times"),
        ([body("q", 1)], {"clients": 1}, "finite duration_s or requests_per_client"),
        ([body("q", 1)], {"clients": 1, "requests_per_client": 0}, "requests_per_client"),
    ],
)
def test_closed_loop_refuses_bad_arguments(
    payloads: list[Payload], options: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run_closed(logging_handler([]), payloads, **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate_per_s": 0.0, "duration_s": 1.0, "max_outstanding": 1}, "rate_per_s"),
        ({"rate_per_s": 1.0, "duration_s": 1.0, "max_outstanding": 0}, "max_outstanding"),
        ({"rate_per_s": 1.0, "duration_s": math.inf, "max_outstanding": 1}, "finite"),
    ],
)
def test_open_loop_refuses_bad_arguments(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_open(logging_handler([]), [body("q", 1)], **options)


def test_a_counted_closed_loop_sends_that_many_per_client_to_its_path() -> None:
    seen: list[str] = []
    paths: list[str] = []
    handler = logging_handler(seen)

    async def answer(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return await handler(request)

    payloads = [body("ok", 2), body("busy", 3), body("ok", 5)]
    result = run_closed(answer, payloads, clients=2, requests_per_client=3, path="/v1/rerank")
    assert Counter(seen) == {"ok": 4, "busy": 2}  # the 3 payloads in turn, twice
    assert set(paths) == {"/v1/rerank"}
    assert (result.requests, result.ok, result.failures) == (6, 4, 2)
    assert result.documents_scored == 2 * (2 + 5)
