"""create_app: the FastAPI application around a model catalog.

Example:
    >>> catalog = ModelCatalog.from_configs([EngineConfig(ModelConfig("my-model"))])
    >>> app = create_app(catalog, HttpConfig(api_keys=("secret",)))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeGuard

from fastapi import FastAPI
from fastapi.routing import APIRoute

from openrerank import __version__
from openrerank.catalog import ModelCatalog
from openrerank.config import HttpConfig
from openrerank.server.errors import install_error_handlers
from openrerank.server.metrics import ServerMetrics
from openrerank.server.middleware import (
    ApiKeyMiddleware,
    BodyLimitMiddleware,
    RequestContextMiddleware,
)
from openrerank.server.routes import ops, rerank

ROUTERS = (rerank.router, ops.router)
DESCRIPTION = (
    "Self-hosted, Cohere-compatible reranking with open cross-encoders: Cohere v2 and v1 "
    "rerank, text-embeddings-inference rerank, models, health, readiness and metrics."
)


def create_app(catalog: ModelCatalog, http: HttpConfig | None = None) -> FastAPI:
    """The HTTP app; its lifespan starts the catalog's models and stops them.

    Args:
        catalog: the served models (not started; the lifespan starts them).
        http: authentication and limits; ``None`` = defaults (no keys).
    """
    http = http or HttpConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with catalog:
            yield

    app = FastAPI(
        title="openrerank",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        strict_content_type=False,
    )
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    metrics = ServerMetrics(catalog)
    app.state.catalog = catalog
    app.state.metrics = metrics
    _add_middleware(app, http, metrics)
    return app


def _is_api(route: object) -> TypeGuard[APIRoute]:
    return isinstance(route, APIRoute) and "{" not in route.path


def _add_middleware(app: FastAPI, http: HttpConfig, metrics: ServerMetrics) -> None:
    # Added innermost first: the request context wraps everything, then auth, then
    # the body limit (so an unauthenticated client never makes us read its body).
    app.add_middleware(BodyLimitMiddleware, max_bytes=http.max_request_bytes)
    if http.api_keys:
        open_paths = {"/health", "/metrics"} if http.metrics_public else {"/health"}
        app.add_middleware(ApiKeyMiddleware, keys=http.api_keys, open_paths=open_paths)
    static_paths = {route.path for router in ROUTERS for route in router.routes if _is_api(route)}
    app.add_middleware(RequestContextMiddleware, metrics=metrics, static_paths=static_paths)
