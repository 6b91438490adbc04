from __future__ import annotations

import pytest

from openrerank.errors import DocumentTypeError, TooManyDocumentsError
from openrerank.server.schemas import (
    TeiRerankRequest,
    V1RerankRequest,
    V2RerankRequest,
    search_units,
    tei_response,
    v1_response,
    v1_texts,
    v2_response,
)
from openrerank.types import RankResult, RerankOutcome, Usage

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


def test_schemas_v2_response_has_no_document_field() -> None:
    body = v2_response(OUTCOME, request_id="rid").model_dump(mode="json")
    assert body == {
        "id": "rid",
        "results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.2}],
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
    }


def test_schemas_v1_documents_come_back_as_sent_only_when_asked() -> None:
    sent = [{"title": "T", "extra": None}, "plain"]
    asked = V1RerankRequest(query="q", documents=sent, rank_fields=["title"], return_documents=True)
    body = v1_response(asked, OUTCOME, model="m", request_id="r").model_dump(exclude_unset=True)
    assert [r["document"] for r in body["results"]] == [{"text": "plain"}, sent[0]]
    assert body["usage"] == {"total_tokens": 40}
    assert body["model"] == "m"
    plain = V1RerankRequest(query="q", documents=sent, rank_fields=["title"])
    body = v1_response(plain, OUTCOME, model="m", request_id="r").model_dump(exclude_unset=True)
    assert all("document" not in r for r in body["results"])


def test_schemas_v1_texts_render_objects_and_keep_strings() -> None:
    request = V1RerankRequest(
        query="q",
        documents=[{"title": "T", "text": "body"}, "plain"],
        rank_fields=["title", "text"],
    )
    assert v1_texts(request, max_pairs=100) == ["title: T\ntext: body", "plain"]
    by_text = V1RerankRequest(query="q", documents=[{"text": "body", "id": 3}])
    assert v1_texts(by_text, max_pairs=100) == ["body"]
    with pytest.raises(DocumentTypeError):
        v1_texts(V1RerankRequest(query="q", documents=[{"title": "T"}]), max_pairs=100)


def test_schemas_v1_chunk_budget_uses_the_default_of_ten_chunks() -> None:
    documents: list[str | dict[str, object]] = ["d"] * 11
    with pytest.raises(TooManyDocumentsError, match="max_chunks_per_doc 10"):
        v1_texts(V1RerankRequest(query="q", documents=documents), max_pairs=100)
    one_chunk = V1RerankRequest(query="q", documents=documents, max_chunks_per_doc=1)
    assert len(v1_texts(one_chunk, max_pairs=100)) == 11


def test_schemas_tei_text_only_when_asked() -> None:
    asked = TeiRerankRequest(query="q", texts=["a", "b"], return_text=True)
    rows = [r.model_dump(exclude_unset=True) for r in tei_response(asked, OUTCOME)]
    assert rows == [
        {"index": 1, "score": 0.9, "text": "b"},
        {"index": 0, "score": 0.2, "text": "a"},
    ]
    plain = TeiRerankRequest(query="q", texts=["a", "b"])
    assert all("text" not in r.model_dump(exclude_unset=True) for r in tei_response(plain, OUTCOME))
