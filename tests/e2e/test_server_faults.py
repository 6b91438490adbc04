"""Faults inside a running server: a failing model, repeated failures and readiness,
draining, CORS, and authentication on every route of the app."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI

from e2e.conftest import DOCUMENTS, MODEL, QUERY, InProcessApp, MakeInProcessApp, rerank_body
from openrerank.config import BatchingConfig, HttpConfig
from openrerank.engine import service as service_module
from openrerank.engine.backends.base import Batch
from openrerank.engine.backends.fake import FakeBackend, overlap_logits
from openrerank.engine.scheduling.scheduler import UNHEALTHY_AFTER_FAILED_BATCHES
from openrerank.server.drain import SHUTTING_DOWN
from openrerank.types import FloatArray

KEY = "sk-faults-5e0c7a"
LONG = " ".join(["the slow brown fox"] * 20)  # a pair far longer than the short ones
LONG_PAIR_TOKENS = 40
WAIT_S = 30.0


def _long_pairs(batch: Batch) -> bool:
    return batch.input_ids.shape[1] > LONG_PAIR_TOKENS


def _message(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("message"), str), response.text
    return str(body["message"])


# A failing batch ------------------------------------------------------------------------


def test_fault_failed_batch_fails_only_the_requests_in_it(
    make_in_process_app: MakeInProcessApp, caplog: pytest.LogCaptureFixture
) -> None:
    in_process_app = make_in_process_app(
        backend=FakeBackend(fail_when=_long_pairs, delay_s=0.01),
        batching=BatchingConfig(max_batch_size=1),
    )
    bodies = [rerank_body(documents=[*DOCUMENTS, LONG]), *[rerank_body()] * 6]
    with caplog.at_level(logging.ERROR), ThreadPoolExecutor(len(bodies)) as pool:
        responses = list(
            pool.map(lambda b: in_process_app.client.post("/v2/rerank", json=b), bodies)
        )
    failed, served = responses[0], responses[1:]
    assert failed.status_code == 500
    assert "the server log has the cause" in _message(failed)
    assert "injected" not in failed.text and "RuntimeError" not in failed.text
    request_id = failed.headers["x-request-id"]
    assert any(request_id in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert [r.status_code for r in served] == [200] * len(served)
    failed_batches = sum(_long_pairs(batch) for batch in in_process_app.backend.batches)
    assert failed_batches >= 1
    assert in_process_app.metric("openrerank_batches_failed_total", model=MODEL) == failed_batches
    assert in_process_app.client.get("/ready").status_code == 200
    in_process_app.assert_still_serves()


def test_fault_repeated_failures_flip_ready_until_the_model_recovers(
    make_in_process_app: MakeInProcessApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "PROBE_INTERVAL_S", 0.0)
    failing = {"on": True}
    in_process_app = make_in_process_app(backend=FakeBackend(fail_when=lambda batch: failing["on"]))
    assert in_process_app.client.get("/ready").status_code == 200
    for _ in range(UNHEALTHY_AFTER_FAILED_BATCHES):
        assert in_process_app.client.post("/v2/rerank", json=rerank_body()).status_code == 500
    not_ready = in_process_app.client.get("/ready")  # its probe fails too
    assert not_ready.status_code == 503
    assert "recent batches failed" in _message(not_ready)
    assert not_ready.headers["retry-after"] == "1"
    assert in_process_app.metric("openrerank_model_ready", model=MODEL) == 0
    failing["on"] = False
    batches = len(in_process_app.backend.batches)
    assert in_process_app.client.get("/ready").status_code == 200  # a probe succeeded
    assert len(in_process_app.backend.batches) == batches + 1
    assert in_process_app.metric("openrerank_model_ready", model=MODEL) == 1
    in_process_app.assert_still_serves()


def test_fault_a_successful_request_also_restores_readiness(
    make_in_process_app: MakeInProcessApp,
) -> None:
    failing = {"on": True}
    in_process_app = make_in_process_app(backend=FakeBackend(fail_when=lambda batch: failing["on"]))
    for _ in range(UNHEALTHY_AFTER_FAILED_BATCHES):
        in_process_app.client.post("/v2/rerank", json=rerank_body())
    assert not in_process_app.service.ready
    failing["on"] = False
    in_process_app.assert_still_serves()
    assert in_process_app.service.ready


# Draining ------------------------------------------------------------------------------


def test_drain_refuses_new_requests_with_503_but_answers_liveness_and_metrics(
    in_process_app: InProcessApp,
) -> None:
    in_process_app.app.state.drain.begin()
    for method, path, body in [
        ("POST", "/v2/rerank", rerank_body()),
        ("POST", "/v1/rerank", {"query": QUERY, "documents": DOCUMENTS}),
        ("POST", "/rerank", {"query": QUERY, "texts": DOCUMENTS}),
        ("GET", "/ready", None),
        ("GET", "/v1/models", None),
    ]:
        response = in_process_app.client.request(method, path, json=body)
        assert response.status_code == 503, (path, response.text)
        assert _message(response) == SHUTTING_DOWN
        assert response.headers["retry-after"] == "1"
        assert response.headers["connection"] == "close"
    assert in_process_app.client.get("/health").status_code == 200
    assert in_process_app.client.get("/metrics").status_code == 200
    assert in_process_app.backend.batches == []
    assert in_process_app.app.state.drain.in_flight == 0


def test_drain_counts_requests_in_flight(in_process_app: InProcessApp) -> None:
    drain = in_process_app.app.state.drain
    assert drain.in_flight == 0
    in_process_app.assert_still_serves()
    assert drain.in_flight == 0 and not drain.draining


# Authentication on every route ----------------------------------------------------------


def _endpoints(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the app routes to, included routers flattened."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.13x
    routes = list(flatten(app.routes)) if flatten else app.routes
    found = []
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        assert path and methods, f"{route!r}: a kind of route this test cannot check"
        found += [(method, path) for method in sorted(methods) if method != "HEAD"]
    return found


def test_auth_every_route_the_app_has_but_health_requires_a_key(
    make_in_process_app: MakeInProcessApp,
) -> None:
    in_process_app = make_in_process_app(http=HttpConfig(api_keys=(KEY,)))
    endpoints = _endpoints(in_process_app.app)
    assert ("POST", "/v2/rerank") in endpoints and len(endpoints) >= 8
    for method, path in endpoints:
        response = in_process_app.client.request(method, path, json={})
        if path == "/health":
            assert response.status_code == 200
            continue
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        keyed = in_process_app.client.request(
            method, path, json={}, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert keyed.status_code != 401, (method, path)
    for path in ("/nowhere", "/v3/rerank", "/docs/../metrics"):
        assert in_process_app.client.get(path).status_code == 401, path
    assert in_process_app.backend.batches == []


# CORS ------------------------------------------------------------------------------------

ORIGIN = "https://search.example.com"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def test_cors_is_off_unless_configured(in_process_app: InProcessApp) -> None:
    preflight = in_process_app.client.options("/v2/rerank", headers=PREFLIGHT)
    assert preflight.status_code in (404, 405)
    answer = in_process_app.client.post(
        "/v2/rerank", json=rerank_body(), headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 200
    for response in (preflight, answer):
        assert not any(name.startswith("access-control-") for name in response.headers)


@pytest.mark.parametrize("keys", [(), (KEY,)], ids=["no-keys", "keys"])
def test_cors_allows_only_the_configured_origins(
    make_in_process_app: MakeInProcessApp, keys: tuple[str, ...]
) -> None:
    in_process_app = make_in_process_app(http=HttpConfig(api_keys=keys, cors_origins=(ORIGIN,)))
    preflight = in_process_app.client.options("/v2/rerank", headers=PREFLIGHT)
    assert preflight.status_code == 200, preflight.text  # a preflight never carries a key
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    auth: dict[str, Any] = {"Authorization": f"Bearer {KEY}"} if keys else {}
    answer = in_process_app.client.post(
        "/v2/rerank", json=rerank_body(), headers={"Origin": ORIGIN, **auth}
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
    other = {**PREFLIGHT, "Origin": "https://evil.example.net"}
    refused = in_process_app.client.options("/v2/rerank", headers=other)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_drain_abort_answers_requests_still_in_flight_with_503(
    make_in_process_app: MakeInProcessApp,
) -> None:
    entered, release = threading.Event(), threading.Event()

    def held(batch: Batch) -> FloatArray:
        entered.set()
        release.wait(WAIT_S)
        return overlap_logits(batch)

    in_process_app = make_in_process_app(backend=FakeBackend(logit_fn=held))
    portal = in_process_app.client.portal
    assert portal is not None
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(in_process_app.client.post, "/v2/rerank", json=rerank_body())
        assert entered.wait(WAIT_S)
        assert in_process_app.app.state.drain.in_flight == 1
        portal.call(in_process_app.app.state.drain.abort)
        response = pending.result(WAIT_S)
    release.set()
    assert response.status_code == 503, response.text
    assert _message(response) == SHUTTING_DOWN
    assert in_process_app.app.state.drain.in_flight == 0
