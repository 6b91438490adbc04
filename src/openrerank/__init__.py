"""openrerank: self-hosted, Cohere-compatible reranking with open cross-encoders.

The public names load on first use (PEP 562), so ``import openrerank`` and the
command line's ``--help`` stay fast; ``from openrerank import Reranker`` works as usual.
"""

from __future__ import annotations

import importlib
import typing as _typing

from openrerank._version import __version__

if _typing.TYPE_CHECKING:
    from openrerank.config import (
        BatchingConfig,
        ChunkingConfig,
        EngineConfig,
        HttpConfig,
        ModelConfig,
        ServerConfig,
    )
    from openrerank.engine.catalog import ModelCatalog
    from openrerank.engine.service import ModelInfo, RerankService, ServiceStats
    from openrerank.errors import (
        BackendError,
        BackendUnavailableError,
        DocumentTypeError,
        EmptyDocumentsError,
        EmptyQueryError,
        EngineClosedError,
        InputTooLongError,
        InvalidInputError,
        InvalidTopNError,
        ModelError,
        ModelLoadError,
        ModelNotFoundError,
        OverloadedError,
        RerankError,
        ScoreError,
        TooManyDocumentsError,
        UnknownModelError,
        UnsupportedModelError,
    )
    from openrerank.sync import Reranker
    from openrerank.types import Document, RankResult, RerankOutcome, Span, SpanOptions, Usage

_EXPORTS = {
    "openrerank.engine.catalog": ("ModelCatalog",),
    "openrerank.config": (
        "BatchingConfig",
        "ChunkingConfig",
        "EngineConfig",
        "HttpConfig",
        "ModelConfig",
        "ServerConfig",
    ),
    "openrerank.errors": (
        "BackendError",
        "BackendUnavailableError",
        "DocumentTypeError",
        "EmptyDocumentsError",
        "EmptyQueryError",
        "EngineClosedError",
        "InputTooLongError",
        "InvalidInputError",
        "InvalidTopNError",
        "ModelError",
        "ModelLoadError",
        "ModelNotFoundError",
        "OverloadedError",
        "RerankError",
        "ScoreError",
        "TooManyDocumentsError",
        "UnknownModelError",
        "UnsupportedModelError",
    ),
    "openrerank.engine.service": ("ModelInfo", "RerankService", "ServiceStats"),
    "openrerank.sync": ("Reranker",),
    "openrerank.types": ("Document", "RankResult", "RerankOutcome", "Span", "SpanOptions", "Usage"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "BatchingConfig",
    "ChunkingConfig",
    "Document",
    "DocumentTypeError",
    "EmptyDocumentsError",
    "EmptyQueryError",
    "EngineClosedError",
    "EngineConfig",
    "HttpConfig",
    "InputTooLongError",
    "InvalidInputError",
    "InvalidTopNError",
    "ModelCatalog",
    "ModelConfig",
    "ModelError",
    "ModelInfo",
    "ModelLoadError",
    "ModelNotFoundError",
    "OverloadedError",
    "RankResult",
    "RerankError",
    "RerankOutcome",
    "RerankService",
    "Reranker",
    "ScoreError",
    "ServerConfig",
    "ServiceStats",
    "Span",
    "SpanOptions",
    "TooManyDocumentsError",
    "UnknownModelError",
    "UnsupportedModelError",
    "Usage",
    "__version__",
]


def __getattr__(name: str) -> _typing.Any:
    """Import a public name's module the first time the name is used."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'openrerank' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
