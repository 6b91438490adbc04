"""What other clients send, on every route: Cohere's legacy v2 fields, other servers'
bodies on ``POST /rerank``, odd v1 records, and the OpenAI-style model list.

Each answer is compared with the answer the same server gives on the route and body
that already had that meaning (``/v1/rerank`` for records and the Jina/Cohere body, a
pre-cut text for TEI's left truncation), so a wrong mapping shows as a different score.
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e.conftest import DOCUMENTS, MODEL, QUERY, InProcessApp, MakeInProcessApp, rerank_body
from openrerank.config import HttpConfig

RECORDS: list[Any] = [
    {"title": "Foxes", "text": "the quick brown fox"},
    {"title": "Water", "text": "water boils at sea level"},
    "the museum opened",
]

Ranked = list[tuple[int, float]]


def ranked(body: Any) -> Ranked:
    results = body if isinstance(body, list) else body["results"]
    score = "score" if isinstance(body, list) else "relevance_score"
    return [(r["index"], r[score]) for r in results]


def post(in_process_app: InProcessApp, path: str, body: dict[str, Any]) -> Any:
    response = in_process_app.client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


# --- Cohere v2: what LiteLLM and SDKs 5.10-5.13 send --------------------------------


def test_v2_return_documents_answers_each_document_as_sent(in_process_app: InProcessApp) -> None:
    body = post(in_process_app, "/v2/rerank", rerank_body(documents=RECORDS, return_documents=True))
    assert {r["index"]: r["document"] for r in body["results"]} == {
        0: RECORDS[0],
        1: RECORDS[1],
        2: {"text": RECORDS[2]},
    }
    plain = post(in_process_app, "/v2/rerank", rerank_body(return_documents=False))
    assert all(set(r) == {"index", "relevance_score"} for r in plain["results"])


def test_v2_rank_fields_and_max_chunks_score_as_v1_does(in_process_app: InProcessApp) -> None:
    fields = {"rank_fields": ["title", "text"], "max_chunks_per_doc": 2}
    v2 = post(in_process_app, "/v2/rerank", rerank_body(documents=RECORDS, **fields))
    v1 = post(in_process_app, "/v1/rerank", {"query": QUERY, "documents": RECORDS, **fields})
    assert ranked(v2) == ranked(v1)
    by_text = post(in_process_app, "/v2/rerank", rerank_body(documents=RECORDS))
    assert ranked(by_text) != ranked(v2), "rank_fields changed what is scored"


def test_v2_max_chunks_per_doc_is_within_cohere_s_limit(
    make_in_process_app: MakeInProcessApp,
) -> None:
    in_process_app = make_in_process_app(max_documents=20)
    response = in_process_app.client.post(
        "/v2/rerank", json=rerank_body(documents=["d"] * 11, max_chunks_per_doc=2)
    )
    assert response.status_code == 400, response.text
    assert "max_chunks_per_doc (2)" in response.json()["message"]


# --- POST /rerank: TEI's body, and the Jina/Cohere body of vLLM and infinity --------


def test_shared_path_answers_the_documents_body_as_v1_does(in_process_app: InProcessApp) -> None:
    body = {"model": MODEL, "query": QUERY, "documents": DOCUMENTS, "top_n": 2}
    extras = {"return_documents": True, "truncate_prompt_tokens": 9, "max_tokens_per_query": 5}
    shared = post(in_process_app, "/rerank", {**body, **extras})
    v1 = post(in_process_app, "/v1/rerank", {**body, "return_documents": True})
    assert ranked(shared) == ranked(v1) and len(shared["results"]) == 2
    assert [r["document"] for r in shared["results"]] == [r["document"] for r in v1["results"]]
    assert shared["model"] == MODEL
    assert shared["usage"] == v1["usage"] and shared["usage"]["prompt_tokens"] > 0


def test_infinity_compat_returns_bare_strings_on_the_shared_path_only(
    make_in_process_app: MakeInProcessApp,
) -> None:
    in_process_app = make_in_process_app(http=HttpConfig(rerank_compat="infinity"))
    body = {"query": QUERY, "documents": DOCUMENTS, "return_documents": True}
    shared = post(in_process_app, "/rerank", body)
    assert [r["document"] for r in shared["results"]] == [
        DOCUMENTS[r["index"]] for r in shared["results"]
    ]
    v1 = post(in_process_app, "/v1/rerank", body)  # Cohere's route keeps Cohere's shape
    assert [r["document"] for r in v1["results"]] == [
        {"text": DOCUMENTS[r["index"]]} for r in v1["results"]
    ]
    assert ranked(shared) == ranked(v1)


def test_shared_path_raw_scores_are_infinity_s_logits(in_process_app: InProcessApp) -> None:
    body = {"query": QUERY, "documents": DOCUMENTS}
    raw = post(in_process_app, "/rerank", {**body, "raw_scores": True})
    tei_raw = post(
        in_process_app, "/rerank", {"query": QUERY, "texts": DOCUMENTS, "raw_scores": True}
    )
    normalized = post(in_process_app, "/rerank", body)
    assert ranked(raw) == ranked(tei_raw)
    assert [score for _, score in ranked(raw)] != [score for _, score in ranked(normalized)]


def test_shared_path_takes_what_tei_clients_send(in_process_app: InProcessApp) -> None:
    tei = {"query": QUERY, "texts": DOCUMENTS}
    plain = post(in_process_app, "/rerank", tei)
    litellm = post(in_process_app, "/rerank", {**tei, "truncation_direction": "Right", "top_n": 2})
    answer_dot_ai = post(in_process_app, "/rerank", {**tei, "model": "anything", "top_n": 2})
    assert ranked(litellm) == ranked(answer_dot_ai) == ranked(plain)[:2]


def test_tei_left_truncation_scores_the_end_of_a_long_text(in_process_app: InProcessApp) -> None:
    window = in_process_app.service.info.max_length
    head, tail = "the museum opened " * window, "quick brown fox"
    texts = [head + tail, head]
    left = post(
        in_process_app, "/rerank", {"query": QUERY, "texts": texts, "truncation_direction": "Left"}
    )
    right = post(
        in_process_app, "/rerank", {"query": QUERY, "texts": texts, "truncation_direction": "right"}
    )
    same_start = dict(ranked(right))
    assert same_start[0] == pytest.approx(same_start[1]), "kept start: the tail is cut"
    by_index = dict(ranked(left))
    assert by_index[0] != pytest.approx(by_index[1]), "kept end: the tail is scored"


# --- v1 records: one odd record never sinks the batch -------------------------------


def test_v1_a_record_without_the_rank_fields_is_scored_by_its_text(
    in_process_app: InProcessApp,
) -> None:
    records = [*RECORDS[:2], {"url": "u", "text": "the museum opened"}, {"url": "only"}]
    body = {"query": QUERY, "documents": records, "rank_fields": ["title"]}
    odd = dict(ranked(post(in_process_app, "/v1/rerank", body)))
    as_text = dict(
        ranked(
            post(in_process_app, "/v1/rerank", {**body, "documents": ["t", "t", RECORDS[2], ""]})
        )
    )
    assert odd[2] == pytest.approx(as_text[2]), "scored by its text"
    assert odd[3] == pytest.approx(as_text[3]), "nothing at all: scored as empty text"


def test_v1_empty_rank_fields_mean_the_text_field(in_process_app: InProcessApp) -> None:
    body = {"query": QUERY, "documents": RECORDS}
    assert ranked(post(in_process_app, "/v1/rerank", {**body, "rank_fields": []})) == ranked(
        post(in_process_app, "/v1/rerank", body)
    )


def test_v1_a_thousand_records_survive_one_odd_one(make_in_process_app: MakeInProcessApp) -> None:
    in_process_app = make_in_process_app(max_documents=1_000)
    records: list[Any] = [{"title": f"fox {i}"} for i in range(999)] + [{"other": None}]
    body = {"query": QUERY, "documents": records, "rank_fields": ["title"], "max_chunks_per_doc": 1}
    assert len(ranked(post(in_process_app, "/v1/rerank", body))) == 1_000


@pytest.mark.parametrize(
    ("rank_fields", "message"),
    [(["titel"], "any of the rank_fields ['titel']"), (None, "no object document has a 'text'")],
)
def test_v1_records_with_nothing_to_score_at_all_are_a_400(
    in_process_app: InProcessApp, rank_fields: list[str] | None, message: str
) -> None:
    records = [{"title": "a"}, {"title": "b"}]
    response = in_process_app.client.post(
        "/v1/rerank", json={"query": QUERY, "documents": records, "rank_fields": rank_fields}
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["message"] and "documents[0]" in response.text


# --- model listing -----------------------------------------------------------------


def test_models_are_listed_for_cohere_and_openai_clients_in_one_body(
    in_process_app: InProcessApp,
) -> None:
    response = in_process_app.client.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert [card["name"] for card in body["models"]] == [MODEL]
    assert body["object"] == "list"
    (model,) = body["data"]
    assert model["id"] == MODEL and model["object"] == "model"
    assert model["owned_by"] == "openrerank" and isinstance(model["created"], int)
    assert model["max_model_len"] == body["models"][0]["context_length"]
