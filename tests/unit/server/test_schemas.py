from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from openrerank.errors import TooManyDocumentsError
from openrerank.server.schemas import (
    OtherServersRerankRequest,
    TeiRerankRequest,
    V1RerankRequest,
    V2RerankRequest,
    max_chunks,
    search_units,
    tei_response,
    v1_response,
    v2_response,
)
from openrerank.types import RankResult, RerankOutcome, Span, SpanOptions, Usage

OUTCOME = RerankOutcome(results=[RankResult(1, 0.9), RankResult(0, 0.2)], usage=Usage(2, 2, 40))


@pytest.mark.parametrize(("pairs", "units"), [(1, 1), (100, 1), (101, 2), (10_000, 100)])
def test_schemas_search_units_are_one_per_hundred_pairs(pairs: int, units: int) -> None:
    assert search_units(Usage(pairs, pairs, pairs)) == units


def test_schemas_nulls_mean_defaults() -> None:
    request = V2RerankRequest.model_validate(
        {
            "model": "m",
            "query": "q",
            "documents": ["d"],
            "top_n": None,
            "max_tokens_per_doc": None,
            "priority": None,
        }
    )
    assert request == V2RerankRequest(model="m", query="q", documents=["d"])


V2_REQUEST = V2RerankRequest(model="m", query="q", documents=["a", "b"])


def test_schemas_v2_response_has_no_document_field_unless_asked() -> None:
    body = v2_response(V2_REQUEST, OUTCOME, request_id="rid").model_dump(
        mode="json", exclude_unset=True
    )
    assert body == {
        "id": "rid",
        "results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.2}],
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
    }
    sent: list[str | dict[str, Any]] = [{"title": "T", "text": "x"}, "plain"]
    asked = V2RerankRequest(model="m", query="q", documents=sent, return_documents=True)
    body = v2_response(asked, OUTCOME, request_id="rid").model_dump(exclude_unset=True)
    assert [r["document"] for r in body["results"]] == [{"text": "plain"}, sent[0]]


def test_schemas_v2_takes_the_fields_cohere_sdks_5_10_to_5_13_sent() -> None:
    request = V2RerankRequest.model_validate(
        {
            "model": "m",
            "query": "q",
            "documents": [{"title": "T", "text": "x"}, "plain"],
            "rank_fields": ["title", "text"],
            "return_documents": False,
            "max_chunks_per_doc": 3.0,
        }
    )
    assert (request.rank_fields, request.return_documents) == (["title", "text"], False)
    assert request.max_chunks_per_doc == 3
    with pytest.raises(ValidationError, match="top_k"):
        V2RerankRequest.model_validate({"model": "m", "query": "q", "documents": [], "top_k": 1})


def test_schemas_v1_documents_come_back_as_sent_only_when_asked() -> None:
    sent = [{"title": "T", "extra": None}, "plain"]
    asked = V1RerankRequest(query="q", documents=sent, rank_fields=["title"], return_documents=True)
    body = v1_response(asked, OUTCOME, model="m", request_id="r").model_dump(exclude_unset=True)
    assert [r["document"] for r in body["results"]] == [{"text": "plain"}, sent[0]]
    assert body["usage"] == {"total_tokens": 40, "prompt_tokens": 40}
    assert body["model"] == "m"
    plain = V1RerankRequest(query="q", documents=sent, rank_fields=["title"])
    body = v1_response(plain, OUTCOME, model="m", request_id="r").model_dump(exclude_unset=True)
    assert all("document" not in r for r in body["results"])


def test_schemas_chunk_budget_applies_the_default_or_the_request() -> None:
    with pytest.raises(TooManyDocumentsError, match=r"max_chunks_per_doc \(10\)"):
        max_chunks(11, None, max_pairs=100, default=10)
    assert max_chunks(11, 1, max_pairs=100, default=10) == 1
    assert max_chunks(10, None, max_pairs=100, default=10) == 10
    assert max_chunks(10_000, None, max_pairs=100, default=None) is None  # v2: no cap
    with pytest.raises(TooManyDocumentsError, match=r"max_chunks_per_doc \(2\)"):
        max_chunks(51, 2, max_pairs=100, default=None)


