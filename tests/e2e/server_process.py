"""A real ``openrerank serve`` subprocess on 127.0.0.1, for end-to-end tests.

The server runs the console entry point with this interpreter, on a free port, with
its log in a file (never a pipe, which a chatty server could fill and block on).
Startup polls ``GET /ready``; a server that exits or never gets ready fails the test
with its log. :meth:`ServerProcess.stop` always ends it: SIGTERM, then SIGKILL.
:func:`serve_reference` starts one on the reference model, over a given ONNX cache: the
one way the tests start a reference server (``tests/e2e/conftest.py`` shares one for the
session, and hands out the factory for servers that need other flags).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from conftest import REFERENCE_MODEL
from openrerank.bench.process import free_port

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.25
LOG_TAIL_CHARS = 6_000
ENTRY_POINT = "from openrerank.cli.main import main; main()"
# The bearer key of the session's shared reference server (``reference_server``).
REFERENCE_API_KEY = "test-key"


class ServerProcess:
    """``openrerank serve <args>`` as a child process.

    Args:
        args: flags after ``serve`` (no ``--host``/``--port``: this class picks them).
        env: the child's whole environment.
        log_path: where the child's stdout and stderr go.
        api_key: sent as a bearer key while polling ``/ready``; ``None`` = no key.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        api_key: str | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._api_key = api_key
        command = [
            sys.executable,
            "-c",
            ENTRY_POINT,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *args,
        ]
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT
        )

    def log_tail(self) -> str:
        """The end of the server's log, for failure messages."""
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return text[-LOG_TAIL_CHARS:]

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Block until ``GET /ready`` answers 200; fail the test if it never does."""
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        with httpx.Client(base_url=self.url, headers=headers, timeout=5.0) as client:
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code is not None:
                    pytest.fail(
                        f"openrerank serve exited with code {code} before it was ready; "
                        f"its log:\n{self.log_tail()}",
                        pytrace=False,
                    )
                try:
                    response = client.get("/ready")
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code == httpx.codes.OK:
                        return
                    last = f"{response.status_code} {response.text}"
                time.sleep(POLL_INTERVAL_S)
        pytest.fail(
            f"openrerank serve was not ready after {timeout_s:.0f} s (last: {last}); "
            f"its log:\n{self.log_tail()}",
            pytrace=False,
        )

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then SIGKILL after ``timeout_s``; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout_s)
        self._log.close()
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def server_env(*, hf_cache: str, openrerank_cache: Path) -> dict[str, str]:
    """This process's environment, offline, with the given model caches.

    Other ``OPENRERANK_*`` variables are dropped: ``serve`` reads each flag from one,
    and the caller's settings must not change what the test starts.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENRERANK_")}
    env.update(
        HF_HUB_CACHE=hf_cache,
        HF_HUB_OFFLINE="1",
        OPENRERANK_CACHE=str(openrerank_cache),
        TOKENIZERS_PARALLELISM="false",
    )
    return env


@contextmanager
def serve_reference(
    flags: Sequence[str], *, onnx_cache: Path, log_dir: Path, api_key: str | None
) -> Iterator[ServerProcess]:
    """A ready ``openrerank serve --model <reference> [--api-key KEY] <flags>``.

    The model comes from ``$HF_HUB_CACHE`` (../shared/hf-cache), its ONNX file from
    ``onnx_cache``; the log is ``log_dir/serve.log``. The process ends when the block does.
    """
    env = server_env(hf_cache=os.environ["HF_HUB_CACHE"], openrerank_cache=onnx_cache)
    args = ["--model", REFERENCE_MODEL, *(["--api-key", api_key] if api_key else []), *flags]
    with ServerProcess(args, env=env, log_path=log_dir / "serve.log", api_key=api_key) as process:
        process.wait_ready()
        yield process
