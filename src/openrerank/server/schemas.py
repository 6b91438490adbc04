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

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag

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

# Documented in the OpenAPI schema, enforced by the service (openrerank.engine.validation).
_NON_BLANK: dict[str, Any] = {"minLength": 1, "pattern": r"\S"}
_NOT_EMPTY: dict[str, Any] = {"minItems": 1}
_AT_LEAST_ONE: dict[str, Any] = {"minimum": 1}
_FIELDS: dict[str, Any] = {"items": {"type": "string", "minLength": 1}}


_DOCUMENTS = "1 to 10,000 texts to rank against the query."
_OBJECT_DOCUMENTS = "Strings, objects with a `text` field, or objects scored by `rank_fields`."
_RANK_FIELDS = (
    "Object keys, in order, rendered as `key: value` lines; absent or `[]` scores the "
    "`text` field. A record with none of them is scored by its `text`, or as empty text."
)
_RETURN_DOCUMENTS = 'Include each document as sent in its result (`{"text": ...}` for strings).'
_MAX_CHUNKS = "Windows per document; documents x this must be <= 10,000."
_INSTRUCTION = (
    "An extension (vLLM's name): the task an LLM reranker (Qwen3-Reranker, "
    "mxbai-rerank-v2, bge-reranker-v2-gemma) judges relevance for, instead of the served "
    "model's default. A cross-encoder takes none: sending one is a 400."
)

TEXT_DOCUMENT = "text document"
OBJECT_DOCUMENT = "object document"


def _document_kind(document: object) -> str | None:
    if isinstance(document, str):
        return TEXT_DOCUMENT
    return OBJECT_DOCUMENT if isinstance(document, dict) else None


