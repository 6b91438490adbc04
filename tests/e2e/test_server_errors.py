"""Every row of the server's ERROR_TABLE, end to end through the HTTP app.

Each test checks the status, the ``{"message": ...}`` body, the headers that matter,
that 5xx bodies carry the request id and nothing internal, and that the server
still answers a normal request afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from starlette.types import Message

from e2e.conftest import (
    ALIAS,
    DOCUMENTS,
    MODEL,
    QUERY,
    BuildApp,
    InProcessApp,
    MakeInProcessApp,
    Served,
    rerank_body,
)
from openrerank.config import BatchingConfig, HttpConfig
from openrerank.engine.backends.base import Batch
from openrerank.engine.backends.fake import FakeBackend, overlap_logits
from openrerank.server.errors import ERROR_TABLE, GENERIC_500
from openrerank.types import FloatArray

WAIT_S = 10.0
"""Upper bound for every wait on another thread; never reached when the server works."""

TRACEBACK_MARKERS = ("Traceback", 'File "', ".py")


def assert_error(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """The response is ``status`` with a JSON ``{"message": ...}`` containing ``fragments``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("message"), str) and body["message"].strip()
    for fragment in fragments:
        assert fragment in body["message"], body
    if status >= 500:
        assert set(body) == {"message", "id"}
        assert body["id"] == response.headers["x-request-id"]
        assert not any(marker in response.text for marker in TRACEBACK_MARKERS), response.text
    else:
        assert set(body) == {"message"}
    return body


def test_error_table_has_one_test_per_row() -> None:
    tested = {400, 401, 404, 413, 422, 429, 499, 500, 503}
    assert {row.status for row in ERROR_TABLE} == tested


# 400 -----------------------------------------------------------------------------------

BAD_REQUESTS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "malformed-json",
        "/v2/rerank",
        {
            "content": b'{"model": "tiny", "query": ',
            "headers": {"content-type": "application/json"},
        },
        "not valid JSON",
    ),
    ("json-array", "/v2/rerank", {"json": [rerank_body()]}, "must be a JSON object"),
    ("empty-documents", "/v2/rerank", {"json": rerank_body(documents=[])}, "must not be empty"),
    ("blank-query", "/v2/rerank", {"json": rerank_body(query=" \n\t ")}, "query"),
    ("top-n-zero", "/v2/rerank", {"json": rerank_body(top_n=0)}, "top_n"),
    (
        "too-many-documents",
        "/v2/rerank",
        {"json": rerank_body(documents=["x"] * 21)},
        "exceed the limit of 20",
    ),
    (
        "v1-chunks-over-limit",
        "/v1/rerank",
        {"json": {"query": QUERY, "documents": ["a", "b", "c"], "max_chunks_per_doc": 7}},
        "max_chunks_per_doc",
    ),
    (
        "v1-object-without-text",
        "/v1/rerank",
        {"json": {"query": QUERY, "documents": ["a", {"title": "no text here"}]}},
        "documents[1]",
    ),
    ("tei-blank-query", "/rerank", {"json": {"query": "", "texts": ["a"]}}, "query"),
]


