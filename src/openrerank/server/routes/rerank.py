"""``POST /v2/rerank``, ``POST /v1/rerank`` (Cohere) and ``POST /rerank`` (TEI, vLLM, infinity).

Each handler parses, asks the catalog for the service, awaits it while watching for
a disconnect, and shapes the answer; the rerank logic itself is the service's. Bodies
are read as strict JSON (:mod:`openrerank.server.json_body`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from openrerank.engine.catalog import ModelCatalog
from openrerank.server.cancellation import until_disconnected
from openrerank.server.context import current_request_id
from openrerank.server.deps import CatalogDep, HttpDep
from openrerank.server.errors import RERANK_ERRORS
from openrerank.server.json_body import StrictJsonRoute
from openrerank.server.schemas import (
    DEFAULT_MAX_CHUNKS_PER_DOC,
    OtherServersRerankRequest,
    SharedRerankRequest,
    TeiResult,
    V1RerankRequest,
    V1RerankResponse,
    V2RerankRequest,
    V2RerankResponse,
    max_chunks,
    tei_response,
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

    A document longer than the model window is scored as its best window; a string that
    is a JSON object, or a YAML mapping of two lines or more, is read as a record
    (`key: value` lines). `return_documents`, `rank_fields`, `max_chunks_per_doc` and
    object documents are what Cohere's v2 took from SDKs 5.10-5.13 (and LiteLLM).
    """
    _, service = catalog.resolve(body.model)
    spans = body.relevant_spans.options() if body.relevant_spans else None
    chunks = max_chunks(
        len(body.documents),
        body.max_chunks_per_doc,
        max_pairs=service.config.max_documents,
        default=None,
    )
    work = service.rerank(
        body.query,
        body.documents,
        top_n=body.top_n,
        priority=body.priority or 0,
        max_tokens_per_doc=body.max_tokens_per_doc,
        max_chunks_per_doc=chunks,
        rank_fields=body.rank_fields,
        relevant_spans=spans,
        instruction=body.instruction,
    )
    outcome = await until_disconnected(request, work)
    return v2_response(body, outcome, request_id=current_request_id())


@router.post(
    "/v1/rerank",
    summary="Rerank documents (Cohere v1, Jina and vLLM clients)",
    response_model_exclude_unset=True,
)
async def rerank_v1(
    body: V1RerankRequest, request: Request, catalog: CatalogDep
) -> V1RerankResponse:
    """Like v2, with object documents, `rank_fields` and `return_documents`."""
    return await _rerank_documents(body, request, catalog)


@router.post(
    "/rerank",
    summary="Rerank (text-embeddings-inference; vLLM and infinity)",
    response_model=list[TeiResult] | V1RerankResponse,
    response_model_exclude_unset=True,
)
async def rerank_shared(
    body: SharedRerankRequest, request: Request, catalog: CatalogDep, http: HttpDep
) -> list[TeiResult] | V1RerankResponse:
    """The path three servers share, answered by the body's shape.

    `texts`: text-embeddings-inference. Texts are truncated to the model window (the
    start kept, or the end with `truncation_direction: "Left"`) and scored with the
    default model; a bare array, best first. Unknown keys are ignored, as TEI does.

    `documents`: the Jina/Cohere body of vLLM and infinity, answered as `/v1/rerank`
    answers it (`results`, `index`, `relevance_score`, `document` when asked: as
    `{"text": ...}` like vLLM, or as the bare string like infinity when the server runs
    with `--rerank-compat infinity`). Unknown keys are ignored, as those servers do.
    """
    if isinstance(body, OtherServersRerankRequest):
        bare = http.rerank_compat == "infinity"
        return await _rerank_documents(body, request, catalog, bare_strings=bare)
    _, service = catalog.resolve(None)
    work = service.rerank(
        body.query,
        body.texts,
        top_n=body.top_n,
        raw=bool(body.raw_scores),
        truncate=body.truncate is not False,
        truncation_side=body.truncation_direction or "right",
        max_chunks_per_doc=1,
        structured=False,
    )
    outcome = await until_disconnected(request, work)
    return tei_response(body, outcome)


async def _rerank_documents(
    body: V1RerankRequest | OtherServersRerankRequest,
    request: Request,
    catalog: ModelCatalog,
    *,
    bare_strings: bool = False,
) -> V1RerankResponse:
    name, service = catalog.resolve(body.model)
    chunks = max_chunks(
        len(body.documents),
        body.max_chunks_per_doc,
        max_pairs=service.config.max_documents,
        default=DEFAULT_MAX_CHUNKS_PER_DOC,
    )
    raw, tokens = False, None
    if isinstance(body, OtherServersRerankRequest):
        raw, tokens = bool(body.raw_scores), body.max_tokens_per_doc
    work = service.rerank(
        body.query,
        body.documents,
        top_n=body.top_n,
        raw=raw,
        max_tokens_per_doc=tokens,
        max_chunks_per_doc=chunks,
        rank_fields=body.rank_fields,
        instruction=body.instruction,
    )
    outcome = await until_disconnected(request, work)
    request_id = current_request_id()
    model = body.model or name
    return v1_response(body, outcome, model=model, request_id=request_id, bare_strings=bare_strings)