def test_schemas_other_servers_bodies_ignore_unknown_keys() -> None:
    tei = TeiRerankRequest.model_validate(
        {"query": "q", "texts": ["a"], "truncation_direction": "Left", "top_n": 1, "model": "x"}
    )
    assert (tei.truncation_direction, tei.top_n) == ("left", 1)
    assert TeiRerankRequest.model_validate(
        {"query": "q", "texts": ["a"], "truncation_direction": "right"}
    ).truncation_direction == ("right")
    with pytest.raises(ValidationError, match="truncation_direction"):
        TeiRerankRequest.model_validate(
            {"query": "q", "texts": ["a"], "truncation_direction": "Up"}
        )
    vllm = OtherServersRerankRequest.model_validate(
        {"model": "m", "query": "q", "documents": ["a"], "instruction": "i", "truncation_side": "l"}
    )
    assert (vllm.model, vllm.documents, vllm.return_documents) == ("m", ["a"], None)


def test_schemas_v2_relevant_spans_follow_the_cohere_sdk_shape() -> None:
    base = {"model": "m", "query": "q", "documents": ["d"]}
    enabled = V2RerankRequest.model_validate(
        {**base, "relevant_spans": {"mode": "enabled", "threshold": 0.3, "max_spans": 2}}
    )
    assert enabled.relevant_spans is not None
    assert enabled.relevant_spans.options() == SpanOptions(threshold=0.3, max_spans=2)
    defaults = V2RerankRequest.model_validate(
        {**base, "relevant_spans": {"mode": "enabled", "threshold": None, "max_spans": None}}
    )
    assert defaults.relevant_spans is not None
    assert defaults.relevant_spans.options() == SpanOptions()
    disabled = V2RerankRequest.model_validate({**base, "relevant_spans": {"mode": "disabled"}})
    assert disabled.relevant_spans is not None
    assert disabled.relevant_spans.options() is None
    for bad in (
        {"mode": "on"},
        {"mode": "enabled", "threshold": 1.5},
        {"mode": "enabled", "max_spans": 0},
    ):
        with pytest.raises(ValidationError):
            V2RerankRequest.model_validate({**base, "relevant_spans": bad})


def test_schemas_v2_spans_appear_only_where_found() -> None:
    spans = (Span(4, 9, 0.8), Span(0, 3, 0.2))
    outcome = RerankOutcome(
        results=[RankResult(1, 0.9, relevant_spans=spans), RankResult(0, 0.2, relevant_spans=())],
        usage=Usage(2, 5, 40),
    )
    body = v2_response(V2_REQUEST, outcome, request_id="rid").model_dump(
        mode="json", exclude_unset=True
    )
    assert body["results"][0]["relevant_spans"] == [
        {"start": 4, "end": 9, "score": 0.8},
        {"start": 0, "end": 3, "score": 0.2},
    ]
    assert "relevant_spans" not in body["results"][1]
    assert body["meta"]["billed_units"] == {"search_units": 1}


def test_schemas_tei_text_only_when_asked() -> None:
    asked = TeiRerankRequest(query="q", texts=["a", "b"], return_text=True)
    rows = [r.model_dump(exclude_unset=True) for r in tei_response(asked, OUTCOME)]
    assert rows == [
        {"index": 1, "score": 0.9, "text": "b"},
        {"index": 0, "score": 0.2, "text": "a"},
    ]
    plain = TeiRerankRequest(query="q", texts=["a", "b"])
    assert all("text" not in r.model_dump(exclude_unset=True) for r in tei_response(plain, OUTCOME))


@pytest.mark.parametrize("model", [V2RerankRequest, V1RerankRequest])
def test_schemas_integers_take_numbers_with_a_zero_fraction(model: type[Any]) -> None:
    body = {"model": "m", "query": "q", "documents": ["d"]}
    assert model.model_validate_json(json.dumps({**body, "top_n": 2.0})).top_n == 2
    for value in (2.5, True, "2"):
        with pytest.raises(ValidationError, match="top_n"):
            model.model_validate_json(json.dumps({**body, "top_n": value}))


def test_schemas_document_the_rules_the_service_enforces() -> None:
    properties = V2RerankRequest.model_json_schema()["properties"]
    assert properties["query"]["minLength"] == 1 and properties["query"]["pattern"] == r"\S"
    assert properties["documents"]["minItems"] == 1
    assert properties["top_n"]["minimum"] == 1
    assert properties["priority"]["anyOf"][0] == {"type": "integer", "minimum": 0, "maximum": 999}
    # Documented, not enforced: the service answers these with 400, not 422.
    request = V2RerankRequest.model_validate(
        {"model": "m", "query": " ", "documents": [], "top_n": 0}
    )
    assert (request.query, request.documents, request.top_n) == (" ", [], 0)
