"""Wire formats: Cohere v1 and v2, and text-embeddings-inference, to and from the service.

The mapping between Cohere's names and the engine's lives only here. Request models
forbid unknown fields (Cohere answers ``parameter 'top_k' is not a valid field``) and
read an explicit JSON ``null`` as "use the default", as the official SDK sends it.
Semantic checks (empty lists, blank queries, ``top_n``, limits) stay in the service,
so library users get them too; the schemas only check shapes and types.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from openrerank.errors import TooManyDocumentsError
from openrerank.structured import render_document
from openrerank.types import RerankOutcome, Usage

DEFAULT_MAX_CHUNKS_PER_DOC = 10
DOCUMENTS_PER_SEARCH_UNIT = 100

_TOP_N = "Return only the best `top_n` results (>= 1); absent or null returns all."


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class V2RerankRequest(_Request):
    """Cohere ``POST /v2/rerank``."""

    model: str = Field(description="A served model or alias, e.g. `rerank-v3.5`.")
    query: str = Field(description="The search query; must not be blank.")
    documents: list[str] = Field(description="1 to 10,000 texts to rank against the query.")
    top_n: int | None = Field(default=None, description=_TOP_N)
    max_tokens_per_doc: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="Accepted for compatibility; documents are truncated to the model window.",
    )
    priority: Annotated[int, Field(ge=0, le=999)] | None = Field(
        default=None, description="0 (served first, the default) to 999; orders queued work."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "rerank-v3.5",
                    "query": "How do I reset my password?",
                    "documents": [
                        "To reset your password, open Settings.",
                        "We were founded in 1999.",
                    ],
                    "top_n": 1,
                }
            ]
        }
    )


class V1RerankRequest(_Request):
    """Cohere ``POST /v1/rerank`` (also what Jina- and vLLM-style clients send)."""

    model: str | None = Field(default=None, description="A served model or alias; null = default.")
    query: str = Field(description="The search query; must not be blank.")
    documents: list[str | dict[str, Any]] = Field(
        description="Strings, objects with a `text` field, or objects used with `rank_fields`."
    )
    top_n: int | None = Field(default=None, description=_TOP_N)
    rank_fields: list[str] | None = Field(
        default=None, description="Object keys, in order, rendered as `key: value` lines."
    )
    return_documents: bool | None = Field(
        default=None, description="Include each document as sent in its result."
    )
    max_chunks_per_doc: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="Windows per document (default 10); documents x this must be <= 10,000.",
    )


class TeiRerankRequest(_Request):
    """text-embeddings-inference ``POST /rerank``."""

    query: str
    texts: list[str]
    truncate: bool | None = Field(
        default=None, description="null or true cut texts to the window; false refuses them."
    )
    raw_scores: bool | None = Field(default=None, description="Return logits, not scores.")
    return_text: bool | None = Field(default=None, description="Include each text.")


class ApiVersion(BaseModel):
    """Which Cohere API version answered."""

    version: str


class BilledUnits(BaseModel):
    """Cohere's unit of account: one query against up to 100 documents."""

    search_units: int


class Meta(BaseModel):
    """Cohere response metadata."""

    api_version: ApiVersion
    billed_units: BilledUnits


class V2Result(BaseModel):
    """One ranked document."""

    index: int
    relevance_score: float


class V2RerankResponse(BaseModel):
    """Cohere v2 answer: results best first, cut to ``top_n``."""

    id: str
    results: list[V2Result]
    meta: Meta


class V1Result(BaseModel):
    """One ranked document; ``document`` only when ``return_documents`` is true."""

    index: int
    relevance_score: float
    document: dict[str, Any] | None = None


class V1Usage(BaseModel):
    """Tokens scored, for Jina- and vLLM-style clients."""

    total_tokens: int


class V1RerankResponse(BaseModel):
    """Cohere v1 answer, plus ``model`` and ``usage`` for Jina- and vLLM-style clients."""

    id: str
    results: list[V1Result]
    meta: Meta
    model: str
    usage: V1Usage


class TeiResult(BaseModel):
    """One ranked text, text-embeddings-inference style."""

    index: int
    score: float
    text: str | None = None


class ErrorBody(BaseModel):
    """Every error answer."""

    message: str
    id: str | None = None


class ModelCard(BaseModel):
    """One served model (Cohere's list-models fields plus how it runs)."""

    name: str
    endpoints: list[str]
    finetuned: bool
    context_length: int
    default: bool
    aliases: list[str]
    backend: str
    precision: str
    device: str
    revision: str


class ModelList(BaseModel):
    """``GET /v1/models``."""

    models: list[ModelCard]


def search_units(usage: Usage) -> int:
    """``ceil(pairs / 100)``: windows of long documents count as documents."""
    return math.ceil(usage.pairs / DOCUMENTS_PER_SEARCH_UNIT)


def v2_response(outcome: RerankOutcome, *, request_id: str) -> V2RerankResponse:
    """The v2 body for a service outcome."""
    return V2RerankResponse(
        id=request_id,
        results=[
            V2Result(index=r.index, relevance_score=r.relevance_score) for r in outcome.results
        ],
        meta=_meta("2", outcome.usage),
    )


def v1_texts(request: V1RerankRequest, *, max_pairs: int) -> list[str]:
    """The text to score for each v1 document (objects rendered with ``rank_fields``).

    Raises:
        TooManyDocumentsError: ``documents x max_chunks_per_doc`` exceeds ``max_pairs``.
        DocumentTypeError: an object document without the fields to score.
    """
    chunks = request.max_chunks_per_doc or DEFAULT_MAX_CHUNKS_PER_DOC
    if len(request.documents) * chunks > max_pairs:
        raise TooManyDocumentsError(
            f"{len(request.documents)} documents x max_chunks_per_doc {chunks} exceed "
            f"{max_pairs}; send fewer documents or a smaller max_chunks_per_doc"
        )
    return [
        document
        if isinstance(document, str)
        else render_document(document, request.rank_fields, index=index)
        for index, document in enumerate(request.documents)
    ]


def v1_response(
    request: V1RerankRequest, outcome: RerankOutcome, *, model: str, request_id: str
) -> V1RerankResponse:
    """The v1 body; documents come back as sent, and only when asked for."""
    results = []
    for ranked in outcome.results:
        result = V1Result(index=ranked.index, relevance_score=ranked.relevance_score)
        if request.return_documents:
            sent = request.documents[ranked.index]
            result.document = {"text": sent} if isinstance(sent, str) else sent
        results.append(result)
    return V1RerankResponse(
        id=request_id,
        results=results,
        meta=_meta("1", outcome.usage),
        model=model,
        usage=V1Usage(total_tokens=outcome.usage.tokens),
    )


def tei_response(request: TeiRerankRequest, outcome: RerankOutcome) -> list[TeiResult]:
    """The text-embeddings-inference body: a bare array, best first."""
    results = []
    for ranked in outcome.results:
        result = TeiResult(index=ranked.index, score=ranked.relevance_score)
        if request.return_text:
            result.text = request.texts[ranked.index]
        results.append(result)
    return results


def _meta(version: str, usage: Usage) -> Meta:
    return Meta(
        api_version=ApiVersion(version=version),
        billed_units=BilledUnits(search_units=search_units(usage)),
    )
