"""The infinity-emb baseline: its server, single-stream and under N clients, like ours."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx

from openrerank.bench import infinity
from openrerank.bench.measure import Timings, time_concurrent
from openrerank.bench.process import free_port, peak_rss_mb
from openrerank.bench.results import Measurement
from openrerank.bench.venvs import ensure_venv
from openrerank.bench.workloads import Request, Workload

if TYPE_CHECKING:
    from openrerank.bench.runner import BenchRun

SYSTEM = "infinity"
PRECISIONS = infinity.PRECISIONS
REQUEST_TIMEOUT_S = 900.0


def measure(run: BenchRun, precision: str, workloads: Sequence[Workload]) -> None:
    """Serve the model with infinity and measure it as openrerank's server is measured."""
    config = run.config
    logs = config.out_dir / "logs"
    python = ensure_venv(
        config.venv_dir, "infinity", infinity.INFINITY_REQUIREMENTS, log=logs / "infinity-pip.log"
    )
    with infinity.infinity_server(
        config.model,
        python=python,
        port=free_port(),
        precision=precision,
        batch_size=infinity.DEFAULT_BATCH_SIZE,
        log=logs / f"infinity-{precision}.log",
    ) as (endpoint, process):
        results = asyncio.run(
            _measure(
                endpoint, workloads, config.repeats, config.clients, config.requests_per_client
            )
        )
        rss = peak_rss_mb(process.pid)
    for w in workloads:
        serial, concurrent, first = results[w.name]
        run.measurements.append(
            Measurement(SYSTEM, precision, w.name, serial, concurrent, rss, first)
        )


async def _measure(
    endpoint: infinity.InfinityEndpoint,
    workloads: Sequence[Workload],
    repeats: int,
    clients: int,
    per_client: int,
) -> dict[str, tuple[Timings, Timings | None, tuple[float, ...]]]:
    limits = httpx.Limits(max_connections=max(clients, 1))
    url = endpoint.url + infinity.REQUEST_PATH

    def body(request: Request) -> dict[str, object]:
        return infinity.infinity_request(endpoint, request.query, request.documents)[1]

    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_S) as client:
        first_request = workloads[0].requests[0]  # the warm-up
        await infinity.infinity_scores(
            client, endpoint, first_request.query, first_request.documents
        )
        out: dict[str, tuple[Timings, Timings | None, tuple[float, ...]]] = {}
        for w in workloads:
            first = await infinity.infinity_scores(
                client, endpoint, w.requests[0].query, w.requests[0].documents
            )
            # One client, one request at a time, is the single-stream measurement.
            serial = await time_concurrent(
                client, w, body, clients=1, requests_per_client=repeats * len(w.requests), path=url
            )
            concurrent = (
                await time_concurrent(
                    client, w, body, clients=clients, requests_per_client=per_client, path=url
                )
                if clients > 0
                else None
            )
            out[w.name] = (serial, concurrent, tuple(first))
        return out
