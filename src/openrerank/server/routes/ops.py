"""Operations: liveness, readiness, the served models, and Prometheus metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response

from openrerank.engine.catalog import CatalogEntry
from openrerank.errors import EngineClosedError
from openrerank.server.deps import CatalogDep, MetricsDep
from openrerank.server.errors import error_responses
from openrerank.server.schemas import ModelCard, ModelList, OpenAIModel

router = APIRouter(tags=["operations"])
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
OWNER = "openrerank"
STARTED = int(time.time())
"""OpenAI's ``created`` of every served model: when this process started."""


@router.get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    """The process answers; never needs a key."""
    return {"status": "ok"}


@router.get("/ready", summary="Readiness", responses=error_responses(401, 503))
async def ready(catalog: CatalogDep) -> dict[str, str]:
    """200 when every model is loaded, its worker alive and its batches not failing
    (a model marked failing is probed here), else 503."""
    if not await catalog.check():
        raise EngineClosedError(
            "not ready: a model is not loaded, is stopping, or its recent batches failed"
        )
    return {"status": "ready"}


@router.get("/v1/models", summary="Served models", responses=error_responses(401, 503))
async def models(catalog: CatalogDep) -> ModelList:
    """Every served model with its aliases, window, backend and precision (Cohere's
    `models`), and the same models as OpenAI-style clients read them (`object`, `data`)."""
    cards = [_card(entry, entry.name == catalog.default) for entry in catalog.entries]
    return ModelList(models=cards, data=[_openai(card) for card in cards])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {PROMETHEUS_TEXT: {}}}, **error_responses(401)},
)
async def metrics(server_metrics: MetricsDep) -> Response:
    """Requests by route and status, latency histograms, documents and tokens scored,
    queue depth."""
    return Response(server_metrics.render(), media_type=PROMETHEUS_TEXT)


def _openai(card: ModelCard) -> OpenAIModel:
    return OpenAIModel(
        id=card.name, created=STARTED, owned_by=OWNER, max_model_len=card.context_length
    )


def _card(entry: CatalogEntry, default: bool) -> ModelCard:
    info = entry.service.info  # EngineClosedError (503) while a model is not loaded
    return ModelCard(
        name=entry.name,
        endpoints=["rerank"],
        finetuned=False,
        context_length=info.max_length,
        default=default,
        aliases=list(entry.aliases),
        backend=info.backend,
        precision=info.precision,
        device=info.device,
        revision=info.revision,
        score=f"calibrated:{info.calibration}" if info.calibration else info.activation,
        template=info.template,
        instruction=info.instruction,
    )
