"""``POST /v2/rerank``, ``POST /v1/rerank`` (Cohere) and ``POST /rerank`` (TEI).

Each handler parses, asks the catalog for the service, awaits it while watching for
a disconnect, and shapes the answer; the rerank logic itself is the service's. Bodies
are read as strict JSON (:mod:`openrerank.server.json_body`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from openrerank.server.cancellation import until_disconnected
from openrerank.server.context import current_request_id
from openrerank.server.deps import CatalogDep
from openrerank.server.errors import RERANK_ERRORS
from openrerank.server.json_body import StrictJsonRoute
from openrerank.server.schemas import (
    TeiRerankRequest,
    TeiResult,
    V1RerankRequest,
    V1RerankResponse,
    V2RerankRequest,
    V2RerankResponse,
    tei_response,
    v1_chunks,
    v1_response,
    v2_response,
)

router = APIRouter(tags=["rerank"], responses=RERANK_ERRORS, route_class=StrictJsonRoute)


@router.post(
    "/v2/rerank", summary="Rerank documents (Cohere v2)", response_model_exclude_unset=True
)
async def rerank_v2(
    body: V2RerankRequest, request: Request, catalog: CatalogDep
) -> V2RerankResponse:
    """Score every document against the query; results best first, cut to `top_n`.

    A document longer than the model window is scored as its best window; YAML and JSON
    strings are read as records (`key: value` lines).
    """
    _, service = catalog.resolve(body.model)
    spans = body.relevant_spans.options() if body.relevant_spans else None
    work = service.rerank(
        body.query,
        body.documents,
        top_n=body.top_n,
        priority=body.priority or 0,
        max_tokens_per_doc=body.max_tokens_per_doc,
        relevant_spans=spans,
    )
    outcome = await until_disconnected(request, work)
    return v2_response(outcome, request_id=current_request_id())


@router.post(
    "/v1/rerank",
    summary="Rerank documents (Cohere v1, Jina and vLLM clients)",
    response_model_exclude_unset=True,
)
async def rerank_v1(
    body: V1RerankRequest, request: Request, catalog: CatalogDep
) -> V1RerankResponse:
    """Like v2, with object documents, `rank_fields` and `return_documents`."""
    name, service = catalog.resolve(body.model)
    chunks = v1_chunks(body, max_pairs=service.config.max_documents)
    work = service.rerank(
        body.query,
        body.documents,
        top_n=body.top_n,
        max_chunks_per_doc=chunks,
        rank_fields=body.rank_fields,
    )
    outcome = await until_disconnected(request, work)
    return v1_response(body, outcome, model=body.model or name, request_id=current_request_id())


@router.post(
    "/rerank",
    summary="Rerank texts (text-embeddings-inference)",
    response_model_exclude_unset=True,
)
async def rerank_tei(
    body: TeiRerankRequest, request: Request, catalog: CatalogDep
) -> list[TeiResult]:
    """Score `texts` against `query` with the default model; a bare array, best first.

    Texts are truncated to the model window, as text-embeddings-inference does.
    """
    _, service = catalog.resolve(None)
    work = service.rerank(
        body.query,
        body.texts,
        raw=bool(body.raw_scores),
        truncate=body.truncate is not False,
        max_chunks_per_doc=1,
        structured=False,
    )
    outcome = await until_disconnected(request, work)
    return tei_response(body, outcome)