Documents = list[
    Annotated[
        Annotated[str, Tag(TEXT_DOCUMENT)] | Annotated[dict[str, Any], Tag(OBJECT_DOCUMENT)],
        Discriminator(
            _document_kind,
            custom_error_type="document_type",
            custom_error_message="Input should be a valid string or object",
        ),
    ]
]
"""Strings, or objects (``{"text": ...}``, or fields named by ``rank_fields``)."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _LenientRequest(BaseModel):
    """Other servers' bodies: unknown keys are ignored, as those servers do."""

    model_config = ConfigDict(extra="ignore", strict=True)


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
    documents: Documents = Field(
        description=_DOCUMENTS + ' Objects (`{"text": ...}`, or any with `rank_fields`) '
        "are what SDKs 5.10-5.13 sent.",
        json_schema_extra=_NOT_EMPTY,
    )
    top_n: Annotated[int, _WHOLE] | None = Field(
        default=None, description=_TOP_N, json_schema_extra=_AT_LEAST_ONE
    )
    return_documents: bool | None = Field(
        default=None, description=_RETURN_DOCUMENTS + " LiteLLM always sends it."
    )
    rank_fields: list[str] | None = Field(
        default=None, description=_RANK_FIELDS + " (SDKs 5.10-5.13)", json_schema_extra=_FIELDS
    )
    max_chunks_per_doc: Annotated[int, Field(ge=1), _WHOLE] | None = Field(
        default=None, description=_MAX_CHUNKS + " Absent: every window `max_tokens_per_doc` needs."
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
    instruction: str | None = Field(
        default=None,
        description=_INSTRUCTION,
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
    documents: Documents = Field(description=_OBJECT_DOCUMENTS, json_schema_extra=_NOT_EMPTY)
    top_n: Annotated[int, _WHOLE] | None = Field(
        default=None, description=_TOP_N, json_schema_extra=_AT_LEAST_ONE
    )
    rank_fields: list[str] | None = Field(
        default=None, description=_RANK_FIELDS, json_schema_extra=_FIELDS
    )
    return_documents: bool | None = Field(default=None, description=_RETURN_DOCUMENTS)
    max_chunks_per_doc: Annotated[int, Field(ge=1), _WHOLE] | None = Field(
        default=None, description=_MAX_CHUNKS + " Default 10."
    )
    instruction: str | None = Field(
        default=None,
        description=_INSTRUCTION,
    )


class OtherServersRerankRequest(_LenientRequest):
    """The Jina/Cohere body that vLLM and infinity take on ``POST /rerank``.

    Read like ``/v1/rerank`` (``instruction`` included, vLLM's name for it), except
    that keys it does not know (``truncate_prompt_tokens``, ...) are ignored, as those
    servers ignore them.
    """

    model: str | None = Field(default=None, description="A served model or alias; null = default.")
    query: str = Field(
        description="The search query; must not be blank.", json_schema_extra=_NON_BLANK
    )
    documents: Documents = Field(description=_OBJECT_DOCUMENTS, json_schema_extra=_NOT_EMPTY)
    top_n: Annotated[int, _WHOLE] | None = Field(
        default=None, description=_TOP_N, json_schema_extra=_AT_LEAST_ONE
    )
    return_documents: bool | None = Field(default=None, description=_RETURN_DOCUMENTS)
    rank_fields: list[str] | None = Field(
        default=None, description=_RANK_FIELDS, json_schema_extra=_FIELDS
    )
    max_chunks_per_doc: Annotated[int, Field(ge=1), _WHOLE] | None = Field(
        default=None, description=_MAX_CHUNKS + " Default 10."
    )
    max_tokens_per_doc: Annotated[int, Field(ge=1), _WHOLE] | None = Field(
        default=None, description="Each document is cut to this many tokens (default 4096)."
    )
    raw_scores: bool | None = Field(
        default=None, description="infinity's: true returns the model's raw logits."
    )
    instruction: str | None = Field(
        default=None,
        description=_INSTRUCTION,
    )


def _direction(value: object) -> object:
    """TEI's ``"Left"``/``"Right"``, in any case, as ``"left"``/``"right"``."""
    return value.lower() if isinstance(value, str) else value


class TeiRerankRequest(_LenientRequest):
    """text-embeddings-inference ``POST /rerank``; unknown keys are ignored, as TEI does."""

    query: str = Field(json_schema_extra=_NON_BLANK)
    texts: list[str] = Field(json_schema_extra=_NOT_EMPTY)
    truncate: bool | None = Field(
        default=None, description="null or true cut texts to the window; false refuses them."
    )
    truncation_direction: (
        Annotated[Literal["left", "right"], BeforeValidator(_direction)] | None
    ) = Field(
        default=None,
        description='`"Right"` (the default) cuts a long text\'s end, `"Left"` its start.',
    )
    raw_scores: bool | None = Field(default=None, description="Return logits, not scores.")
    return_text: bool | None = Field(default=None, description="Include each text.")
    top_n: Annotated[int, _WHOLE] | None = Field(
        default=None,
        description="Only the best `top_n` (LiteLLM and `rerankers` send it; TEI ignores it).",
        json_schema_extra=_AT_LEAST_ONE,
    )


def _body_shape(body: object) -> str | None:
    """Which server's body a ``POST /rerank`` is: TEI's has ``texts``, vLLM's and
    infinity's (Jina/Cohere) ``documents``."""
    if isinstance(body, dict):
        if "texts" in body:
            return TEI_BODY
        if "documents" in body:
            return DOCUMENTS_BODY
    return None


TEI_BODY = "texts body"
DOCUMENTS_BODY = "documents body"
BODY_SHAPE_ERROR = "rerank_body_shape"
UNION_TAGS = frozenset({TEI_BODY, DOCUMENTS_BODY, TEXT_DOCUMENT, OBJECT_DOCUMENT})
"""Tags of the unions above; validation errors carry them in their location."""

SharedRerankRequest = Annotated[
    Annotated[TeiRerankRequest, Tag(TEI_BODY)]
    | Annotated[OtherServersRerankRequest, Tag(DOCUMENTS_BODY)],
    Discriminator(
        _body_shape,
        custom_error_type=BODY_SHAPE_ERROR,
        custom_error_message="the body must be text-embeddings-inference's "
        "{query, texts, ...} or the Jina/Cohere {model, query, documents, ...} "
        "of vLLM and infinity",
    ),
]
"""``POST /rerank``: TEI's body or the Jina/Cohere one, told apart by ``texts`` vs
``documents``."""


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
    """One ranked document; ``document`` and ``relevant_spans`` only when asked for."""

    index: int
    relevance_score: float
    document: dict[str, Any] | None = None
    relevant_spans: list[RelevantSpan] | None = None


class V2RerankResponse(BaseModel):
    """Cohere v2 answer: results best first, cut to ``top_n``."""

    id: str
    results: list[V2Result]
    meta: Meta


class V1Result(BaseModel):
    """One ranked document; ``document`` only when ``return_documents`` is true: an
    object (``{"text": ...}`` for a string), or the bare string where ``/rerank``
    answers as infinity does."""

    index: int
    relevance_score: float
    document: dict[str, Any] | str | None = None


class V1Usage(BaseModel):
    """Tokens scored, for Jina- and vLLM-style clients (both names, one count)."""

    total_tokens: int
    prompt_tokens: int


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
    template: str | None = Field(
        default=None,
        description="An LLM reranker's prompt recipe (e.g. qwen3-reranker); null for a "
        "cross-encoder.",
    )
    instruction: str | None = Field(
        default=None, description="The instruction a request without one is scored with."
    )


class OpenAIModel(BaseModel):
    """One served model as OpenAI-style clients (LiteLLM, vLLM's) list it."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    max_model_len: int


class ModelList(BaseModel):
    """``GET /v1/models``: Cohere's ``models`` and OpenAI's ``object``/``data`` in one body."""

    models: list[ModelCard]
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


def search_units(usage: Usage) -> int:
    """``ceil(pairs / 100)``: every scored window (and span) counts as a document."""
    return math.ceil(usage.pairs / DOCUMENTS_PER_SEARCH_UNIT)


def v2_response(
    request: V2RerankRequest, outcome: RerankOutcome, *, request_id: str
) -> V2RerankResponse:
    """The v2 body for a service outcome; ``document`` only when asked for,
    ``relevant_spans`` only where some were found."""
    results = []
    for ranked in outcome.results:
        result = V2Result(index=ranked.index, relevance_score=ranked.relevance_score)
        if request.return_documents:
            result.document = _as_sent(request.documents[ranked.index])
        if ranked.relevant_spans:
            result.relevant_spans = [
                RelevantSpan(start=span.start, end=span.end, score=span.score)
                for span in ranked.relevant_spans
            ]
        results.append(result)
    return V2RerankResponse(id=request_id, results=results, meta=_meta("2", outcome.usage))


def max_chunks(
    documents: int, chunks: int | None, *, max_pairs: int, default: int | None
) -> int | None:
    """The request's ``max_chunks_per_doc`` (``default`` when absent), within Cohere's
    limit on ``documents x max_chunks_per_doc``.

    Raises:
        TooManyDocumentsError: ``documents x max_chunks_per_doc`` exceeds ``max_pairs``.
    """
    chunks = chunks or default
    if chunks is not None and documents * chunks > max_pairs:
        raise TooManyDocumentsError(
            f"invalid request: number of documents ({documents}) times "
            f"max_chunks_per_doc ({chunks}) must not exceed {max_pairs}; send fewer "
            "documents or a smaller max_chunks_per_doc"
        )
    return chunks


def v1_response(
    request: V1RerankRequest | OtherServersRerankRequest,
    outcome: RerankOutcome,
    *,
    model: str,
    request_id: str,
    bare_strings: bool = False,
) -> V1RerankResponse:
    """The v1 body (also the answer to the Jina/Cohere body on ``/rerank``); documents
    come back as sent, and only when asked for: a string as ``{"text": ...}``, or as
    itself with ``bare_strings`` (infinity's shape)."""
    results = []
    for ranked in outcome.results:
        result = V1Result(index=ranked.index, relevance_score=ranked.relevance_score)
        if request.return_documents:
            document = request.documents[ranked.index]
            result.document = document if bare_strings else _as_sent(document)
        results.append(result)
    tokens = outcome.usage.tokens
    return V1RerankResponse(
        id=request_id,
        results=results,
        meta=_meta("1", outcome.usage),
        model=model,
        usage=V1Usage(total_tokens=tokens, prompt_tokens=tokens),
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


def _as_sent(document: str | dict[str, Any]) -> dict[str, Any]:
    """A returned document: ``{"text": ...}`` for a string, an object as sent."""
    return {"text": document} if isinstance(document, str) else document


def _meta(version: str, usage: Usage) -> Meta:
    return Meta(
        api_version=ApiVersion(version=version),
        billed_units=BilledUnits(search_units=search_units(usage)),
    )
