"""Long and structured documents through a real server, the Cohere SDKs and the library.

A long document is built from real SciFact abstracts: unrelated abstracts first, then
an abstract judged relevant to the query (official qrels), so the relevant text lies
past the first model window. The server must score it by its best window (above its
truncated score), agree with ``Reranker.rank`` on the same input, bill every window,
point its relevant spans into the relevant abstract, and read objects, YAML and JSON
records alike. The newest Cohere SDK (``relevant_spans`` argument) runs in its own venv
(``make test`` builds it and sets ``OPENRERANK_COHERE_SDK_PYTHON``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cohere
import httpx
import pytest

from conftest import REFERENCE_MODEL
from e2e.client_scripts import configured, run_script
from e2e.server_process import REFERENCE_API_KEY, ServerProcess
from openrerank import EngineConfig, ModelConfig, Reranker, SpanOptions

# "1/2000 in UK have abnormal PrP positivity.": a query whose judged abstract the small
# reference model tells apart from unrelated abstracts (it misses some other queries).
QUERY_ID = "5"
SCORE_TOLERANCE = 1e-5
FILLERS = 4
PREFIX = "Résumé — 日本語 🙂 notes.\n\n"
SDK_PYTHON_ENV = "OPENRERANK_COHERE_SDK_PYTHON"
AUTH = {"Authorization": f"Bearer {REFERENCE_API_KEY}"}


@dataclass(frozen=True)
class LongDocument:
    """A query, and a document whose relevant abstract starts at ``relevant_start``."""

    query: str
    text: str
    relevant_start: int
    relevant_text: str
    fillers: list[str]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _judged_relevant(folder: Path, query_id: str) -> str:
    with (folder / "qrels" / "test.tsv").open(encoding="utf-8") as qrels:
        for line in qrels:
            judged_query, doc_id, score = line.rstrip("\n").split("\t")
            if judged_query == query_id and score == "1":
                return doc_id
    raise AssertionError(f"query {query_id} has no relevant document in the qrels")


@pytest.fixture(scope="module")
def long_document(scifact_dir: Path) -> LongDocument:
    query_id = QUERY_ID
    relevant_id = _judged_relevant(scifact_dir, query_id)
    queries = {row["_id"]: row["text"] for row in _read_jsonl(scifact_dir / "queries.jsonl")}
    corpus = _read_jsonl(scifact_dir / "corpus.jsonl")
    relevant = next(row["text"] for row in corpus if row["_id"] == relevant_id)
    fillers = [row["text"] for row in corpus[: FILLERS * 3] if row["_id"] != relevant_id]
    head = PREFIX + "\n\n".join(fillers[:FILLERS]) + "\n\n"
    return LongDocument(queries[query_id], head + relevant, len(head), relevant, fillers)


@pytest.fixture(scope="module")
def library(reference_onnx_cache: Path) -> Iterator[Reranker]:
    # The same ONNX file as the server's: the session's one export.
    config = EngineConfig(model=ModelConfig(name=REFERENCE_MODEL, cache_dir=reference_onnx_cache))
    with Reranker.from_config(config) as reranker:
        yield reranker


@pytest.fixture
def http(reference_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=reference_server.url, headers=AUTH, timeout=120.0) as client:
        yield client


def newest_sdk(
    reference_server: ServerProcess, requests: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The answers of ``cohere.ClientV2.rerank`` from the newest SDK's venv."""
    python = configured(SDK_PYTHON_ENV, "the newest Cohere SDK's python")
    job = {"base_url": reference_server.url, "api_key": REFERENCE_API_KEY, "requests": requests}
    answer = run_script([python], "cohere_python.py", job)
    assert answer["sdk_version"].startswith("7."), answer["sdk_version"]
    return list(answer["answers"])


# --- windows ------------------------------------------------------------------------


def test_long_document_is_scored_by_its_best_window(
    http: httpx.Client, library: Reranker, long_document: LongDocument
) -> None:
    documents = [long_document.text, *long_document.fillers[FILLERS:]]
    body = {"model": "rerank-v3.5", "query": long_document.query, "documents": documents}
    response = http.post("/v2/rerank", json=body)
    assert response.status_code == 200, response.text
    served = {r["index"]: r["relevance_score"] for r in response.json()["results"]}
    windows = library.rank(long_document.query, documents)
    truncated = library.score(long_document.query, documents, max_chunks_per_doc=1)
    assert served == pytest.approx({r.index: r.relevance_score for r in windows}, abs=1e-5)
    assert windows[0].index == 0, "the document holding the relevant abstract ranks first"
    assert served[0] > float(truncated[0]) + 0.05, "its relevant abstract lies past window 1"


def test_max_tokens_per_doc_cuts_before_the_windows(
    http: httpx.Client, library: Reranker, long_document: LongDocument
) -> None:
    query, documents = long_document.query, [long_document.text]
    body = {"model": "rerank-v3.5", "query": query, "documents": documents}
    short = http.post("/v2/rerank", json={**body, "max_tokens_per_doc": 64}).json()
    full = http.post("/v2/rerank", json=body).json()
    expected = float(library.score(query, documents, max_tokens_per_doc=64)[0])
    assert short["results"][0]["relevance_score"] == pytest.approx(expected, abs=SCORE_TOLERANCE)
    assert short["results"][0]["relevance_score"] < full["results"][0]["relevance_score"]


