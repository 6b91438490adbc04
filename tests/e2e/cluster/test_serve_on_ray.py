"""``serve --ray ADDRESS --replicas 2``: the Cohere SDK gets the library's rankings from
two replicas behind Ray Serve's proxy, and a replica killed under load is replaced while
clients that retry lose nothing."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cohere
import httpx
import pytest

from conftest import REFERENCE_MODEL
from e2e.cluster.support import Rows, ray_processes
from e2e.server_process import ServerProcess, server_env

API_KEY = "ray-key"
REPLICA = "ServeReplica:openrerank"
REQUESTS = 32
CLIENTS = 4
ATTEMPTS = 10
RETRY_PAUSE_S = 0.5
REPLACED_WITHIN_S = 90.0


@pytest.fixture(scope="module")
def ray_server(
    ray_address: str, reference_onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = server_env(hf_cache=os.environ["HF_HUB_CACHE"], openrerank_cache=reference_onnx_cache)
    args = ["--model", REFERENCE_MODEL, "--api-key", API_KEY, "--ray", ray_address]
    args += ["--replicas", "2", "--cpus-per-replica", "1"]
    log = tmp_path_factory.mktemp("ray-serve") / "serve.log"
    process = ServerProcess(args, env=env, log_path=log, api_key=API_KEY)
    try:
        process.wait_ready()
    except BaseException:
        process.stop()
        raise
    yield process
    code = process.stop(timeout_s=60)
    assert code == 0, process.log_path.read_text()[-3000:]


def rows(scifact_rows: Rows) -> list[dict[str, object]]:
    return [json.loads(line) for line in scifact_rows.path.read_text().splitlines()]


def assert_ranked_as_locally(
    ranked: list[tuple[int, float]], local: list[dict[str, object]]
) -> None:
    assert [index for index, _ in ranked] == [r["index"] for r in local]
    for (_, score), want in zip(ranked, local, strict=True):
        assert abs(score - float(want["relevance_score"])) <= 1e-5  # type: ignore[arg-type]


def test_two_replicas_answer_the_cohere_sdk_with_the_librarys_ranking(
    ray_server: ServerProcess, scifact_rows: Rows
) -> None:
    assert len(ray_processes(REPLICA)) == 2
    with cohere.ClientV2(api_key=API_KEY, base_url=ray_server.url) as client:
        for row in rows(scifact_rows):
            response = client.rerank(
                model="rerank-v3.5",
                query=str(row["query"]),
                documents=row["documents"],  # type: ignore[arg-type]
                top_n=3,
            )
            ranked = [(r.index, r.relevance_score) for r in response.results]
            assert_ranked_as_locally(ranked, scifact_rows.local[str(row["id"])])
    with httpx.Client(base_url=ray_server.url) as plain:
        assert plain.get("/health").status_code == 200
        assert plain.get("/ready").status_code == 401  # the key applies in every replica
        metrics = plain.get("/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
        assert "openrerank_requests_total" in metrics.text


def rerank_with_retries(url: str, row: dict[str, object]) -> tuple[list[tuple[int, float]], int]:
    """A client that retries a refused or broken request; its ranking and retries."""
    body = {"model": "rerank-v3.5", "query": row["query"], "documents": row["documents"]}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for attempt in range(ATTEMPTS):
            try:
                response = client.post("/v2/rerank", json={**body, "top_n": 3})
            except httpx.TransportError:
                time.sleep(RETRY_PAUSE_S)
                continue
            if response.status_code == 200:
                results = response.json()["results"]
                return [(r["index"], r["relevance_score"]) for r in results], attempt
            assert response.status_code >= 500, response.text
            time.sleep(RETRY_PAUSE_S)
    raise AssertionError(f"no answer after {ATTEMPTS} attempts")


def test_a_replica_killed_under_load_is_replaced_and_retrying_clients_lose_nothing(
    ray_server: ServerProcess, scifact_rows: Rows
) -> None:
    before = {process.pid for process in ray_processes(REPLICA)}
    assert len(before) == 2
    work = [rows(scifact_rows)[i % len(scifact_rows.ids)] for i in range(REQUESTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(rerank_with_retries, ray_server.url, row) for row in work]
        futures[REQUESTS // 4].result()
        os.kill(min(before), signal.SIGKILL)
        answers = [future.result() for future in futures]
    for row, (ranked, _) in zip(work, answers, strict=True):
        assert_ranked_as_locally(ranked, scifact_rows.local[str(row["id"])])
    # 4 clients keep both replicas busy: the killed one had requests in flight, which
    # failed, and their clients' retries got the answers checked above.
    assert sum(retries for _, retries in answers) >= 1
    deadline = time.monotonic() + REPLACED_WITHIN_S
    while time.monotonic() < deadline:
        now = {process.pid for process in ray_processes(REPLICA)}
        if len(now) == 2 and min(before) not in now:
            break
        time.sleep(1)
    else:
        pytest.fail(f"the killed replica was not replaced within {REPLACED_WITHIN_S:.0f} s")
    with httpx.Client(base_url=ray_server.url, timeout=60) as client:
        deadline = time.monotonic() + REPLACED_WITHIN_S
        while (
            client.get("/ready", headers={"Authorization": f"Bearer {API_KEY}"}).status_code != 200
        ):
            assert time.monotonic() < deadline, "not ready again after the replacement"
            time.sleep(1)