@pytest.mark.parametrize(
    ("path", "request_kwargs", "fragment"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_error_400_for_malformed_or_invalid_requests(
    make_in_process_app: MakeInProcessApp, path: str, request_kwargs: dict[str, Any], fragment: str
) -> None:
    in_process_app = make_in_process_app(max_documents=20)
    response = in_process_app.client.post(path, **request_kwargs)
    assert_error(response, 400, fragment)
    assert in_process_app.backend.batches == []
    in_process_app.assert_still_serves()


# 401 -----------------------------------------------------------------------------------


def test_error_401_without_the_api_key(make_in_process_app: MakeInProcessApp) -> None:
    in_process_app = make_in_process_app(http=HttpConfig(api_keys=("sk-errors-key",)))
    response = in_process_app.client.post("/v2/rerank", json=rerank_body())
    assert_error(response, 401, "API key", "Bearer")
    assert response.headers["www-authenticate"] == "Bearer"
    assert in_process_app.backend.batches == []
    in_process_app.assert_still_serves(headers={"Authorization": "Bearer sk-errors-key"})


# 404 -----------------------------------------------------------------------------------


def test_error_404_for_a_model_that_is_not_served(
    in_process_app: InProcessApp, tiny_model_dir: Path
) -> None:
    names = ["rerank-v9.9", str(tiny_model_dir), f"{tiny_model_dir}/", f"./{MODEL}"]
    for path in ("/v2/rerank", "/v1/rerank"):
        for name in names:
            response = in_process_app.client.post(path, json=rerank_body(model=name))
            assert_error(response, 404, repr(name), MODEL, ALIAS)
    assert in_process_app.backend.batches == []
    in_process_app.assert_still_serves()


def test_error_404_for_an_unknown_path(in_process_app: InProcessApp) -> None:
    assert_error(in_process_app.client.get("/v3/rerank"), 404)
    in_process_app.assert_still_serves()


# 413 -----------------------------------------------------------------------------------

MAX_BYTES = 4_000


def _chunks(total: int, size: int = 500) -> Iterator[bytes]:
    body = json.dumps(rerank_body(documents=["x" * total])).encode()
    for start in range(0, len(body), size):
        yield body[start : start + size]


# (id, path, request arguments, message fragment, whether the client declares a length)
TOO_LARGE: list[tuple[str, str, Callable[[], dict[str, Any]], str, bool]] = [
    (
        "content-length-over-limit",
        "/v2/rerank",
        lambda: {"json": rerank_body(documents=["word " * 1_000])},
        f"{MAX_BYTES} bytes",
        True,
    ),
    (
        "chunked-body-over-limit",
        "/v2/rerank",
        lambda: {"content": _chunks(5_000), "headers": {"content-type": "application/json"}},
        f"{MAX_BYTES} bytes",
        False,
    ),
    (
        "document-over-max-chars",
        "/v2/rerank",
        lambda: {"json": rerank_body(documents=["short", "y" * 2_001])},
        "documents[1] has 2001 characters",
        True,
    ),
    (
        "tei-untruncated-text-over-window",
        "/rerank",
        lambda: {"json": {"query": QUERY, "texts": ["a", "fox " * 100], "truncate": False}},
        "64 tokens",
        True,
    ),
]


@pytest.mark.parametrize(
    ("path", "request_kwargs", "fragment", "declared"),
    [case[1:] for case in TOO_LARGE],
    ids=[case[0] for case in TOO_LARGE],
)
def test_error_413_for_a_body_or_text_over_its_limit(
    make_in_process_app: MakeInProcessApp,
    path: str,
    request_kwargs: Callable[[], dict[str, Any]],
    fragment: str,
    declared: bool,
) -> None:
    in_process_app = make_in_process_app(
        http=HttpConfig(max_request_bytes=MAX_BYTES), max_document_chars=2_000
    )
    response = in_process_app.client.post(path, **request_kwargs())
    assert_error(response, 413, fragment)
    assert ("content-length" in response.request.headers) is declared
    assert in_process_app.backend.batches == []
    in_process_app.assert_still_serves()


def test_error_413_not_raised_for_bodies_and_texts_within_the_limits(
    make_in_process_app: MakeInProcessApp,
) -> None:
    in_process_app = make_in_process_app(
        http=HttpConfig(max_request_bytes=MAX_BYTES), max_document_chars=2_000
    )
    streamed = in_process_app.client.post(
        "/v2/rerank", content=_chunks(2_000), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 200, streamed.text
    assert "content-length" not in streamed.request.headers
    long_text = {"query": QUERY, "texts": ["a", "fox " * 100]}
    for truncate in (True, None):
        response = in_process_app.client.post("/rerank", json={**long_text, "truncate": truncate})
        assert response.status_code == 200, response.text


# 422 -----------------------------------------------------------------------------------

SCHEMA_ERRORS: list[tuple[str, str, dict[str, Any], str]] = [
    ("unknown-field", "/v2/rerank", rerank_body(top_k=2), "parameter 'top_k' is not a valid field"),
    ("wrong-type", "/v2/rerank", rerank_body(documents=[1]), "parameter 'documents[0]' is invalid"),
    (
        "missing-field",
        "/v2/rerank",
        {"model": MODEL, "documents": DOCUMENTS},
        "parameter 'query' is required",
    ),
    ("priority-1000", "/v2/rerank", rerank_body(priority=1000), "parameter 'priority' is invalid"),
    (
        "v1-wrong-type",
        "/v1/rerank",
        {"query": QUERY, "documents": DOCUMENTS, "return_documents": "yes"},
        "parameter 'return_documents' is invalid",
    ),
    (
        "shared-path-neither-body",
        "/rerank",
        {"query": QUERY},
        "the body must be text-embeddings-inference's {query, texts, ...} or the "
        "Jina/Cohere {model, query, documents, ...}",
    ),
    ("tei-missing-query", "/rerank", {"texts": ["a"]}, "parameter 'query' is required"),
    (
        "documents-body-missing-query",
        "/rerank",
        {"documents": ["a"]},
        "parameter 'query' is required",
    ),
    (
        "tei-bad-truncation-direction",
        "/rerank",
        {"query": QUERY, "texts": ["a"], "truncation_direction": "Middle"},
        "parameter 'truncation_direction' is invalid",
    ),
    (
        "v2-document-of-a-wrong-kind",
        "/v2/rerank",
        rerank_body(documents=["a", 3]),
        "parameter 'documents[1]' is invalid: Input should be a valid string or object",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [case[1:] for case in SCHEMA_ERRORS],
    ids=[case[0] for case in SCHEMA_ERRORS],
)
def test_error_422_names_the_bad_field(
    in_process_app: InProcessApp, path: str, body: dict[str, Any], message: str
) -> None:
    response_body = assert_error(in_process_app.client.post(path, json=body), 422, message)
    assert response_body["message"].startswith(message)
    assert in_process_app.backend.batches == []
    in_process_app.assert_still_serves()


# 429 -----------------------------------------------------------------------------------


def test_error_429_when_admission_overflows(make_in_process_app: MakeInProcessApp) -> None:
    admitted, release = threading.Event(), threading.Event()

    def held(batch: Batch) -> FloatArray:
        admitted.set()
        release.wait(WAIT_S)
        return overlap_logits(batch)

    in_process_app = make_in_process_app(
        backend=FakeBackend(logit_fn=held), max_documents=3, max_queued_pairs=3
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            first = pool.submit(in_process_app.client.post, "/v2/rerank", json=rerank_body())
            assert admitted.wait(WAIT_S)
            assert in_process_app.metric("openrerank_queue_pairs", model=MODEL) == 3
            refused = in_process_app.client.post("/v2/rerank", json=rerank_body(documents=["one"]))
        finally:
            release.set()
        assert first.result(WAIT_S).status_code == 200
    assert_error(refused, 429, "busy", "retry")
    assert int(refused.headers["retry-after"]) >= 1
    assert in_process_app.metric("openrerank_queue_pairs", model=MODEL) == 0
    assert in_process_app.metric("openrerank_documents_scored_total", model=MODEL) == len(DOCUMENTS)
    in_process_app.assert_still_serves()


# 499 -----------------------------------------------------------------------------------


@dataclass
class DisconnectRun:
    """What one client-disconnect run saw."""

    status: int
    body: dict[str, Any]
    batches_run: int
    later_status: int
    documents: int


def _scope(path: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50_000),
        "server": ("testserver", 80),
    }


async def _call(
    app: FastAPI, body: dict[str, Any], *, disconnect_after: threading.Event | None
) -> tuple[int, dict[str, Any]]:
    """POST ``body`` to /v2/rerank; the client leaves once ``disconnect_after`` is set."""
    raw = json.dumps(body).encode()
    messages: list[Message] = []
    calls = 0

    async def receive() -> Message:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": raw, "more_body": False}
        if disconnect_after is None:
            await asyncio.Event().wait()  # the client stays; cancelled once answered
        else:
            await asyncio.to_thread(disconnect_after.wait, WAIT_S)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(_scope("/v2/rerank", raw), receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], json.loads(content)


def _disconnect_run(build_app: BuildApp) -> tuple[DisconnectRun, Served]:
    first_batch, answered = threading.Event(), threading.Event()

    def gate(batch: Batch) -> FloatArray:
        if not first_batch.is_set():
            first_batch.set()
            answered.wait(WAIT_S)  # hold the model until the disconnected request is answered
        return overlap_logits(batch)

    served = build_app(
        backend=FakeBackend(logit_fn=gate), batching=BatchingConfig(max_batch_size=1)
    )
    documents = [f"document number {i} about a brown fox" for i in range(20)]

    async def scenario() -> DisconnectRun:
        async with served.catalog:
            body = rerank_body(documents=documents)
            status, answer = await _call(served.app, body, disconnect_after=first_batch)
            answered.set()
            # The later request's batches queue behind anything left of the first one,
            # so once it is answered every batch the first one sent has been run.
            later_status, _ = await _call(
                served.app, rerank_body(documents=["one"]), disconnect_after=None
            )
        return DisconnectRun(
            status, answer, len(served.backend.batches) - 1, later_status, len(documents)
        )

    try:
        return asyncio.run(scenario()), served
    finally:
        answered.set()


def test_error_499_when_the_client_disconnects(build_app: BuildApp) -> None:
    run, served = _disconnect_run(build_app)
    assert run.status == 499
    assert set(run.body) == {"message"} and "disconnected" in run.body["message"]
    # Only the batch already running when the client left reached the model (it is
    # held until the 499 is sent); the other 19 were cancelled before they started.
    assert run.batches_run == 1 < run.documents
    assert run.later_status == 200
    requests = "openrerank_requests_total"
    assert served.metric(requests, route="/v2/rerank", status="499") == 1
    assert served.metric(requests, route="/v2/rerank", status="200") == 1
    assert served.metric("openrerank_queue_pairs", model=MODEL) == 0
    assert served.metric("openrerank_documents_scored_total", model=MODEL) == 1
    dropped = served.metric("openrerank_pairs_dropped_total", model=MODEL)
    assert dropped == run.documents - run.batches_run


# 500 -----------------------------------------------------------------------------------


def _request_id_logged(caplog: pytest.LogCaptureFixture, request_id: str) -> list[str]:
    return [
        record.name
        for record in caplog.records
        if record.levelno >= logging.ERROR and request_id in record.getMessage()
    ]


def test_error_500_for_a_backend_failure(
    make_in_process_app: MakeInProcessApp, caplog: pytest.LogCaptureFixture
) -> None:
    failing = {"on": True}
    backend = FakeBackend(fail_when=lambda batch: failing["on"])
    in_process_app = make_in_process_app(backend=backend)
    with caplog.at_level(logging.ERROR):
        response = in_process_app.client.post("/v2/rerank", json=rerank_body())
    assert_error(response, 500)
    assert "injected by the test" not in response.text
    assert _request_id_logged(caplog, response.headers["x-request-id"])
    failing["on"] = False
    in_process_app.assert_still_serves()


def test_error_500_for_a_bug_hides_the_internal_error(
    make_in_process_app: MakeInProcessApp, caplog: pytest.LogCaptureFixture
) -> None:
    buggy = {"on": True}

    def wrong_length(batch: Batch) -> FloatArray:
        logits = overlap_logits(batch)
        return np.append(logits, logits[:1]) if buggy["on"] else logits

    in_process_app = make_in_process_app(backend=FakeBackend(logit_fn=wrong_length))
    with caplog.at_level(logging.ERROR):
        response = in_process_app.client.post("/v2/rerank", json=rerank_body())
    body = assert_error(response, 500)
    assert body["message"] == GENERIC_500
    assert not any(word in response.text for word in ("ValueError", "shape", "broadcast"))
    logged = _request_id_logged(caplog, body["id"])
    assert logged, [r.getMessage() for r in caplog.records]
    assert any(r.exc_info for r in caplog.records if r.name in logged)
    assert in_process_app.metric("openrerank_queue_pairs", model=MODEL) == 0
    buggy["on"] = False
    in_process_app.assert_still_serves()


# 503 -----------------------------------------------------------------------------------


def test_error_503_when_the_model_is_stopped(in_process_app: InProcessApp) -> None:
    portal = in_process_app.client.portal
    assert portal is not None
    portal.call(in_process_app.service.stop)
    for response in (
        in_process_app.client.get("/ready"),
        in_process_app.client.get("/v1/models"),
        in_process_app.client.post("/v2/rerank", json=rerank_body()),
        in_process_app.client.post("/v1/rerank", json={"query": QUERY, "documents": DOCUMENTS}),
        in_process_app.client.post("/rerank", json={"query": QUERY, "texts": DOCUMENTS}),
    ):
        assert_error(response, 503)
        assert int(response.headers["retry-after"]) >= 1
    assert in_process_app.metric("openrerank_model_ready", model=MODEL) == 0
    assert in_process_app.backend.batches == []
    portal.call(in_process_app.service.start)
    assert in_process_app.client.get("/ready").status_code == 200
    in_process_app.assert_still_serves()
