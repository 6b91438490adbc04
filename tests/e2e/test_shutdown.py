"""SIGTERM on a real ``openrerank serve`` process: drain, 503 for newcomers, exit 0.

The tiny model runs on ONNX Runtime in a child process; one large request keeps it
busy while the test signals it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from e2e.server_process import ServerProcess, server_env

KEY = "sk-shutdown-3b9d51"
WRONG_KEY = "sk-shutdown-wrong-77aa"
AUTH = {"Authorization": f"Bearer {KEY}"}
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "near",
    "the",
    "river",
    "bank",
    "at",
    "dawn",
]
BUSY_DOCUMENTS = 1_500
EXIT_MARGIN_S = 10.0
StartServer = Callable[..., ServerProcess]


def _busy_body() -> dict[str, object]:
    documents = [
        " ".join(WORDS[(i + j) % len(WORDS)] for j in range(90)) for i in range(BUSY_DOCUMENTS)
    ]
    return {"model": "rerank-v3.5", "query": "quick brown fox", "documents": documents}


def _queued_pairs(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "openrerank_queue_pairs"
    )


class BusyRequest:
    """The large request, sent from a thread; ``response`` once it is answered."""

    def __init__(self, url: str) -> None:
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._send, args=(url,), daemon=True)
        self._thread.start()

    def _send(self, url: str) -> None:
        try:
            with httpx.Client(base_url=url, headers=AUTH, timeout=120.0) as client:
                self.response = client.post("/v2/rerank", json=_busy_body())
        except httpx.HTTPError as exc:
            self.error = exc

    @property
    def answered(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)


def _wait_until_in_flight(server: ServerProcess, busy: BusyRequest) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=5.0) as client:
        deadline = time.monotonic() + 30
        while _queued_pairs(client) == 0:
            assert not busy.answered, "the large request ended before the test saw it queued"
            assert time.monotonic() < deadline, "the large request never reached the queue"
            time.sleep(0.02)


@pytest.fixture
def start_server(tiny_model_dir: Path, tmp_path: Path) -> Iterator[StartServer]:
    started: list[ServerProcess] = []

    def factory(*flags: str) -> ServerProcess:
        env = server_env(hf_cache=str(tmp_path / "hf"), openrerank_cache=tmp_path / "cache")
        args = ["--model", str(tiny_model_dir), "--api-key", KEY, *flags]
        process = ServerProcess(args, env=env, log_path=tmp_path / "serve.log", api_key=KEY)
        started.append(process)
        process.wait_ready()
        return process

    yield factory
    for process in started:
        process.stop()


def test_sigterm_drains_in_flight_refuses_new_with_503_and_exits_0(
    start_server: StartServer,
) -> None:
    server = start_server("--grace-period", "60")
    busy = BusyRequest(server.url)
    _wait_until_in_flight(server, busy)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    with httpx.Client(base_url=server.url, timeout=10.0) as newcomer:
        refused = newcomer.post("/v2/rerank", json={"query": "q", "documents": ["d"]}, headers=AUTH)
        wrong = newcomer.get("/ready", headers={"Authorization": f"Bearer {WRONG_KEY}"})
    assert not busy.answered, "the large request finished before the newcomer was refused"
    assert refused.status_code == 503, refused.text
    assert "shutting down" in refused.json()["message"]
    assert refused.headers["retry-after"] == "1"
    assert wrong.status_code == 503
    code = server.process.wait(timeout=120)
    elapsed = time.monotonic() - signalled
    busy.join(5)
    assert code == 0, server.log_tail()
    assert busy.error is None and busy.response is not None, busy.error
    assert busy.response.status_code == 200, busy.response.text
    assert len(busy.response.json()["results"]) == BUSY_DOCUMENTS
    assert elapsed < 60 + EXIT_MARGIN_S
    log = server.log_tail()
    assert "draining" in log and "Traceback" not in log
    assert KEY not in log and WRONG_KEY not in log


def test_sigterm_exits_0_when_the_grace_period_runs_out(start_server: StartServer) -> None:
    grace_s = 1.0
    server = start_server("--grace-period", str(grace_s))
    busy = BusyRequest(server.url)
    _wait_until_in_flight(server, busy)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    code = server.process.wait(timeout=60)
    elapsed = time.monotonic() - signalled
    busy.join(10)
    assert code == 0, server.log_tail()
    assert elapsed < grace_s + EXIT_MARGIN_S, elapsed
    assert busy.error is None and busy.response is not None, busy.error
    if "grace period over" in server.log_tail():
        assert busy.response.status_code == 503, busy.response.text
        assert "shutting down" in busy.response.json()["message"]
    else:  # it finished within the grace period after all
        assert busy.response.status_code == 200
    assert "Traceback" not in server.log_tail()


def test_sigterm_on_an_idle_server_exits_0_at_once(start_server: StartServer) -> None:
    server = start_server()
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0, server.log_tail()
    assert time.monotonic() - signalled < EXIT_MARGIN_S
