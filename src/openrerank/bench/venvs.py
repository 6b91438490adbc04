"""Virtual environments for the baselines: created once, reinstalled when their pins change.

A baseline (infinity, sentence-transformers) never becomes a project dependency: it gets
its own ``python -m venv`` under a cache root, and a marker file in it records the exact
requirement list that was installed. The same list later reuses the venv as it is; a
different one (or a missing marker, as after a failed install) rebuilds it from scratch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

MARKER_NAME = ".openrerank-requirements.json"
PIP_TIMEOUT_S = 3600.0


def venv_python(venv: Path) -> Path:
    """The interpreter of the virtual environment at ``venv``."""
    if os.name == "nt":  # pragma: no cover - the bench runs on Linux
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def marker_text(requirements: Sequence[str]) -> str:
    """What the marker file holds for ``requirements`` (order kept: pip reads it in order)."""
    return json.dumps(list(requirements)) + "\n"


def is_current(venv: Path, requirements: Sequence[str]) -> bool:
    """Whether ``venv`` has an interpreter and was installed with exactly ``requirements``."""
    try:
        recorded = (venv / MARKER_NAME).read_text(encoding="utf-8")
    except OSError:
        return False
    return recorded == marker_text(requirements) and venv_python(venv).exists()


def ensure_venv(root: Path, name: str, requirements: Sequence[str], *, log: Path) -> Path:
    """Create ``root/name`` and pip install ``requirements`` once; return the venv's python.

    A marker file records the requirement list; a different list reinstalls from a fresh
    venv. pip's output goes to ``log``. Raises RuntimeError naming the log on failure.
    """
    if not requirements:
        raise ValueError("a baseline venv needs at least one requirement")
    venv = root / name
    if is_current(venv, requirements):
        return venv_python(venv)
    if venv.exists():
        shutil.rmtree(venv)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"# venv {venv}\n# requirements {list(requirements)}\n", encoding="utf-8")
    _run_logged([sys.executable, "-m", "venv", str(venv)], log)
    python = venv_python(venv)
    _run_logged([str(python), "-m", "pip", "install", *requirements], log)
    (venv / MARKER_NAME).write_text(marker_text(requirements), encoding="utf-8")
    return python


def _run_logged(command: Sequence[str], log: Path) -> None:
    """Run ``command`` with its output appended to ``log``; raise RuntimeError on failure."""
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONUNBUFFERED="1")
    with log.open("ab") as sink:
        sink.write(f"$ {' '.join(command)}\n".encode())
        sink.flush()
        try:
            done = subprocess.run(
                list(command), stdout=sink, stderr=subprocess.STDOUT, env=env, timeout=PIP_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise RuntimeError(f"{command[0]} failed ({error}); see {log}") from error
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... exited {done.returncode}; see {log}")
