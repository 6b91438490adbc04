"""``openrerank bench scaling``: the same rows ranked every way there is, side by side.

Batch: a local job, then Ray Data with 1 and 2 actors (on one private Ray). HTTP: one
``openrerank serve`` process, then Ray Serve with 1 and 2 replicas behind its proxy,
each driven by the same closed loop of concurrent clients sending the rows as
``POST /v2/rerank``. Every mode scores the same pairs with the engine's defaults, so the
ratios compare equal work. A batch mode's seconds run from its first row submitted (a
Ray job's include starting its actors and loading their models: what each job pays);
an HTTP mode's from its first request, after every replica is ready.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from openrerank.batch.job import run_job
from openrerank.batch.rows import BatchRow, row_record
from openrerank.batch.scorer import BatchScorer
from openrerank.batch.sources import FileSource
from openrerank.bench.load import closed_loop
from openrerank.bench.process import child_server, free_port, openrerank_command
from openrerank.cluster.data import RayPlan, run_on_ray
from openrerank.cluster.runtime import LOCAL, connected
from openrerank.config import EngineConfig, ReplicaConfig, ServerConfig

HTTP_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ModeResult:
    """One way of ranking the rows, measured.

    Attributes:
        mode: what ran (``batch: Ray Data, 2 actors``...).
        pairs: query-document pairs scored.
        seconds: wall time of the work (see the module).
        failed: rows or requests that did not succeed.
    """

    mode: str
    pairs: int
    seconds: float
    failed: int = 0

    @property
    def pairs_per_s(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "pairs_per_s": self.pairs_per_s}


def write_rows(rows: Sequence[BatchRow], path: Path) -> Path:
    path.write_text("".join(json.dumps(row_record(row)) + "\n" for row in rows))
    return path


def measure(
    rows: Sequence[BatchRow], engine: EngineConfig, work: Path, *, clients: int
) -> list[ModeResult]:
    """Every mode over ``rows`` (files go to ``work``), in the order the module gives."""
    source = FileSource(write_rows(rows, work / "rows.jsonl"))
    cores = float(os.cpu_count() or 1)
    local = run_job(source, work / "local.jsonl", lambda: BatchScorer(engine))
    results = [ModeResult("batch: local, one engine", local.pairs, local.seconds)]
    with connected(LOCAL, cpus=cores):
        for actors in (1, 2):
            plan = RayPlan(LOCAL, actors=actors, cpus_per_actor=cores / actors)
            out = work / f"ray-{actors}.jsonl"
            summary = run_on_ray(source, out, engine, {}, plan)
            noun = "actor" if actors == 1 else "actors"
            results.append(
                ModeResult(f"batch: Ray Data, {actors} {noun}", summary.pairs, summary.seconds)
            )
        bodies = [_body(row, engine) for row in rows]
        with _one_server(engine, work) as url:
            results.append(_load("HTTP: one openrerank serve", url, bodies, clients))
        for replicas in (1, 2):
            with _ray_serve(engine, replicas, cores) as url:
                noun = "replica" if replicas == 1 else "replicas"
                mode = f"HTTP: Ray Serve, {replicas} {noun}"
                results.append(_load(mode, url, bodies, clients))
    return results


def _body(row: BatchRow, engine: EngineConfig) -> dict[str, object]:
    return {"model": engine.model.name, "query": row.query, "documents": list(row.documents)}


def _load(mode: str, url: str, bodies: list[dict[str, object]], clients: int) -> ModeResult:
    per_client = max(1, len(bodies) // clients)

    async def run() -> ModeResult:
        timeout = httpx.Timeout(HTTP_TIMEOUT_S)
        async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
            result = await closed_loop(
                client, bodies, clients=clients, requests_per_client=per_client
            )
        pairs = sum(record.documents for record in result.records if record.status == 200)
        return ModeResult(mode, pairs, result.duration_s, result.failures)

    return asyncio.run(run())


@contextmanager
def _one_server(engine: EngineConfig, work: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{free_port()}"
    flags = ["--model", engine.model.name, "--max-queue-wait", "0"]
    flags += ["--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1]]
    command = openrerank_command(["serve", *flags])
    with child_server(command, ready_url=f"{url}/ready", log=work / "serve.log"):
        yield url


@contextmanager
def _ray_serve(engine: EngineConfig, replicas: int, cores: float) -> Iterator[str]:
    from ray import serve

    from openrerank.cluster.serve import APP_NAME, application

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    unbounded = EngineConfig(model=engine.model, max_queue_wait_s=None)
    scaling = ReplicaConfig(ray=LOCAL, replicas=replicas, cpus_per_replica=cores / replicas)
    config = ServerConfig(models=(unbounded,), replicas=scaling)
    serve.run(application(config), name=APP_NAME, route_prefix="/")  # returns once ready
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
