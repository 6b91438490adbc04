"""openrerank under test: the library one request at a time, the server under N clients.

The timed runs score one window per document (``max_chunks_per_doc=1``), as
sentence-transformers and infinity do (they truncate each pair to the model window), so
the ratios against them compare equal work. By default openrerank scores every window
of a long document; that is measured once more on the library (`Windowed`), as pairs/s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from openrerank.bench.measure import Timings, time_concurrent, time_serial
from openrerank.bench.process import child_server, free_port, openrerank_command, peak_rss_mb
from openrerank.bench.results import Windowed
from openrerank.bench.workloads import Request, Workload
from openrerank.eval.client import read_ranking, rerank_request, scores_in_input_order
from openrerank.sync import Reranker
from openrerank.types import BackendName, FloatArray, Precision

SYSTEM = "openrerank"
ENGINES: dict[str, tuple[BackendName, Precision]] = {
    "fp32": ("onnx", "fp32"),
    "int8": ("onnx", "int8"),
    "bf16": ("openvino", "bf16"),
}
"""Each precision class on its fastest CPU backend (bf16: OpenVINO, 1.3x PyTorch's)."""
REQUEST_TIMEOUT_S = 900.0
ONE_WINDOW = 1
"""``max_chunks_per_doc`` of every timed request: one window per document, like the baselines."""


@dataclass(frozen=True)
class LibraryRun:
    """Single-stream timings per workload, the first request's scores, and windowed runs."""

    timings: dict[str, Timings]
    first_scores: dict[str, tuple[float, ...]]
    windowed: dict[str, Windowed]


def measure_library(
    model: str,
    precision: str,
    workloads: Sequence[Workload],
    *,
    repeats: int,
    warmup: int,
    windows_per_pass: Mapping[str, int] | None = None,
) -> LibraryRun:
    """Time ``Reranker.score`` on every workload, one request at a time, one window each.

    With ``windows_per_pass`` (workload name to the windows one pass over its requests
    scores by default, `flops.windowed_cost`), each of those workloads is timed again
    with every window scored, after the one-window runs and without a further warm-up.
    """
    backend, engine_precision = ENGINES[precision]
    with Reranker(model, backend=backend, precision=engine_precision) as reranker:

        def call(request: Request) -> FloatArray:
            return reranker.score(request.query, request.documents, max_chunks_per_doc=ONE_WINDOW)

        def every_window(request: Request) -> FloatArray:
            return reranker.score(request.query, request.documents)

        timings = {w.name: time_serial(call, w, repeats=repeats, warmup=warmup) for w in workloads}
        first = {w.name: tuple(float(s) for s in call(w.requests[0])) for w in workloads}
        windowed = {
            w.name: Windowed(
                time_serial(every_window, w, repeats=repeats, warmup=0),
                windows_per_pass[w.name] * repeats,  # time_serial makes `repeats` passes
            )
            for w in workloads
            if windows_per_pass and w.name in windows_per_pass
        }
    return LibraryRun(timings, first, windowed)


@dataclass(frozen=True)
class ServerRun:
    """N-client timings per workload and the server's peak memory."""

    timings: dict[str, Timings]
    peak_rss_mb: float | None


def measure_server(
    model: str,
    precision: str,
    workloads: Sequence[Workload],
    *,
    clients: int,
    requests_per_client: int,
    log: Path,
) -> ServerRun:
    """Serve the model in a child process and load it with ``clients`` HTTP clients."""
    backend, engine_precision = ENGINES[precision]
    port = free_port()
    args = ["serve", "--model", model, "--backend", backend, "--precision", engine_precision]
    # Every client's request is queued, as infinity queues them: no 429 for queued work.
    args += ["--max-queue-wait", "0"]
    command = openrerank_command([*args, "--host", "127.0.0.1", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    with child_server(command, ready_url=f"{url}/ready", log=log) as process:
        timings = asyncio.run(_load(url, model, workloads, clients, requests_per_client))
        return ServerRun(timings, peak_rss_mb(process.pid))


async def _load(
    url: str, model: str, workloads: Sequence[Workload], clients: int, per_client: int
) -> dict[str, Timings]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=REQUEST_TIMEOUT_S) as client:
        await rerank_one_window(client, model, workloads[0].requests[0])  # warm-up

        def body(request: Request) -> dict[str, object]:
            return one_window_request(model, request)[1]

        path = one_window_request(model, workloads[0].requests[0])[0]
        return {
            w.name: await time_concurrent(
                client, w, body, clients=clients, requests_per_client=per_client, path=path
            )
            for w in workloads
        }


def one_window_request(model: str, request: Request) -> tuple[str, dict[str, object]]:
    """The path and body of a rerank request scoring one window per document (v1)."""
    return rerank_request(model, request.query, request.documents, max_chunks_per_doc=ONE_WINDOW)


async def rerank_one_window(client: httpx.AsyncClient, model: str, request: Request) -> list[float]:
    """One ``POST /v1/rerank`` with one window per document; scores in input order.

    v1, because only Cohere's v1 request has ``max_chunks_per_doc``.
    """
    path, body = one_window_request(model, request)
    ranking = read_ranking(await client.post(path, json=body), path)
    return scores_in_input_order(ranking, len(request.documents))