def test_v1_max_chunks_per_doc_and_search_units_count_windows(
    reference_server: ServerProcess, library: Reranker, long_document: LongDocument
) -> None:
    query, documents = long_document.query, [long_document.text] * 30
    with cohere.Client(api_key=REFERENCE_API_KEY, base_url=reference_server.url) as client:
        windows = client.rerank(model="rerank-v3.5", query=query, documents=documents, top_n=1)
        one = client.rerank(
            model="rerank-v3.5", query=query, documents=documents, top_n=1, max_chunks_per_doc=1
        )
    truncated = float(library.score(query, documents[:1], max_chunks_per_doc=1)[0])
    assert one.results[0].relevance_score == pytest.approx(truncated, abs=SCORE_TOLERANCE)
    assert windows.results[0].relevance_score > one.results[0].relevance_score
    assert one.meta is not None and windows.meta is not None
    assert one.meta.billed_units is not None and windows.meta.billed_units is not None
    assert one.meta.billed_units.search_units == 1  # 30 documents, one window each
    assert windows.meta.billed_units.search_units >= 2  # 30 documents, several windows each


def test_v1_refuses_documents_times_chunks_over_ten_thousand(http: httpx.Client) -> None:
    body = {"query": "q", "documents": ["d"] * 1001, "max_chunks_per_doc": 10}
    response = http.post("/v1/rerank", json=body)
    assert response.status_code == 400
    assert "max_chunks_per_doc" in response.json()["message"]


# --- relevant spans -----------------------------------------------------------------


def test_relevant_spans_through_the_newest_cohere_sdk(
    reference_server: ServerProcess, long_document: LongDocument
) -> None:
    text = long_document.text
    request = {
        "model": "rerank-v3.5",
        "query": long_document.query,
        "documents": [text, long_document.fillers[FILLERS]],
        "relevant_spans": {"mode": "enabled", "threshold": 0.0, "max_spans": 3},
    }
    plain = {key: value for key, value in request.items() if key != "relevant_spans"}
    with_spans, without = newest_sdk(reference_server, [request, plain])
    assert all("relevant_spans" not in r for r in without["results"])
    first = with_spans["results"][0]
    assert first["index"] == 0
    spans = first["relevant_spans"]
    assert 1 <= len(spans) <= 3
    assert [s["score"] for s in spans] == sorted((s["score"] for s in spans), reverse=True)
    for span in spans:
        assert 0 <= span["start"] < span["end"] <= len(text)
        piece = text[span["start"] : span["end"]]
        assert piece == piece.strip() and piece, "a span is whole words, in code points"
    best = spans[0]
    assert best["start"] >= long_document.relevant_start, "the best span is in the relevant text"
    assert text[best["start"] : best["end"]] in long_document.relevant_text


def test_relevant_spans_threshold_filters_and_library_agrees(
    http: httpx.Client, library: Reranker, long_document: LongDocument
) -> None:
    query, documents = long_document.query, [long_document.text]
    options = {"mode": "enabled", "threshold": 0.0}
    body = {"model": "rerank-v3.5", "query": query, "documents": documents}
    every = http.post("/v2/rerank", json={**body, "relevant_spans": options}).json()
    spans = every["results"][0]["relevant_spans"]
    ours = library.rank(query, documents, relevant_spans=SpanOptions(threshold=0.0))
    assert ours[0].relevant_spans is not None
    assert [(s.start, s.end) for s in ours[0].relevant_spans] == [
        (s["start"], s["end"]) for s in spans
    ]
    cut = sorted(s["score"] for s in spans)[len(spans) // 2]
    high = {**options, "threshold": cut}
    kept = http.post("/v2/rerank", json={**body, "relevant_spans": high}).json()
    assert [s for s in spans if s["score"] >= cut] == kept["results"][0]["relevant_spans"]


# --- structured documents -----------------------------------------------------------


def test_objects_yaml_and_json_records_score_alike(
    http: httpx.Client, long_document: LongDocument
) -> None:
    record = {"title": "Genome variation", "year": 2010, "text": long_document.relevant_text}
    fields = ["title", "year", "text"]
    yaml_text = "title: Genome variation\nyear: 2010\ntext: " + json.dumps(record["text"])
    v1 = http.post(
        "/v1/rerank",
        json={
            "query": long_document.query,
            "documents": [record, "plain text"],
            "rank_fields": fields,
            "return_documents": True,
        },
    ).json()
    assert v1["results"][0]["document"] == record, "the object comes back as sent"
    v2 = http.post(
        "/v2/rerank",
        json={
            "model": "rerank-v3.5",
            "query": long_document.query,
            "documents": [json.dumps(record), yaml_text],
        },
    ).json()
    scores = {r["index"]: r["relevance_score"] for r in v2["results"]}
    object_score = next(r["relevance_score"] for r in v1["results"] if r["index"] == 0)
    assert scores[0] == pytest.approx(object_score, abs=SCORE_TOLERANCE)
    assert scores[1] == pytest.approx(object_score, abs=SCORE_TOLERANCE)


def test_rank_fields_order_decides_what_truncation_drops(
    http: httpx.Client, long_document: LongDocument
) -> None:
    record = {"title": "Genome variation", "text": long_document.relevant_text}
    body = {"query": long_document.query, "documents": [record], "max_chunks_per_doc": 1}
    first = http.post("/v1/rerank", json={**body, "rank_fields": ["title", "text"]}).json()
    last = http.post("/v1/rerank", json={**body, "rank_fields": ["text", "title"]}).json()
    assert first["results"][0]["relevance_score"] != last["results"][0]["relevance_score"]


def test_object_without_text_and_no_rank_fields_is_a_400(http: httpx.Client) -> None:
    response = http.post("/v1/rerank", json={"query": "q", "documents": [{"title": "T"}]})
    assert response.status_code == 400
    assert "documents[0]" in response.json()["message"]
    assert "'text'" in response.json()["message"]
