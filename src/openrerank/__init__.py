"""openrerank: self-hosted, Cohere-compatible reranking with open cross-encoders."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from openrerank.catalog import ModelCatalog
from openrerank.config import (
    BatchingConfig,
    ChunkingConfig,
    EngineConfig,
    HttpConfig,
    ModelConfig,
    ServerConfig,
)
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
from openrerank.service import ModelInfo, RerankService, ServiceStats
from openrerank.sync import Reranker
from openrerank.types import Document, RankResult, RerankOutcome, Span, SpanOptions, Usage

try:
    __version__ = _version("openrerank")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

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
