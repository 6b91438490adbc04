"""Tests for openrerank.bench.venvs' marker logic, with pip and venv replaced by fakes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from openrerank.bench import venvs

REQUIREMENTS = ("fakepkg==1.0", "otherpkg[extra]==2.0")


class FakeRunner:
    """Stands in for ``_run_logged``: records commands and lays out a venv's python."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.commands: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, command: Sequence[str], log: Path) -> None:
        self.commands.append(list(command))
        if self.fail_on is not None and self.fail_on in command:
            raise RuntimeError(f"failed; see {log}")
        if command[1:3] == ["-m", "venv"]:
            python = venvs.venv_python(Path(command[3]))
            python.parent.mkdir(parents=True)
            python.touch()


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    fake = FakeRunner()
    monkeypatch.setattr(venvs, "_run_logged", fake)
    return fake


def test_first_call_creates_installs_and_marks(tmp_path: Path, runner: FakeRunner) -> None:
    python = venvs.ensure_venv(tmp_path, "base", REQUIREMENTS, log=tmp_path / "pip.log")
    assert python == venvs.venv_python(tmp_path / "base")
    assert runner.commands[0][1:] == ["-m", "venv", str(tmp_path / "base")]
    assert runner.commands[1] == [str(python), "-m", "pip", "install", *REQUIREMENTS]
    assert venvs.is_current(tmp_path / "base", REQUIREMENTS)


def test_same_requirements_reuse_the_venv(tmp_path: Path, runner: FakeRunner) -> None:
    venvs.ensure_venv(tmp_path, "base", REQUIREMENTS, log=tmp_path / "pip.log")
    runner.commands.clear()
    venvs.ensure_venv(tmp_path, "base", list(REQUIREMENTS), log=tmp_path / "pip.log")
    assert runner.commands == []


def test_different_requirements_rebuild_from_scratch(tmp_path: Path, runner: FakeRunner) -> None:
    venvs.ensure_venv(tmp_path, "base", REQUIREMENTS, log=tmp_path / "pip.log")
    leftover = tmp_path / "base" / "leftover.txt"
    leftover.touch()
    runner.commands.clear()
    changed = ("fakepkg==1.1", *REQUIREMENTS[1:])
    venvs.ensure_venv(tmp_path, "base", changed, log=tmp_path / "pip.log")
    assert [c[1:3] for c in runner.commands] == [["-m", "venv"], ["-m", "pip"]]
    assert not leftover.exists()
    assert venvs.is_current(tmp_path / "base", changed)
    assert not venvs.is_current(tmp_path / "base", REQUIREMENTS)


def test_failed_install_leaves_no_marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(venvs, "_run_logged", FakeRunner(fail_on="install"))
    with pytest.raises(RuntimeError, match=r"pip\.log"):
        venvs.ensure_venv(tmp_path, "base", REQUIREMENTS, log=tmp_path / "pip.log")
    assert not venvs.is_current(tmp_path / "base", REQUIREMENTS)


def test_marker_without_python_is_not_current(tmp_path: Path) -> None:
    (tmp_path / venvs.MARKER_NAME).write_text(venvs.marker_text(REQUIREMENTS), encoding="utf-8")
    assert not venvs.is_current(tmp_path, REQUIREMENTS)


def test_order_matters_in_the_marker() -> None:
    assert venvs.marker_text(REQUIREMENTS) != venvs.marker_text(REQUIREMENTS[::-1])


def test_no_requirements_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="requirement"):
        venvs.ensure_venv(tmp_path, "base", (), log=tmp_path / "pip.log")
