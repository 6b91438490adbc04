"""A record of every call into the code that finds, downloads or loads a model.

:meth:`LoaderSpy.install` wraps (never replaces) the Hugging Face download functions,
under every name openrerank or ``huggingface_hub`` itself may call them by, and the
loading steps of :class:`~openrerank.engine.service.RerankService`, so a test can show that
some action reached none of them.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from openrerank.engine.service import RerankService
from openrerank.engine.tokenization.tokenizer import PairTokenizer

_FUNCTIONS: tuple[tuple[str, str], ...] = (
    ("huggingface_hub", "snapshot_download"),
    ("huggingface_hub", "hf_hub_download"),
    ("huggingface_hub._snapshot_download", "snapshot_download"),
    ("huggingface_hub._snapshot_download", "hf_hub_download"),
    ("huggingface_hub.file_download", "hf_hub_download"),
    ("openrerank.engine.model.resolve", "snapshot_download"),
    ("openrerank.engine.model.resolve", "resolve_model"),
    ("openrerank.engine.model.spec", "read_spec"),
    ("openrerank.engine.model.calibration", "load_calibration"),
    ("openrerank.engine.backends.registry", "create_backend"),
    ("openrerank.engine.service", "resolve_model"),
    ("openrerank.engine.service", "read_spec"),
    ("openrerank.engine.service", "load_calibration"),
    ("openrerank.engine.service", "create_backend"),
)
"""(module, function): where each loader is defined, and every module that imported it."""


@dataclass
class LoaderSpy:
    """The loader calls seen since :meth:`install`, as ``module.function`` labels."""

    calls: list[str] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> LoaderSpy:
        """Wrap every loader entry point; ``monkeypatch`` undoes it after the test."""
        for module_name, name in _FUNCTIONS:
            module = importlib.import_module(module_name)
            original = getattr(module, name)
            monkeypatch.setattr(module, name, self._wrap(f"{module_name}.{name}", original))
        from_directory = self._wrap("PairTokenizer.from_directory", PairTokenizer.from_directory)
        monkeypatch.setattr(PairTokenizer, "from_directory", staticmethod(from_directory))
        for method in ("__init__", "start"):  # a new service, or a service (re)loading
            original = getattr(RerankService, method)
            monkeypatch.setattr(
                RerankService, method, self._wrap(f"RerankService.{method}", original)
            )
        return self

    def _wrap(self, label: str, original: Callable[..., Any]) -> Callable[..., Any]:
        """``original``, recording ``label`` first (a coroutine function's call too)."""

        @functools.wraps(original)
        def spy(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(label)
            return original(*args, **kwargs)

        return spy
