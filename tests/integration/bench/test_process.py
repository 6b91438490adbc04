"""Child servers: a child that dies early is reported with its log; memory is read."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from openrerank.bench.process import child_server, free_port, peak_rss_mb


def test_a_child_that_exits_before_it_is_ready_raises_with_its_log(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "print('cannot load the model'); raise SystemExit(3)"]
    log = tmp_path / "child.log"
    url = f"http://127.0.0.1:{free_port()}/ready"
    with (
        pytest.raises(RuntimeError, match=r"exited with 3(.|\n)*cannot load the model"),
        child_server(command, ready_url=url, log=log, ready_timeout_s=30),
    ):
        pytest.fail("the child was never ready")


def test_a_child_that_never_gets_ready_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    url = f"http://127.0.0.1:{free_port()}/ready"
    with (
        pytest.raises(RuntimeError, match="not ready after"),
        child_server(command, ready_url=url, log=tmp_path / "c.log", ready_timeout_s=1),
    ):
        pytest.fail("the child was never ready")


def test_peak_rss_of_a_live_process_is_read_and_of_a_missing_one_is_none() -> None:
    rss = peak_rss_mb(os.getpid())
    assert rss is not None and rss > 1
    assert peak_rss_mb(2**22 + 12345) is None
