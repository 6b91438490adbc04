"""End-to-end latency of one v2 rerank request over HTTP next to the library's same call.

``openrerank bench http-latency`` runs this. It starts a real ``openrerank serve``
(uvicorn) on 127.0.0.1, and in this process a ``Reranker`` with the same model, backend
and precision. For one SciFact test query and its 100 BM25 candidates, it alternates
(round-robin, rotating start: `openrerank.bench.measure.time_round_robin`)
``Reranker.rank(query, documents)`` and ``POST /v2/rerank`` with the same input, so
machine noise hits both alike. The library is the named baseline; the ratio is the HTTP
median over the library median.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from openrerank.bench.measure import time_round_robin
from openrerank.bench.process import child_server, free_port, openrerank_command
from openrerank.bench.workloads import load_query
from openrerank.config import EngineConfig, ModelConfig
from openrerank.eval.client import read_ranking, rerank_request
from openrerank.sync import Reranker
from openrerank.types import BackendName, Precision

MODEL_ALIAS = "rerank-v3.5"
READY_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 120.0
N_DOCUMENTS = 100


@dataclass(frozen=True)
class HttpLatencyConfig:
    """What one run compares."""

    model: str
    data: Path
    """The BEIR SciFact folder."""
    backend: BackendName = "auto"
    precision: Precision = "fp32"
    repeats: int = 15
    warmup: int = 2
    log: Path = Path("bench/results/logs/http-latency-server.log")


def run_http_latency(config: HttpLatencyConfig) -> dict[str, object]:
    """Serve the model, time both paths in turns, and report their medians.

    Raises:
        RuntimeError: the server did not get ready (the message ends with its log).
    """
    _, query, candidates = load_query(config.data, None)
    documents = candidates[:N_DOCUMENTS]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    flags = ["--model", config.model, "--backend", config.backend]
    flags += ["--precision", config.precision, "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "OPENRERANK_LOG_LEVEL": "warning"}
    command = openrerank_command(["serve", *flags])
    with (
        child_server(
            command,
            ready_url=f"{url}/ready",
            log=config.log,
            env=env,
            ready_timeout_s=READY_TIMEOUT_S,
        ),  # fmt: skip
        httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client,
    ):
        return _compare(config, client, query, documents)


def _compare(
    config: HttpLatencyConfig, client: httpx.Client, query: str, documents: list[str]
) -> dict[str, object]:
    model = ModelConfig(name=config.model, backend=config.backend, precision=config.precision)
    path, body = rerank_request(MODEL_ALIAS, query, documents)

    def over_http() -> None:
        read_ranking(client.post(path, json=body), path)

    with Reranker.from_config(EngineConfig(model=model)) as reranker:
        calls = {
            "library": _timed(lambda: reranker.rank(query, documents)),
            "http": _timed(over_http),
        }
        samples = time_round_robin(calls, repeats=config.repeats, warmup=config.warmup)
        info = reranker.info
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "model": info.name,
        "backend": info.backend,
        "precision": info.precision,
        "documents": len(documents),
        "repeats": config.repeats,
        "median_ms": medians,
        "http_over_library": medians["http"] / medians["library"],
        "http_overhead_ms": medians["http"] - medians["library"],
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
    }


def _timed(call: Callable[[], object]) -> Callable[[], float]:
    def timed() -> float:
        started = time.perf_counter()
        call()
        return (time.perf_counter() - started) * 1000

    return timed
