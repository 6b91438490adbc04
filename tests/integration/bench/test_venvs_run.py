"""openrerank.bench.venvs runs its commands as real processes and logs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from openrerank.bench import venvs


def test_run_logged_reports_the_log(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    with pytest.raises(RuntimeError, match=r"run\.log"):
        venvs._run_logged(["false"], log)
    assert "$ false" in log.read_text(encoding="utf-8")
