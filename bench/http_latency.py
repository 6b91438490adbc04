"""End-to-end latency of one v2 rerank request over HTTP next to the library's same call.

Starts a real ``openrerank serve`` (uvicorn) on 127.0.0.1 with the reference model, and
in this process a ``Reranker`` with the same model, backend and precision. For one
SciFact test query and its 100 BM25 candidates, it alternates (round-robin, rotating
start) ``Reranker.rank(query, documents)`` and ``POST /v2/rerank`` with the same input,
so machine noise hits both alike. The library is the named baseline; the ratio is the
HTTP median over the library median. The server and the library never run at once.

Usage::

    .venv/bin/python bench/http_latency.py [--repeats N] [--warmup N] [--model NAME]
        [--backend auto] [--precision fp32] [--json bench/results/http_latency.json]
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"

# The hub must be off (and the cache chosen) before openrerank or huggingface_hub is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_CACHE", str(SHARED_DIR / "hf-cache"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any, cast  # noqa: E402

import httpx  # noqa: E402

from openrerank import EngineConfig, ModelConfig, Reranker  # noqa: E402
from openrerank.types import BackendName, Precision  # noqa: E402
from score_latency import load_query  # noqa: E402

DEFAULT_MODEL = "openrerank/minilm-l6-scifact-ce"
DEFAULT_DATA = SHARED_DIR / "data" / "beir-scifact"
READY_TIMEOUT_S = 300.0
N_DOCUMENTS = 100


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    command = [
        *(sys.executable, "-c", "from openrerank.cli.main import main; main()", "serve"),
        *("--model", args.model, "--port", str(port)),
        *("--backend", args.backend, "--precision", args.precision),
    ]
    env = {**os.environ, "OPENRERANK_LOG_LEVEL": "warning"}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(client: httpx.Client, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            stderr = server.stderr.read().decode() if server.stderr else ""
            raise SystemExit(f"the server exited ({server.returncode}):\n{stderr}")
        try:
            if client.get("/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server was not ready in time")


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def measure(
    calls: dict[str, Callable[[], Any]], repeats: int, warmup: int
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for repeat in range(warmup + repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            elapsed = timed(calls[name])
            if repeat >= warmup:
                samples[name].append(elapsed)
    return samples


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    _, query, candidates = load_query(args.data, None)
    documents = candidates[:N_DOCUMENTS]
    port = free_port()
    server = start_server(args, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            wait_ready(client, server)
            report = run_pair(args, client, query, documents)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def run_pair(
    args: argparse.Namespace, client: httpx.Client, query: str, documents: list[str]
) -> dict[str, Any]:
    model = ModelConfig(
        name=args.model, backend=_backend(args.backend), precision=_precision(args.precision)
    )
    body = {"model": "rerank-v3.5", "query": query, "documents": documents}

    def over_http() -> None:
        client.post("/v2/rerank", json=body).raise_for_status()

    with Reranker.from_config(EngineConfig(model=model)) as reranker:
        samples = measure(
            {"library": lambda: reranker.rank(query, documents), "http": over_http},
            args.repeats,
            args.warmup,
        )
        info = reranker.info
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "model": info.name,
        "backend": info.backend,
        "precision": info.precision,
        "documents": len(documents),
        "repeats": args.repeats,
        "median_ms": medians,
        "http_over_library": medians["http"] / medians["library"],
        "http_overhead_ms": medians["http"] - medians["library"],
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
    }


def _backend(name: str) -> BackendName:
    if name not in ("auto", "onnx", "torch", "fake"):
        raise SystemExit(f"unknown backend {name!r}")
    return cast(BackendName, name)


def _precision(name: str) -> Precision:
    if name not in ("fp32", "fp16", "bf16", "int8"):
        raise SystemExit(f"unknown precision {name!r}")
    return cast(Precision, name)


if __name__ == "__main__":
    main()
