"""Operations and wire behaviour of the HTTP server: auth, health, readiness, models,
metrics, request ids, access logs, OpenAPI, null handling, result shapes, billing and
several models in one catalog."""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from e2e.conftest import (
    ALIAS,
    DOCUMENTS,
    MODEL,
    QUERY,
    InProcessApp,
    MakeInProcessApp,
    rerank_body,
)
from openrerank.config import EngineConfig, HttpConfig
from openrerank.engine.backends.base import Batch
from openrerank.engine.backends.fake import FakeBackend, overlap_logits
from openrerank.engine.catalog import ModelCatalog
from openrerank.engine.service import RerankService
from openrerank.server import create_app
from openrerank.server.errors import ERROR_TABLE
from openrerank.types import FloatArray

KEY_A = "sk-ops-alpha-7c1e9b"
KEY_B = "sk-ops-beta-42d0aa"
V1_BODY: dict[str, Any] = {"query": QUERY, "documents": DOCUMENTS}
TEI_BODY: dict[str, Any] = {"query": QUERY, "texts": DOCUMENTS}

# (method, path, JSON body) for every route but /health.
PROTECTED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/ready", None),
    ("GET", "/v1/models", None),
    ("GET", "/metrics", None),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
    ("POST", "/v2/rerank", rerank_body()),
    ("POST", "/v1/rerank", V1_BODY),
    ("POST", "/rerank", TEI_BODY),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in PROTECTED]


