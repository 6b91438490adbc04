"""Route dependencies: the app's model catalog, HTTP settings and metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from openrerank.config import HttpConfig
from openrerank.engine.catalog import ModelCatalog
from openrerank.server.metrics import ServerMetrics


def get_catalog(request: Request) -> ModelCatalog:
    """The catalog the app was built with."""
    catalog: ModelCatalog = request.app.state.catalog
    return catalog


def get_http(request: Request) -> HttpConfig:
    """The HTTP settings the app was built with."""
    http: HttpConfig = request.app.state.http
    return http


def get_metrics(request: Request) -> ServerMetrics:
    """The app's metrics."""
    metrics: ServerMetrics = request.app.state.metrics
    return metrics


CatalogDep = Annotated[ModelCatalog, Depends(get_catalog)]
HttpDep = Annotated[HttpConfig, Depends(get_http)]
MetricsDep = Annotated[ServerMetrics, Depends(get_metrics)]
