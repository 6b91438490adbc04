"""A real ``openrerank serve`` process, driven by the official clients.

The session's one server (``reference_server``: reference cross-encoder, API key on)
serves the whole module. Every answer is compared with the in-process library on the same
input: both run the same ONNX export, so scores agree to float noise and the order is
identical. Documents and the query come from BEIR SciFact (a query and its BM25
candidates).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cohere
import httpx
import pytest
from langchain_cohere import CohereRerank as LangChainCohereRerank
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.postprocessor.cohere_rerank import CohereRerank as LlamaIndexCohereRerank
from prometheus_client.parser import text_string_to_metric_families

from conftest import REFERENCE_MODEL
from e2e.scifact_oracle import (
    ABANDONED_DOCUMENTS,
    CANDIDATES,
    SCORE_TOLERANCE,
    Library,
    Ranking,
    SciFact,
    assert_same_ranking,
)
from e2e.server_process import REFERENCE_API_KEY, ServerProcess
from openrerank import EngineConfig, ModelConfig, Reranker

API_KEY = REFERENCE_API_KEY
AUTH = {"Authorization": f"Bearer {API_KEY}"}
COHERE_ALIASES = ("rerank-v3.5", "rerank-english-v3.0", "rerank-multilingual-v3.0")
CONTEXT_LENGTH = 256
# Disconnect test: 2,000 full abstracts are minutes of work on a small CPU; the client
# gives up after 1 s, and a small request must then be answered within this bound
# (the abandoned work, if it kept running, would hold the model for far longer).
GIVE_UP_AFTER_S = 1.0
FREED_WITHIN_S = 15.0
METRICS_WITHIN_S = 5.0


def requests_counted(client: httpx.Client) -> dict[tuple[str, str], float]:
    """``openrerank_requests_total`` from ``/metrics``, by (route, status)."""
    response = client.get("/metrics")
    assert response.status_code == httpx.codes.OK, response.text
    counted: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "openrerank_requests_total":
                counted[(sample.labels["route"], sample.labels["status"])] = sample.value
    return counted


def wait_for_metrics(
    client: httpx.Client, condition: Callable[[dict[tuple[str, str], float]], bool]
) -> dict[tuple[str, str], float]:
    """Poll ``/metrics`` until ``condition`` holds or ``METRICS_WITHIN_S`` passes."""
    deadline = time.monotonic() + METRICS_WITHIN_S
    counted = requests_counted(client)
    while not condition(counted) and time.monotonic() < deadline:
        time.sleep(0.1)
        counted = requests_counted(client)
    return counted


# --- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def library(reference_onnx_cache: Path) -> Iterator[Library]:
    # The same ONNX file as the server's: the session's one export.
    config = EngineConfig(model=ModelConfig(name=REFERENCE_MODEL, cache_dir=reference_onnx_cache))
    with Reranker.from_config(config) as reranker:
        yield Library(reranker)


@pytest.fixture
def http(reference_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=reference_server.url, headers=AUTH, timeout=120.0) as client:
        yield client


@pytest.fixture
def cohere_v2(reference_server: ServerProcess) -> Iterator[cohere.ClientV2]:
    with cohere.ClientV2(api_key=API_KEY, base_url=reference_server.url) as client:
        yield client


@pytest.fixture
def cohere_v1(reference_server: ServerProcess) -> Iterator[cohere.Client]:
    with cohere.Client(api_key=API_KEY, base_url=reference_server.url) as client:
        yield client


# --- authentication ----------------------------------------------------------------


def test_server_api_key_is_required_except_on_health(reference_server: ServerProcess) -> None:
    body = {"model": "rerank-v3.5", "query": "q", "documents": ["d"]}
    with httpx.Client(base_url=reference_server.url, timeout=30.0) as anonymous:
        missing = anonymous.post("/v2/rerank", json=body)
        wrong = anonymous.post(
            "/v2/rerank", json=body, headers={"Authorization": "Bearer wrong-key"}
        )
        health = anonymous.get("/health")
        ready = anonymous.get("/ready")
    assert missing.status_code == wrong.status_code == ready.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "message" in missing.json() and "wrong-key" not in wrong.text
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    with (
        cohere.ClientV2(api_key="wrong-key", base_url=reference_server.url) as client,
        pytest.raises(cohere.UnauthorizedError),
    ):
        client.rerank(model="rerank-v3.5", query="q", documents=["d"])


# --- Cohere v2 ---------------------------------------------------------------------


def test_cohere_v2_rerank_top_n_matches_the_library(
    cohere_v2: cohere.ClientV2, library: Library, scifact: SciFact
) -> None:
    response = cohere_v2.rerank(
        model="rerank-v3.5", query=scifact.query, documents=scifact.texts, top_n=3
    )
    got = [(r.index, r.relevance_score) for r in response.results]
    assert_same_ranking(got, library.rank(scifact.query, scifact.texts, top_n=3))
    assert response.id
    assert response.meta is not None and response.meta.api_version is not None
    assert response.meta.api_version.version == "2"
    assert response.meta.billed_units is not None
    assert response.meta.billed_units.search_units == 1


def test_cohere_v2_rerank_accepts_the_sdks_explicit_nulls(
    reference_server: ServerProcess, library: Library, scifact: SciFact
) -> None:
    sent: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> None:
        sent.append(json.loads(request.content))

    transport = httpx.Client(timeout=120.0, event_hooks={"request": [record]})
    with cohere.ClientV2(
        api_key=API_KEY, base_url=reference_server.url, httpx_client=transport
    ) as client:
        response = client.rerank(
            model="rerank-v3.5",
            query=scifact.query,
            documents=scifact.texts,
            top_n=None,
            max_tokens_per_doc=None,
            priority=None,
        )
    nulls = {key: sent[0][key] for key in ("top_n", "max_tokens_per_doc", "priority")}
    assert nulls == {"top_n": None, "max_tokens_per_doc": None, "priority": None}
    got = [(r.index, r.relevance_score) for r in response.results]
    assert len(got) == CANDIDATES
    assert_same_ranking(got, library.rank(scifact.query, scifact.texts))


def test_cohere_v2_rerank_bills_one_search_unit_per_100_documents(
    cohere_v2: cohere.ClientV2, library: Library, scifact: SciFact
) -> None:
    # Titles keep 150 real SciFact documents cheap to score.
    titles = [row["title"] for row in scifact.corpus[:150]]
    response = cohere_v2.rerank(model="rerank-english-v3.0", query=scifact.query, documents=titles)
    assert response.meta is not None and response.meta.billed_units is not None
    assert response.meta.billed_units.search_units == math.ceil(150 / 100) == 2
    got = [(r.index, r.relevance_score) for r in response.results]
    assert_same_ranking(got, library.rank(scifact.query, titles))


def test_request_id_header_is_echoed_and_is_the_v2_id(http: httpx.Client, scifact: SciFact) -> None:
    body = {"model": "rerank-v3.5", "query": scifact.query, "documents": scifact.texts[:2]}
    response = http.post("/v2/rerank", json=body, headers={"X-Request-Id": "my-id-123"})
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "my-id-123"
    assert response.json()["id"] == "my-id-123"


# --- Cohere v1 ---------------------------------------------------------------------


def test_cohere_v1_rerank_returns_documents_as_sent(
    cohere_v1: cohere.Client, http: httpx.Client, library: Library, scifact: SciFact
) -> None:
    documents = [
        {"text": row["text"], "doc_id": row["_id"], "year": 2011} for row in scifact.candidates
    ]
    response = cohere_v1.rerank(
        model="rerank-v3.5", query=scifact.query, documents=documents, return_documents=True
    )
    got = [(r.index, r.relevance_score) for r in response.results]
    assert_same_ranking(got, library.rank(scifact.query, scifact.texts))
    for result in response.results:
        assert result.document is not None
        assert result.document.text == documents[result.index]["text"]
        assert result.document.model_dump() == documents[result.index]
    raw = http.post(
        "/v1/rerank",
        json={"query": scifact.query, "documents": documents, "return_documents": True},
    ).json()
    assert [r["document"] for r in raw["results"]] == [documents[i] for i, _ in got]


def test_cohere_v1_rerank_scores_rank_fields_as_key_value_lines(
    cohere_v1: cohere.Client, library: Library, scifact: SciFact
) -> None:
    documents = [
        {"doc_id": row["_id"], "text": row["text"], "title": row["title"], "n": 7}
        for row in scifact.candidates[:10]
    ]
    rendered = [f"title: {d['title']}\ntext: {d['text']}" for d in documents]
    response = cohere_v1.rerank(
        model="rerank-multilingual-v3.0",
        query=scifact.query,
        documents=documents,
        rank_fields=["title", "text"],
        return_documents=True,
    )
    got = [(r.index, r.relevance_score) for r in response.results]
    assert_same_ranking(got, library.rank(scifact.query, rendered))
    for result in response.results:
        assert result.document is not None
        assert result.document.model_dump() == documents[result.index]


def test_v1_rerank_without_return_documents_has_no_document_key(
    http: httpx.Client, library: Library, scifact: SciFact
) -> None:
    for return_documents in (False, None):
        body: dict[str, Any] = {"query": scifact.query, "documents": scifact.texts}
        if return_documents is not None:
            body["return_documents"] = return_documents
        response = http.post("/v1/rerank", json=body)
        assert response.status_code == 200, response.text
        payload = response.json()
        assert all(set(result) == {"index", "relevance_score"} for result in payload["results"])
        got = [(r["index"], r["relevance_score"]) for r in payload["results"]]
        assert_same_ranking(got, library.rank(scifact.query, scifact.texts))
        assert payload["model"] == REFERENCE_MODEL
        assert isinstance(payload["usage"]["total_tokens"], int)
        # v1 scores up to 10 windows of a long abstract (max_chunks_per_doc's default)
        windows = 10 * CANDIDATES
        assert CANDIDATES < payload["usage"]["total_tokens"] <= windows * CONTEXT_LENGTH
        assert payload["meta"] == {
            "api_version": {"version": "1"},
            "billed_units": {"search_units": 1},
        }


# --- framework integrations --------------------------------------------------------


def test_langchain_cohere_rerank_compresses_to_the_library_top_3(
    reference_server: ServerProcess, library: Library, scifact: SciFact
) -> None:
    documents = [
        Document(page_content=row["text"], metadata={"doc_id": row["_id"]})
        for row in scifact.candidates
    ]
    compressor = LangChainCohereRerank(
        base_url=reference_server.url, cohere_api_key=API_KEY, model="rerank-v3.5", top_n=3
    )
    with compressor.client:
        compressed = compressor.compress_documents(documents, scifact.query)
    index_of = {row["_id"]: index for index, row in enumerate(scifact.candidates)}
    got = [(index_of[d.metadata["doc_id"]], d.metadata["relevance_score"]) for d in compressed]
    assert_same_ranking(got, library.rank(scifact.query, scifact.texts, top_n=3))
    assert [d.page_content for d in compressed] == [scifact.texts[i] for i, _ in got]


def test_llama_index_cohere_rerank_keeps_the_library_top_3(
    reference_server: ServerProcess, library: Library, scifact: SciFact
) -> None:
    nodes = [NodeWithScore(node=TextNode(text=text), score=0.0) for text in scifact.texts]
    postprocessor = LlamaIndexCohereRerank(
        base_url=reference_server.url, api_key=API_KEY, model="rerank-v3.5", top_n=3
    )
    with postprocessor._client:
        kept = postprocessor.postprocess_nodes(nodes, query_str=scifact.query)
    index_of = {text: index for index, text in enumerate(scifact.texts)}
    got: Ranking = []
    for node in kept:
        assert node.score is not None
        got.append((index_of[node.node.get_content()], node.score))
    assert_same_ranking(got, library.rank(scifact.query, scifact.texts, top_n=3))


# --- text-embeddings-inference -----------------------------------------------------


def test_tei_rerank_returns_a_bare_array_best_first_with_text(
    http: httpx.Client, library: Library, scifact: SciFact
) -> None:
    body = {"query": scifact.query, "texts": scifact.texts, "return_text": True}
    response = http.post("/rerank", json=body)
    assert response.status_code == 200, response.text
    results = response.json()
    assert isinstance(results, list) and len(results) == CANDIDATES
    assert all(set(r) == {"index", "score", "text"} for r in results)
    assert [r["text"] for r in results] == [scifact.texts[r["index"]] for r in results]
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    got = [(r["index"], r["score"]) for r in results]
    assert_same_ranking(got, library.rank(scifact.query, scifact.texts, truncated=True))

    plain = http.post("/rerank", json={"query": scifact.query, "texts": scifact.texts[:3]})
    assert plain.status_code == 200, plain.text
    assert all(set(r) == {"index", "score"} for r in plain.json())


def test_tei_rerank_raw_scores_are_the_library_logits(
    http: httpx.Client, library: Library, scifact: SciFact
) -> None:
    body = {"query": scifact.query, "texts": scifact.texts, "raw_scores": True}
    response = http.post("/rerank", json=body)
    assert response.status_code == 200, response.text
    results = response.json()
    logits = library.raw_scores(scifact.query, scifact.texts)
    assert [r["index"] for r in results] == [
        i for i, _ in library.rank(scifact.query, scifact.texts, truncated=True)
    ]
    assert [r["score"] for r in results] == pytest.approx(
        [logits[r["index"]] for r in results], abs=SCORE_TOLERANCE
    )
    assert any(r["score"] < 0 or r["score"] > 1 for r in results), "raw scores are logits"


# --- operations --------------------------------------------------------------------


def test_models_lists_the_reference_model_with_aliases(http: httpx.Client) -> None:
    response = http.get("/v1/models")
    assert response.status_code == 200, response.text
    (card,) = response.json()["models"]
    assert card["name"] == REFERENCE_MODEL and card["default"] is True
    assert card["context_length"] == CONTEXT_LENGTH
    assert set(COHERE_ALIASES) <= set(card["aliases"])
    assert {"rerank-v4.0-fast", "rerank-v4.0-pro"} <= set(card["aliases"])
    assert card["endpoints"] == ["rerank"]
    assert (card["backend"], card["precision"], card["device"]) == ("onnx", "fp32", "cpu")


# --- disconnect cancellation (last: it leaves the server briefly busy if it fails) -


@dataclass(frozen=True)
class Abandoned:
    """What happened after a client gave up on a long request.

    Attributes:
        follow_up: the answer to a small request sent right after; ``None`` when it
            did not come within ``FREED_WITHIN_S``.
        follow_up_s: how long the small request took.
    """

    follow_up: httpx.Response | None
    follow_up_s: float


def disconnects_counted(counted: dict[tuple[str, str], float]) -> float:
    """Requests answered 499 (client went away), on any route."""
    return sum(n for (_, status), n in counted.items() if status == "499")


@pytest.fixture(scope="module")
def abandoned(reference_server: ServerProcess, scifact: SciFact) -> Abandoned:
    """Send minutes of work, give up after 1 s, then time a small request."""
    documents = [row["text"] for row in scifact.corpus[:ABANDONED_DOCUMENTS]]
    big = {"model": "rerank-v3.5", "query": scifact.query, "documents": documents}
    impatient = httpx.Timeout(60.0, read=GIVE_UP_AFTER_S)
    with httpx.Client(base_url=reference_server.url, headers=AUTH, timeout=impatient) as client:
        try:
            response = client.post("/v2/rerank", json=big)
        except httpx.ReadTimeout:
            pass  # the client closed the connection: the server sees a disconnect
        else:
            pytest.fail(
                f"the server answered {ABANDONED_DOCUMENTS} documents within "
                f"{GIVE_UP_AFTER_S} s ({response.status_code}); nothing left to cancel"
            )
    small = {"model": "rerank-v3.5", "query": scifact.query, "documents": documents[:3]}
    bounded = httpx.Timeout(FREED_WITHIN_S)
    with httpx.Client(base_url=reference_server.url, headers=AUTH, timeout=bounded) as client:
        started = time.monotonic()
        try:
            follow_up: httpx.Response | None = client.post("/v2/rerank", json=small)
        except httpx.ReadTimeout:
            follow_up = None
        return Abandoned(follow_up, time.monotonic() - started)


def test_server_disconnect_cancels_the_work_and_frees_the_model(
    abandoned: Abandoned, http: httpx.Client
) -> None:
    assert abandoned.follow_up is not None, (
        f"a 3-document request got no answer within {FREED_WITHIN_S} s after a client "
        f"abandoned {ABANDONED_DOCUMENTS} documents: the abandoned work kept the model busy"
    )
    assert abandoned.follow_up.status_code == 200, abandoned.follow_up.text
    assert len(abandoned.follow_up.json()["results"]) == 3
    assert abandoned.follow_up_s < FREED_WITHIN_S
    counted = wait_for_metrics(http, lambda c: disconnects_counted(c) >= 1)
    assert disconnects_counted(counted) >= 1, counted


def test_metrics_count_the_disconnect_as_499_on_the_v2_route(
    abandoned: Abandoned, http: httpx.Client
) -> None:
    counted = wait_for_metrics(http, lambda c: c.get(("/v2/rerank", "499"), 0) >= 1)
    assert counted.get(("/v2/rerank", "499"), 0) >= 1, counted
