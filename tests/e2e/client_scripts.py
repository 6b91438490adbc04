"""Runs a client script of ``tests/e2e/clients`` in the client's own environment.

Each third-party client lives in a venv (or npm folder) that ``make test`` builds and
names in an environment variable; a script there reads a job as JSON on stdin and prints
the client's parsed answers as JSON. Without the variable the calling test skips and says
how to get it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).parent / "clients"
TIMEOUT_S = 300
# LiteLLM fetches its model price map from GitHub on import unless told to use its copy.
OFFLINE_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def configured(variable: str, what: str) -> str:
    """The value of ``variable``, or skip: ``what`` is the client it names."""
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"{variable} is not set ({what}): `make test` builds it and sets it")
    return value


def run_script(command: list[str], script: str, job: dict[str, Any]) -> dict[str, Any]:
    """``command script`` with ``job`` on stdin; its JSON answer (a non-zero exit fails)."""
    done = subprocess.run(
        [*command, str(SCRIPTS / script)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        env={**os.environ, **OFFLINE_ENV},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer
