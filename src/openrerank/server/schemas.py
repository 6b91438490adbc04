"""Wire formats: Cohere v1 and v2, and text-embeddings-inference, to and from the service.

The mapping between Cohere's names and the engine's lives only here. Request models
forbid unknown fields (Cohere answers ``parameter 'top_k' is not a valid field``) and
read an explicit JSON ``null`` as "use the default", as the official SDK sends it.
Semantic checks (empty lists, blank queries, ``top_n``, limits) stay in the service,
so library users get them too (a 400, not a 422); the schemas only check shapes and
types, and document those rules in the OpenAPI schema without enforcing them. Integer
fields take any JSON number with a zero fraction (``3.0``), as JSON Schema's ``integer``
does.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from openrerank.errors import TooManyDocumentsError
from openrerank.types import RerankOutcome, SpanOptions, Usage

DEFAULT_MAX_CHUNKS_PER_DOC = 10
DOCUMENTS_PER_SEARCH_UNIT = 100

_TOP_N = "Return only the best `top_n` results (>= 1); absent or null returns all."


def _whole_number(value: object) -> object:
    """``3.0`` as ``3``: JSON has one number type, and the OpenAPI ``integer`` admits a
    number with a zero fraction; anything else is left to the strict ``int`` check."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_WHOLE = BeforeValidator(_whole_number)

# Documented in the OpenAPI schema, enforced by the service (openrerank.validation).
_NON_BLANK: dict[str, Any] = {"minLength": 1, "pattern": r"\S"}
_NOT_EMPTY: dict[str, Any] = {"minItems": 1}
_AT_LEAST_ONE: dict[str, Any] = {"minimum": 1}
_FIELD_NAMES: dict[str, Any] = {"minItems": 1, "items": {"type": "string", "minLength": 1}}


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RelevantSpansRequest(_Request):
    """Cohere's ``relevant_spans`` option: which parts of each document matched."""

    mode: Literal["enabled", "disabled"] = Field(description="`enabled` adds the spans.")
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        default=None, description="Spans scoring at least this (0..1) are returned; default 0.1."
    )
    max_spans: Annotated[int, Field(ge=1), _WHOLE] | None = Field(
        default=None, description="At most this many spans per document, best first."
    )

    def options(self) -> SpanOptions | None:
        """The engine's span options, or ``None`` when disabled."""
        if self.mode != "enabled":
            return None
        default = SpanOptions()
        threshold = default.threshold if self.threshold is None else self.threshold
        return SpanOptions(threshold=threshold, max_spans=self.max_spans)


class V2RerankRequest(_Request):
    """Cohere ``POST /v2/rerank``."""

    model: str = Field(description="A served model or alias, e.g. `rerank-v3.5`.")
    query: str = Field(
        description="The search query; must not be blank.", json_schema_extra=_NON_BLANK
    )
    documents: list[str] = Field(
        description="1 to 10,000 texts to rank against the query.", json_schema_extra=_NOT_EMPTY
    )
    top_n: Annotated[int, _WHOLE] | None = Field(
        default=None, description=_TOP_N, json_schema_extra=_AT_LEAST_ONE
    )
    max_tokens_per_doc: Annotated[int, Field(ge=1), _WHOLE] | None = Field(
        default=None,
        description="Each document is cut to this many tokens (default 4096), then scored "
        "as its best window when it does not fit the model next to the query.",
    )
    priority: Annotated[int, Field(ge=0, le=999), _WHOLE] | None = Field(
        default=None, description="0 (served first, the default) to 999; orders queued work."
    )
    relevant_spans: RelevantSpansRequest | None = Field(
        default=None,
        description='`{"mode": "enabled", "threshold": 0.1, "max_spans": 3}` adds '
        "each document's matching spans (code-point offsets into the document as sent).",
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
    query: str = Field(
        description="The search query; must not be blank.", json_schema_extra=_NON_BLANK
    )
    documents: list[str | dict[str, Any]] = Field(
        description="Strings, objects with a `text` field, or objects used with `rank_fields`.",
        json_schema_extra=_NOT_EMPTY,
    )
    top_n: Annotated[int, _WHOLE] | None = Field(
        default=None, description=_TOP_N, json_schema_extra=_AT_LEAST_ONE
    )
    rank_fields: list[str] | None = Field(
        default=None,
        description="Object keys, in order, rendered as `key: value` lines.",
        json_schema_extra=_FIELD_NAMES,
    )
    return_documents: bool | None = Field(
        default=None, description="Include each document as sent in its result."
    )
    max_chunks_per_doc: Annotated[int, Field(ge=1), _WHOLE] | None = Field(
        default=None,
        description="Windows per document (default 10); documents x this must be <= 10,000.",
    )


class TeiRerankRequest(_Request):
    """text-embeddings-inference ``POST /rerank``."""

    query: str = Field(json_schema_extra=_NON_BLANK)
    texts: list[str] = Field(json_schema_extra=_NOT_EMPTY)
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


class RelevantSpan(BaseModel):
    """A stretch ``document[start:end]`` (code points) that matched the query."""

    start: int
    end: int
    score: float


class V2Result(BaseModel):
    """One ranked document; ``relevant_spans`` only when asked for and found."""

    index: int
    relevance_score: float
    relevant_spans: list[RelevantSpan] | None = None


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
    score: str = Field(
        description="What relevance_score is: the model's activation (sigmoid, softmax, "
        "identity) or a calibrated probability (calibrated:platt, calibrated:isotonic)."
    )


class ModelList(BaseModel):
    """``GET /v1/models``."""

    models: list[ModelCard]


def search_units(usage: Usage) -> int:
    """``ceil(pairs / 100)``: every scored window (and span) counts as a document."""
    return math.ceil(usage.pairs / DOCUMENTS_PER_SEARCH_UNIT)


def v2_response(outcome: RerankOutcome, *, request_id: str) -> V2RerankResponse:
    """The v2 body for a service outcome; ``relevant_spans`` only where some were found."""
    results = []
    for ranked in outcome.results:
        result = V2Result(index=ranked.index, relevance_score=ranked.relevance_score)
        if ranked.relevant_spans:
            result.relevant_spans = [
                RelevantSpan(start=span.start, end=span.end, score=span.score)
                for span in ranked.relevant_spans
            ]
        results.append(result)
    return V2RerankResponse(id=request_id, results=results, meta=_meta("2", outcome.usage))


def v1_chunks(request: V1RerankRequest, *, max_pairs: int) -> int:
    """The request's ``max_chunks_per_doc`` (default 10), within Cohere's limit.

    Raises:
        TooManyDocumentsError: ``documents x max_chunks_per_doc`` exceeds ``max_pairs``.
    """
    chunks = request.max_chunks_per_doc or DEFAULT_MAX_CHUNKS_PER_DOC
    if len(request.documents) * chunks > max_pairs:
        raise TooManyDocumentsError(
            f"invalid request: number of documents ({len(request.documents)}) times "
            f"max_chunks_per_doc ({chunks}) must not exceed {max_pairs}; send fewer "
            "documents or a smaller max_chunks_per_doc"
        )
    return chunks


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
