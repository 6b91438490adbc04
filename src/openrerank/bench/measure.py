"""Timing loops: one request at a time, N concurrent clients, and calls side by side.

The first two return :class:`Timings`: per-request latencies of the successful requests,
the documents they scored, the wall time and the failures. Throughput is documents over
wall time, so concurrency shows up as a higher rate, not a lower latency.
`time_round_robin` times several calls in turns, so machine noise hits them alike.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from openrerank.bench.load import Payload, closed_loop, percentile
from openrerank.bench.workloads import Request, Workload

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timings:
    """What one timing loop measured."""

    latencies_s: tuple[float, ...]
    documents: int
    wall_s: float
    errors: int = 0
    clients: int = 1

    def percentile_ms(self, q: float) -> float:
        """The q-th percentile (0-100) of the request latencies, in milliseconds."""
        if not self.latencies_s:
            return float("nan")
        return percentile(self.latencies_s, q) * 1000

    @property
    def docs_per_s(self) -> float:
        """Documents scored per second of wall time."""
        return self.documents / self.wall_s if self.wall_s > 0 else 0.0


def time_serial(
    call: Callable[[Request], object], workload: Workload, *, repeats: int, warmup: int
) -> Timings:
    """Send every request of the workload ``repeats`` times, one at a time.

    The first ``warmup`` requests (cycling through the workload) are not timed.
    """
    for index in range(warmup):
        call(workload.requests[index % len(workload.requests)])
    latencies: list[float] = []
    documents = 0
    for _ in range(repeats):
        for request in workload.requests:
            started = time.perf_counter()
            call(request)
            latencies.append(time.perf_counter() - started)
            documents += len(request.documents)
    return Timings(tuple(latencies), documents, sum(latencies))


async def time_concurrent(
    client: httpx.AsyncClient,
    workload: Workload,
    body: Callable[[Request], Payload],
    *,
    clients: int,
    requests_per_client: int,
    path: str,
) -> Timings:
    """``clients`` closed-loop clients, each sending ``requests_per_client`` requests.

    The requests are the workload's, as ``body`` writes them, POSTed to ``path`` by the
    load generator (`openrerank.bench.load.closed_loop`): the clients' first requests
    are the workload's first ones, then each takes the next in turn, so the clients send
    different queries at the same time. An answer other than 200 (or none) counts as an
    error (the statuses and error kinds are logged) and its documents as not scored.
    """
    payloads = [body(request) for request in workload.requests]
    result = await closed_loop(
        client, payloads, clients=clients, requests_per_client=requests_per_client, path=path
    )
    if result.failures:
        logger.warning(
            "%d of %d requests failed: statuses %s, errors %s",
            result.failures,
            result.requests,
            result.status_counts,
            result.error_counts,
        )
    ok = [r.latency_s for r in result.records if r.status == httpx.codes.OK]
    return Timings(tuple(ok), result.documents_scored, result.duration_s, result.failures, clients)


def time_round_robin(
    calls: Mapping[str, Callable[[], float | None]], *, repeats: int, warmup: int
) -> dict[str, list[float]]:
    """Call each of ``calls`` once per round, rotating which goes first, and keep the times.

    Each call times itself and returns its milliseconds, or ``None`` when it failed: a
    failed call is not called again. The first ``warmup`` rounds are not kept.
    """
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    failed: set[str] = set()
    for round_index in range(warmup + repeats):
        shift = round_index % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            if name in failed:
                continue
            elapsed_ms = calls[name]()
            if elapsed_ms is None:
                failed.add(name)
            elif round_index >= warmup:
                samples[name].append(elapsed_ms)
    return samples
