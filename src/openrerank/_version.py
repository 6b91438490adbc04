"""The installed distribution's version, for modules that report it (``--version``,
OpenAPI, calibration files) without importing the package root."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _installed_version() -> str:
    try:
        return version("openrerank")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


__version__ = _installed_version()