def call(
    client: TestClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request, JSON body when given."""
    return client.request(method, path, json=body, headers=headers)


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for ``key``."""
    return {"Authorization": f"Bearer {key}"}


def assert_unauthorized(response: httpx.Response) -> None:
    """A 401 with the challenge header and the usual error body."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert set(response.json()) == {"message"}


# Authentication ----------------------------------------------------------------------


def test_auth_off_leaves_every_route_open(in_process_app: InProcessApp) -> None:
    for method, path, body in [("GET", "/health", None), *PROTECTED]:
        response = call(in_process_app.client, method, path, body)
        assert response.status_code == 200, (path, response.text)


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=ROUTE_IDS)
def test_auth_on_requires_the_key_on_every_route_but_health(
    make_in_process_app: MakeInProcessApp, method: str, path: str, body: dict[str, Any] | None
) -> None:
    in_process_app = make_in_process_app(http=HttpConfig(api_keys=(KEY_A,)))
    assert in_process_app.client.get("/health").status_code == 200
    assert_unauthorized(call(in_process_app.client, method, path, body))
    response = call(in_process_app.client, method, path, body, headers=bearer(KEY_A))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("sk-wrong"),
        bearer(KEY_A + "x"),
        bearer(KEY_A[:-1]),
        bearer(""),
        {"Authorization": f"Basic {KEY_A}"},
        {"Authorization": f"Token {KEY_A}"},
        {"Authorization": KEY_A},
        {"X-Api-Key": KEY_A},
    ],
    ids=[
        "missing",
        "wrong-key",
        "key-with-suffix",
        "key-prefix",
        "empty-key",
        "basic-scheme",
        "token-scheme",
        "no-scheme",
        "other-header",
    ],
)
def test_auth_refuses_wrong_keys_schemes_and_missing_headers(
    make_in_process_app: MakeInProcessApp, headers: dict[str, str]
) -> None:
    in_process_app = make_in_process_app(http=HttpConfig(api_keys=(KEY_A,)))
    assert_unauthorized(
        in_process_app.client.post("/v2/rerank", json=rerank_body(), headers=headers)
    )
    assert in_process_app.backend.batches == []


def test_auth_accepts_each_configured_key(make_in_process_app: MakeInProcessApp) -> None:
    in_process_app = make_in_process_app(http=HttpConfig(api_keys=(KEY_A, KEY_B)))
    for key in (KEY_A, KEY_B):
        response = in_process_app.client.post("/v2/rerank", json=rerank_body(), headers=bearer(key))
        assert response.status_code == 200, response.text
        assert in_process_app.client.get(
            "/ready", headers={"Authorization": f"bearer {key}"}
        ).is_success


def test_auth_metrics_public_opens_metrics_only(make_in_process_app: MakeInProcessApp) -> None:
    in_process_app = make_in_process_app(http=HttpConfig(api_keys=(KEY_A,), metrics_public=True))
    assert in_process_app.client.get("/metrics").status_code == 200
    assert in_process_app.client.get("/health").status_code == 200
    for method, path, body in PROTECTED:
        if path != "/metrics":
            assert_unauthorized(call(in_process_app.client, method, path, body))


def test_auth_ready_public_opens_ready_only(make_in_process_app: MakeInProcessApp) -> None:
    in_process_app = make_in_process_app(http=HttpConfig(api_keys=(KEY_A,), ready_public=True))
    assert in_process_app.client.get("/ready").status_code == 200
    for method, path, body in PROTECTED:
        if path != "/ready":
            assert_unauthorized(call(in_process_app.client, method, path, body))


def test_auth_keys_never_appear_in_responses_or_logs(
    make_in_process_app: MakeInProcessApp, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk-ops-wrong-913f"
    caplog.set_level(logging.DEBUG)
    in_process_app = make_in_process_app(http=HttpConfig(api_keys=(KEY_A, KEY_B)))
    responses = [
        call(in_process_app.client, method, path, body, headers=headers)
        for method, path, body in [("GET", "/health", None), *PROTECTED]
        for headers in (bearer(KEY_A), bearer(wrong), {"Authorization": KEY_B})
    ]
    assert {r.status_code for r in responses} >= {200, 401}
    logged = [record.getMessage() for record in caplog.records]
    assert any(record.name == "openrerank.access" for record in caplog.records)
    for secret in (KEY_A, KEY_B, wrong):
        for response in responses:
            assert secret not in response.text
            assert all(secret not in value for value in response.headers.values())
        assert not any(secret in message for message in logged), secret


# Health, readiness and models -----------------------------------------------------------


def test_health_answers_ok(in_process_app: InProcessApp) -> None:
    response = in_process_app.client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_answers_ready_once_models_are_loaded(in_process_app: InProcessApp) -> None:
    response = in_process_app.client.get("/ready")
    assert response.status_code == 200 and response.json() == {"status": "ready"}


def test_models_lists_name_aliases_default_and_context_length(
    in_process_app: InProcessApp, tiny_model_dir: Path
) -> None:
    window = json.loads((tiny_model_dir / "tokenizer_config.json").read_text())
    response = in_process_app.client.get("/v1/models")
    assert response.status_code == 200
    (card,) = response.json()["models"]
    assert card["name"] == MODEL
    assert card["aliases"] == [ALIAS]
    assert card["default"] is True
    assert card["context_length"] == window["model_max_length"] == 64
    assert card["endpoints"] == ["rerank"]
    assert card["backend"] == "fake"
    assert str(tiny_model_dir) not in response.text


# Metrics -----------------------------------------------------------------------------


def test_metrics_exposes_every_family_as_prometheus_text(in_process_app: InProcessApp) -> None:
    assert in_process_app.client.post("/v2/rerank", json=rerank_body()).status_code == 200
    response = in_process_app.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE openrerank_requests_total counter" in text
    assert "# TYPE openrerank_request_duration_seconds histogram" in text
    assert "openrerank_request_duration_seconds_bucket{" in text
    assert "# TYPE openrerank_documents_scored_total counter" in text
    assert "# TYPE openrerank_tokens_scored_total counter" in text
    assert f'openrerank_queue_pairs{{model="{MODEL}"}} 0.0' in text
    assert in_process_app.metric("openrerank_requests_total", status="200") >= 1


def test_metrics_count_requests_and_latency_per_request(in_process_app: InProcessApp) -> None:
    before = in_process_app.metric("openrerank_requests_total", status="422")
    latency_before = in_process_app.metric("openrerank_request_duration_seconds_count")
    in_process_app.client.post("/v2/rerank", json=rerank_body(top_k=1))
    in_process_app.client.post("/v2/rerank", json=rerank_body(top_k=1))
    assert in_process_app.metric("openrerank_requests_total", status="422") == before + 2
    assert in_process_app.metric("openrerank_request_duration_seconds_count") == latency_before + 2


def test_metrics_label_known_routes_by_path(in_process_app: InProcessApp) -> None:
    in_process_app.client.post("/v2/rerank", json=rerank_body())
    in_process_app.client.post("/v1/rerank", json={**V1_BODY, "top_k": 1})
    in_process_app.client.get("/ready")
    requests = "openrerank_requests_total"
    assert in_process_app.metric(requests, route="/v2/rerank", status="200") == 1
    assert in_process_app.metric(requests, route="/v1/rerank", status="422") == 1
    assert in_process_app.metric(requests, route="/ready", status="200") == 1
    assert (
        in_process_app.metric("openrerank_request_duration_seconds_count", route="/v2/rerank") == 1
    )


def test_metrics_label_middleware_refusals_by_route(make_in_process_app: MakeInProcessApp) -> None:
    in_process_app = make_in_process_app(
        http=HttpConfig(api_keys=(KEY_A,), max_request_bytes=1_000)
    )
    in_process_app.client.post("/v2/rerank", json=rerank_body())
    in_process_app.client.post(
        "/v2/rerank", json=rerank_body(documents=["x" * 2_000]), headers=bearer(KEY_A)
    )
    requests = "openrerank_requests_total"
    assert in_process_app.metric(requests, route="/v2/rerank", status="401") == 1
    assert in_process_app.metric(requests, route="/v2/rerank", status="413") == 1


def test_metrics_label_unknown_paths_other(in_process_app: InProcessApp) -> None:
    for path in ("/nope", "/v2/rerank/extra", "/secret-abc123"):
        assert in_process_app.client.get(path).status_code == 404
    assert in_process_app.metric("openrerank_requests_total", route="other", status="404") == 3
    text = in_process_app.app.state.metrics.render().decode()
    assert "/nope" not in text and "secret-abc123" not in text


def test_metrics_documents_and_tokens_grow_by_the_work_done(in_process_app: InProcessApp) -> None:
    documents = ["the quick brown fox", "water boils", "sleep is important", "coffee"]
    docs_before = in_process_app.metric("openrerank_documents_scored_total", model=MODEL)
    tokens_before = in_process_app.metric("openrerank_tokens_scored_total", model=MODEL)
    batches_before = len(in_process_app.backend.batches)
    response = in_process_app.client.post(
        "/v1/rerank", json={"query": QUERY, "documents": documents}
    )
    assert response.status_code == 200
    new_batches = in_process_app.backend.batches[batches_before:]
    tokens_run = sum(int(batch.attention_mask.sum()) for batch in new_batches)
    assert response.json()["usage"]["total_tokens"] == tokens_run
    docs_after = in_process_app.metric("openrerank_documents_scored_total", model=MODEL)
    tokens_after = in_process_app.metric("openrerank_tokens_scored_total", model=MODEL)
    assert docs_after == docs_before + len(documents)
    assert tokens_after == tokens_before + tokens_run
    assert in_process_app.metric("openrerank_queue_pairs", model=MODEL) == 0


# Request ids and access logs --------------------------------------------------------------


def test_request_id_is_a_fresh_uuid_when_absent(in_process_app: InProcessApp) -> None:
    first = in_process_app.client.post("/v2/rerank", json=rerank_body())
    second = in_process_app.client.get("/health")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(uuid.UUID(value).version == 4 for value in ids)
    assert ids[0] != ids[1]
    assert first.json()["id"] == ids[0]


def test_request_id_is_echoed_when_sent(in_process_app: InProcessApp) -> None:
    sent = "client-req.42:trace/abc=="
    response = in_process_app.client.post(
        "/v2/rerank", json=rerank_body(), headers={"X-Request-Id": sent}
    )
    assert response.headers["x-request-id"] == sent
    assert response.json()["id"] == sent
    assert (
        in_process_app.client.get("/nope", headers={"X-Request-Id": sent}).headers["x-request-id"]
        == sent
    )


@pytest.mark.parametrize(
    "sent", ["a" * 300, "has spaces in it", "semi;colon", "<script>"], ids=lambda s: s[:12]
)
def test_request_id_is_replaced_when_garbage(in_process_app: InProcessApp, sent: str) -> None:
    response = in_process_app.client.post(
        "/v2/rerank", json=rerank_body(), headers={"X-Request-Id": sent}
    )
    returned = response.headers["x-request-id"]
    assert returned != sent and uuid.UUID(returned).version == 4
    assert response.json()["id"] == returned


def test_access_log_records_id_method_path_and_status(
    in_process_app: InProcessApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="openrerank.access"):
        ok = in_process_app.client.post(
            "/v2/rerank", json=rerank_body(), headers={"X-Request-Id": "r-1"}
        )
        bad = in_process_app.client.post("/v1/rerank", json={**V1_BODY, "top_k": 1})
        missing = in_process_app.client.get("/nope")
    entries = [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "openrerank.access"
    ]
    expected = [
        ("r-1", "POST", "/v2/rerank", 200),
        (bad.headers["x-request-id"], "POST", "/v1/rerank", 422),
        (missing.headers["x-request-id"], "GET", "/nope", 404),
    ]
    seen = [(e["request_id"], e["method"], e["path"], e["status"]) for e in entries]
    assert seen == expected
    assert ok.status_code == 200
    assert all(isinstance(e["duration_ms"], float | int) and e["duration_ms"] >= 0 for e in entries)


# OpenAPI and docs ---------------------------------------------------------------------------


def test_openapi_is_valid_and_documents_the_error_table(in_process_app: InProcessApp) -> None:
    spec = in_process_app.client.get("/openapi.json").json()
    validate(spec)
    table = {str(row.status): row.description for row in ERROR_TABLE}
    for path in ("/v2/rerank", "/v1/rerank", "/rerank"):
        responses = spec["paths"][path]["post"]["responses"]
        errors = {s: r["description"] for s, r in responses.items() if int(s) >= 400}
        assert errors == table, path
        assert "200" in responses


def test_docs_page_is_html(in_process_app: InProcessApp) -> None:
    response = in_process_app.client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


# Request and response shapes ------------------------------------------------------------------


def _without_id(body: Any) -> Any:
    return {k: v for k, v in body.items() if k != "id"} if isinstance(body, dict) else body


@pytest.mark.parametrize(
    ("path", "body", "nulls"),
    [
        ("/v2/rerank", rerank_body(), ["top_n", "max_tokens_per_doc", "priority"]),
        (
            "/v1/rerank",
            V1_BODY,
            ["model", "top_n", "rank_fields", "return_documents", "max_chunks_per_doc"],
        ),
        ("/rerank", TEI_BODY, ["truncate", "raw_scores", "return_text"]),
    ],
    ids=["v2", "v1", "tei"],
)
def test_rerank_explicit_nulls_mean_the_defaults(
    in_process_app: InProcessApp, path: str, body: dict[str, Any], nulls: list[str]
) -> None:
    plain = in_process_app.client.post(path, json=body)
    with_nulls = in_process_app.client.post(path, json={**body, **dict.fromkeys(nulls)})
    assert plain.status_code == with_nulls.status_code == 200, with_nulls.text
    assert _without_id(with_nulls.json()) == _without_id(plain.json())


def test_rerank_v1_returns_documents_only_when_asked(in_process_app: InProcessApp) -> None:
    documents: list[Any] = ["the quick brown fox", {"text": "water boils", "url": "u"}]
    body = {"query": QUERY, "documents": documents}
    for flag in (False, None):
        results = in_process_app.client.post("/v1/rerank", json={**body, "return_documents": flag})
        assert all("document" not in r for r in results.json()["results"]), results.text
    results = in_process_app.client.post("/v1/rerank", json={**body, "return_documents": True})
    by_index = {r["index"]: r["document"] for r in results.json()["results"]}
    assert by_index == {0: {"text": "the quick brown fox"}, 1: documents[1]}


def test_rerank_v2_results_have_no_document(in_process_app: InProcessApp) -> None:
    response = in_process_app.client.post("/v2/rerank", json=rerank_body())
    body = response.json()
    assert set(body) == {"id", "results", "meta"}
    assert all(set(r) == {"index", "relevance_score"} for r in body["results"])
    assert body["meta"]["api_version"]["version"] == "2"


def test_rerank_results_are_best_first_and_cut_to_top_n(in_process_app: InProcessApp) -> None:
    documents = ["quick brown fox", "sleep", "the brown fox", "water boils at sea level"]
    full = in_process_app.client.post("/v2/rerank", json=rerank_body(documents=documents)).json()
    scores = [r["relevance_score"] for r in full["results"]]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1
    assert sorted(r["index"] for r in full["results"]) == list(range(len(documents)))
    for path, body in (
        ("/v2/rerank", rerank_body(documents=documents, top_n=2)),
        ("/v1/rerank", {"query": QUERY, "documents": documents, "top_n": 2}),
    ):
        cut = in_process_app.client.post(path, json=body).json()["results"]
        assert cut == full["results"][:2], path
    too_many = in_process_app.client.post(
        "/v2/rerank", json=rerank_body(documents=documents, top_n=9)
    )
    assert too_many.json()["results"] == full["results"]
    tei = in_process_app.client.post("/rerank", json={"query": QUERY, "texts": documents}).json()
    assert [r["index"] for r in tei] == [r["index"] for r in full["results"]]
    assert all(set(r) == {"index", "score"} for r in tei)


@pytest.mark.parametrize("n", [1, 100, 101, 200])
def test_rerank_bills_one_search_unit_per_hundred_documents(
    in_process_app: InProcessApp, n: int
) -> None:
    response = in_process_app.client.post("/v2/rerank", json=rerank_body(documents=["fox"] * n))
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["billed_units"] == {"search_units": math.ceil(n / 100)}


# Several models -------------------------------------------------------------------------------


def _reversed_overlap(batch: Batch) -> FloatArray:
    return np.asarray(-overlap_logits(batch), dtype=np.float32)


@pytest.fixture
def two_models(
    engine_config: Callable[..., EngineConfig], start: Callable[[FastAPI], TestClient]
) -> tuple[TestClient, FakeBackend, FakeBackend]:
    """A catalog serving ``alpha`` (default, overlap scores) and ``beta`` (reversed),
    with ``rerank-v3.5`` an alias of ``beta``."""
    alpha, beta = FakeBackend(), FakeBackend(logit_fn=_reversed_overlap)
    catalog = ModelCatalog(
        {
            "alpha": RerankService(engine_config(), backend=alpha),
            "beta": RerankService(engine_config(), backend=beta),
        },
        {ALIAS: "beta"},
    )
    return start(create_app(catalog)), alpha, beta


def test_catalog_routes_requests_by_name_and_alias(
    two_models: tuple[TestClient, FakeBackend, FakeBackend],
) -> None:
    client, alpha, beta = two_models
    ranked: dict[str, list[int]] = {}
    for name in ("alpha", "beta", ALIAS):
        response = client.post("/v2/rerank", json=rerank_body(model=name))
        assert response.status_code == 200, response.text
        ranked[name] = [r["index"] for r in response.json()["results"]]
    assert ranked["alpha"] == ranked["beta"][::-1]
    assert ranked["beta"] == ranked[ALIAS]
    assert (len(alpha.batches), len(beta.batches)) == (1, 2)
    unknown = client.post("/v2/rerank", json=rerank_body(model=MODEL))
    assert unknown.status_code == 404
    assert "alpha" in unknown.json()["message"] and "beta" in unknown.json()["message"]


def test_catalog_default_model_serves_v1_without_model_and_tei(
    two_models: tuple[TestClient, FakeBackend, FakeBackend],
) -> None:
    client, alpha, beta = two_models
    v1 = client.post("/v1/rerank", json=V1_BODY)
    assert v1.status_code == 200 and v1.json()["model"] == "alpha"
    named = client.post("/v1/rerank", json={**V1_BODY, "model": "beta"})
    assert named.json()["model"] == "beta"
    tei = client.post("/rerank", json=TEI_BODY)
    assert tei.status_code == 200
    assert (len(alpha.batches), len(beta.batches)) == (2, 1)
    cards = {card["name"]: card for card in client.get("/v1/models").json()["models"]}
    assert list(cards) == ["alpha", "beta"]
    assert (cards["alpha"]["default"], cards["beta"]["default"]) == (True, False)
    assert (cards["alpha"]["aliases"], cards["beta"]["aliases"]) == ([], [ALIAS])
