"""create_app: the FastAPI application around a model catalog.

Example:
    >>> catalog = ModelCatalog.from_configs([EngineConfig(ModelConfig("my-model"))])
    >>> app = create_app(catalog, HttpConfig(api_keys=("secret",)))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeGuard

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.cors import CORSMiddleware

from openrerank._version import __version__
from openrerank.config import HttpConfig
from openrerank.engine.catalog import ModelCatalog
from openrerank.server.drain import Drain, DrainMiddleware
from openrerank.server.errors import install_error_handlers
from openrerank.server.metrics import ServerMetrics
from openrerank.server.middleware import (
    ApiKeyMiddleware,
    BodyLimitMiddleware,
    RequestContextMiddleware,
)
from openrerank.server.routes import ops, playground, rerank

ROUTERS = (rerank.router, ops.router)
CORS_HEADERS = ("Authorization", "Content-Type", "X-Request-Id", "X-Client-Name")
CORS_EXPOSED = ("X-Request-Id", "Retry-After")
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
    for router in _routers(http):
        app.include_router(router)
    install_error_handlers(app)
    metrics = ServerMetrics(catalog)
    app.state.catalog = catalog
    app.state.http = http
    app.state.metrics = metrics
    app.state.drain = Drain()
    _add_middleware(app, http, metrics, app.state.drain)
    return app


def _routers(http: HttpConfig) -> tuple[APIRouter, ...]:
    """The API's routers, and the playground's when it is on (``None`` = off here:
    :class:`~openrerank.config.ServerConfig` decides it from the bind address)."""
    return (*ROUTERS, playground.router) if http.playground else ROUTERS


def _is_api(route: object) -> TypeGuard[APIRoute]:
    return isinstance(route, APIRoute) and "{" not in route.path


def _add_middleware(app: FastAPI, http: HttpConfig, metrics: ServerMetrics, drain: Drain) -> None:
    # Added innermost first. From the outside in: the request context (ids, logs, the
    # last-resort 500), the drain (503 once shutting down), CORS when configured (so a
    # browser's preflight needs no key), auth, then the body limit (so an
    # unauthenticated client never makes us read its body).
    app.add_middleware(BodyLimitMiddleware, max_bytes=http.max_request_bytes)
    if http.api_keys:
        public = {"/metrics": http.metrics_public, "/ready": http.ready_public}
        open_paths = {"/health", *(path for path, is_open in public.items() if is_open)}
        if http.playground:
            open_paths |= playground.OPEN_PATHS
        app.add_middleware(ApiKeyMiddleware, keys=http.api_keys, open_paths=open_paths)
    if http.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(http.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=list(CORS_HEADERS),
            expose_headers=list(CORS_EXPOSED),
            max_age=600,
        )
    app.add_middleware(DrainMiddleware, drain=drain)
    static_paths = {
        route.path for router in _routers(http) for route in router.routes if _is_api(route)
    }
    app.add_middleware(RequestContextMiddleware, metrics=metrics, static_paths=static_paths)
