"""tests/unit is pure: a test here that starts a process or opens a network connection
fails at once, naming what it tried (such a test belongs in tests/integration or e2e)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest


def _refuse(what: str) -> Any:
    def refused(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"tests/unit is pure: this test tried to {what} {args[1:2]}")

    return refused


@pytest.fixture(autouse=True)
def _pure() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", _refuse("start a process"))
        patch.setattr(socket.socket, "connect", _refuse("connect a socket"))
        patch.setattr(socket.socket, "bind", _refuse("bind a socket"))
        yield


@pytest.fixture(scope="session", autouse=True)
def _matplotlib_font_cache() -> None:
    """matplotlib scans the fonts (running ``fc-list``) the first time it is imported on a
    machine; let it do so once, before the purity guard, so plotting tests pass on a fresh
    machine whether or not another test warmed the cache first."""
    try:
        import matplotlib.font_manager  # noqa: F401
    except ImportError:  # no eval extra: nothing to warm
        return
