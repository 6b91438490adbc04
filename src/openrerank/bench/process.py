"""Servers under test as child processes: start, wait until ready, read memory, stop.

A child's output goes to a log file (never a pipe, which a chatty server could fill and
block on). Readiness is polled over HTTP within a bound; a child that exits first, or
never gets ready, raises with the end of its log. Stopping is SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

POLL_INTERVAL_S = 0.5
STOP_GRACE_S = 15.0
LOG_TAIL_CHARS = 4_000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def log_tail(path: Path) -> str:
    """The end of a log file, for error messages."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]
    except OSError:
        return "(no log)"


def run_json_job(
    command: Sequence[str], job: Mapping[str, Any], log: Path, *, timeout_s: float
) -> dict[str, Any]:
    """Run ``command JOB OUT`` with ``job`` written to JOB; return what it wrote to OUT.

    The child's output goes to ``log``. Raises RuntimeError with the end of the log
    when it exits non-zero.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    with tempfile.TemporaryDirectory(prefix="openrerank-bench-") as scratch:
        job_path, out_path = Path(scratch) / "job.json", Path(scratch) / "out.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        with log.open("wb") as sink:
            done = subprocess.run(
                [*command, str(job_path), str(out_path)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=timeout_s,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({log}):\n{log_tail(log)}")
        result: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8"))
        return result


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory (``VmHWM``) in MiB; None where unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


@contextlib.contextmanager
def child_server(
    command: Sequence[str],
    *,
    ready_url: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    ready_timeout_s: float = 600.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the block ends; yield once ``ready_url`` answers 200."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            list(command),
            env=dict(env if env is not None else os.environ),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(process, ready_url, log, ready_timeout_s)
            yield process
        finally:
            _stop(process)


def openrerank_command(args: Sequence[str]) -> list[str]:
    """``openrerank <args>`` with this interpreter (the same install as the caller)."""
    return [sys.executable, "-c", "from openrerank.cli.main import main; main()", *args]


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{process.args!r} exited with {process.returncode} before it was ready; "
                f"its log ({log}) ends:\n{log_tail(log)}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5.0).status_code == 200:
                return
        time.sleep(POLL_INTERVAL_S)
    raise RuntimeError(
        f"not ready after {timeout_s:.0f}s at {url}; its log ({log}) ends:\n{log_tail(log)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
