"""Third-party clients, unchanged, against a real ``openrerank serve``.

LiteLLM (its ``cohere/``, ``huggingface/``, ``hosted_vllm/``, ``infinity/`` and
``jina_ai/`` providers), AnswerDotAI's ``rerankers`` (Cohere and TEI providers),
cohere-haystack's ``CohereRanker``, cohere-python 5.11 (the v2 parameters of its day) and
the npm ``cohere-ai`` client each run in their own environment (``make test`` builds
them, pinned) and call the server as their users do; every score must equal the in-process
library's on the same input. Cohere-style routes score a document as its best window,
TEI's route as its first window (``max_chunks_per_doc=1``). One server (the
session's ``reference_server``) answers ``/rerank`` as vLLM does, a second as infinity
does (``--rerank-compat infinity``): the two servers' clients read ``document`` in
different shapes from the same body.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import REFERENCE_MODEL
from e2e.client_scripts import configured, run_script
from e2e.conftest import StartReferenceServer
from e2e.scifact_oracle import Library, Ranking, SciFact, assert_same_ranking
from e2e.server_process import REFERENCE_API_KEY, ServerProcess
from openrerank import EngineConfig, ModelConfig, Reranker

API_KEY = REFERENCE_API_KEY
TOP_N = 5
COHERE_NAME = "rerank-v3.5"  # an alias of the default model, as Cohere clients send
VERSIONS = {"litellm": "1.110.2", "rerankers": "0.10.0", "cohere-haystack": "11.0.0"}
COHERE_511 = "5.11."
NPM_COHERE = "8.1.0"
RANK_FIELDS = ["title", "text"]

Answers = dict[str, dict[str, Any]]


# --- servers and oracle -------------------------------------------------------------


@pytest.fixture(scope="module")
def vllm_server(reference_server: ServerProcess) -> ServerProcess:
    """The session's reference server: it answers ``/rerank`` as vLLM does (the default)."""
    return reference_server


@pytest.fixture(scope="module")
def infinity_server(start_reference_server: StartReferenceServer) -> Iterator[ServerProcess]:
    with start_reference_server("--rerank-compat", "infinity") as process:
        yield process


@pytest.fixture(scope="module")
def library(reference_onnx_cache: Path) -> Iterator[Library]:
    config = EngineConfig(model=ModelConfig(name=REFERENCE_MODEL, cache_dir=reference_onnx_cache))
    with Reranker.from_config(config) as reranker:
        yield Library(reranker)


def ranking(results: list[dict[str, Any]], score: str = "score") -> Ranking:
    return [(int(r["index"]), float(r[score])) for r in results]


# --- LiteLLM, rerankers, cohere-haystack: one venv, one run --------------------------


def litellm(model: str, api_base: str, **extra: Any) -> dict[str, Any]:
    return {"client": "litellm", "model": model, "api_base": api_base, **extra}


def python_calls(vllm: ServerProcess, infinity: ServerProcess) -> dict[str, dict[str, Any]]:
    """Each call by name; a model is what a user of that provider writes."""
    top = {"options": {"top_n": TOP_N}}
    return {
        "litellm cohere": litellm(f"cohere/{COHERE_NAME}", vllm.url, **top),
        "litellm cohere async": litellm(
            f"cohere/{COHERE_NAME}", vllm.url, **top, **{"async": True}
        ),
        "litellm cohere unknown model": litellm("cohere/rerank-nonexistent", vllm.url),
        "litellm huggingface": litellm(f"huggingface/{REFERENCE_MODEL}", vllm.url, **top),
        # hosted_vllm/ rewrites an api_base ending in /v1/rerank to /rerank
        "litellm hosted_vllm": litellm(
            f"hosted_vllm/{REFERENCE_MODEL}", f"{vllm.url}/v1/rerank", **top
        ),
        "litellm infinity": litellm(f"infinity/{REFERENCE_MODEL}", infinity.url, **top),
        "litellm jina_ai": litellm(f"jina_ai/{REFERENCE_MODEL}", vllm.url, **top),
        "rerankers cohere": {
            "client": "rerankers",
            "provider": "cohere",
            "url": f"{vllm.url}/v1/rerank",
        },
        "rerankers tei": {
            "client": "rerankers",
            "provider": "text-embeddings-inference",
            "url": f"{vllm.url}/rerank",
        },
        "haystack": {
            "client": "haystack",
            "model": COHERE_NAME,
            "api_base_url": vllm.url,
            "top_k": TOP_N,
        },
    }


# Each client's environment is looked up before any server starts, so that a run without
# it skips at once.


@pytest.fixture(scope="module")
def clients_python() -> str:
    return configured("OPENRERANK_CLIENTS_PYTHON", "LiteLLM, rerankers, cohere-haystack")


@pytest.fixture(scope="module")
def cohere_511_python() -> str:
    return configured("OPENRERANK_COHERE_511_PYTHON", "cohere-python 5.11's python")


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the npm cohere-ai client cannot run here")
    configured("OPENRERANK_NPM_CLIENTS", "the npm cohere-ai client's folder")  # the script reads it
    return node


@pytest.fixture(scope="module")
def python_clients(
    clients_python: str,
    vllm_server: ServerProcess,
    infinity_server: ServerProcess,
    scifact: SciFact,
) -> Answers:
    calls = python_calls(vllm_server, infinity_server)
    common = {"query": scifact.query, "documents": scifact.texts}
    job = {"api_key": API_KEY, "calls": [common | call for call in calls.values()]}
    answer = run_script([clients_python], "python_clients.py", job)
    assert answer["versions"] == VERSIONS
    return dict(zip(calls, answer["answers"], strict=True))


def results_of(answers: Answers, name: str) -> list[dict[str, Any]]:
    answer = answers[name]
    assert "error" not in answer, answer
    results: list[dict[str, Any]] = answer["results"]
    return results


def documents_as_litellm_parses(results: list[dict[str, Any]], texts: list[str]) -> bool:
    """Whether documents came back: then each is ``{"text": ...}`` as LiteLLM parses it,
    whichever shape the wire carried."""
    documents = [r["document"] for r in results]
    if all(document is None for document in documents):
        return False
    assert documents == [{"text": texts[r["index"]]} for r in results]
    return True


# Sync LiteLLM asks for the documents back (return_documents: true), async does not.
LITELLM_DOCUMENT_PROVIDERS = {
    "litellm cohere": True,
    "litellm cohere async": False,
    "litellm hosted_vllm": True,
    "litellm infinity": True,
    "litellm jina_ai": True,
}


@pytest.mark.parametrize(("name", "echoed"), LITELLM_DOCUMENT_PROVIDERS.items())
def test_litellm_cohere_vllm_infinity_and_jina_rank_as_the_library(
    name: str, echoed: bool, python_clients: Answers, library: Library, scifact: SciFact
) -> None:
    results = results_of(python_clients, name)
    expected = library.rank(scifact.query, scifact.texts, top_n=TOP_N)
    assert_same_ranking(ranking(results), expected)
    assert documents_as_litellm_parses(results, scifact.texts) is echoed


def test_litellm_huggingface_ranks_as_the_library_on_the_first_window(
    python_clients: Answers, library: Library, scifact: SciFact
) -> None:
    # TEI's body, with LiteLLM's "truncation_direction": "Right" and raw_scores false
    results = results_of(python_clients, "litellm huggingface")
    expected = library.rank(scifact.query, scifact.texts, top_n=TOP_N, truncated=True)
    assert_same_ranking(ranking(results), expected)
    assert documents_as_litellm_parses(results, scifact.texts)  # TEI's return_text


def test_litellm_maps_an_unknown_model_to_its_not_found_error(python_clients: Answers) -> None:
    error = python_clients["litellm cohere unknown model"]["error"]
    assert error["type"] == "NotFoundError"
    assert "rerank-nonexistent" in error["message"]


def test_rerankers_cohere_and_tei_providers_rank_as_the_library(
    python_clients: Answers, library: Library, scifact: SciFact
) -> None:
    cohere = ranking(results_of(python_clients, "rerankers cohere"))
    tei = ranking(results_of(python_clients, "rerankers tei"))
    assert_same_ranking(cohere, library.rank(scifact.query, scifact.texts))
    assert_same_ranking(tei, library.rank(scifact.query, scifact.texts, truncated=True))


def test_cohere_haystack_ranker_scores_as_the_library(
    python_clients: Answers, library: Library, scifact: SciFact
) -> None:
    results = results_of(python_clients, "haystack")
    expected = library.rank(scifact.query, scifact.texts, top_n=TOP_N)
    assert_same_ranking(ranking(results), expected)
    assert [r["document"] for r in results] == [scifact.texts[i] for i, _ in expected]


# --- cohere-python 5.11: v2 with return_documents, rank_fields, max_chunks_per_doc ------


@pytest.fixture(scope="module")
def cohere_511(
    cohere_511_python: str, vllm_server: ServerProcess, scifact: SciFact
) -> list[dict[str, Any]]:
    records = [{field: row[field] for field in RANK_FIELDS} for row in scifact.candidates]
    plain = {"model": COHERE_NAME, "query": scifact.query, "documents": scifact.texts}
    requests = [
        plain | {"top_n": TOP_N, "return_documents": True},
        plain | {"documents": records, "rank_fields": RANK_FIELDS, "return_documents": True},
        plain | {"max_chunks_per_doc": 1},
    ]
    job = {"base_url": vllm_server.url, "api_key": API_KEY, "requests": requests}
    answer = run_script([cohere_511_python], "cohere_python.py", job)
    assert answer["sdk_version"].startswith(COHERE_511), answer["sdk_version"]
    return list(answer["answers"])


def test_cohere_511_return_documents_on_v2(
    cohere_511: list[dict[str, Any]], library: Library, scifact: SciFact
) -> None:
    results = cohere_511[0]["results"]
    expected = library.rank(scifact.query, scifact.texts, top_n=TOP_N)
    assert_same_ranking(ranking(results, "relevance_score"), expected)
    assert [r["document"] for r in results] == [{"text": scifact.texts[i]} for i, _ in expected]


def test_cohere_511_object_documents_by_rank_fields_on_v2(
    cohere_511: list[dict[str, Any]], library: Library, scifact: SciFact
) -> None:
    results = cohere_511[1]["results"]
    records = [{field: row[field] for field in RANK_FIELDS} for row in scifact.candidates]
    ranked = library.reranker.rank(scifact.query, records, rank_fields=RANK_FIELDS)
    assert_same_ranking(
        ranking(results, "relevance_score"), [(r.index, r.relevance_score) for r in ranked]
    )
    assert [r["document"] for r in results] == [records[r["index"]] for r in results]


def test_cohere_511_max_chunks_per_doc_on_v2(
    cohere_511: list[dict[str, Any]], library: Library, scifact: SciFact
) -> None:
    results = cohere_511[2]["results"]
    expected = library.rank(scifact.query, scifact.texts, truncated=True)
    assert_same_ranking(ranking(results, "relevance_score"), expected)


# --- the npm cohere-ai client --------------------------------------------------------


@pytest.fixture(scope="module")
def npm_cohere(node: str, vllm_server: ServerProcess, scifact: SciFact) -> list[dict[str, Any]]:
    body = {"model": COHERE_NAME, "query": scifact.query, "documents": scifact.texts}
    requests = [
        {"api": "v2", "body": body | {"topN": TOP_N}},
        {"api": "v1", "body": body | {"topN": TOP_N, "returnDocuments": True}},
        {"api": "v2", "body": body | {"model": "rerank-nonexistent"}},
    ]
    job = {"base_url": vllm_server.url, "api_key": API_KEY, "requests": requests}
    answer = run_script([node], "npm_cohere.js", job)
    assert answer["version"] == NPM_COHERE
    return list(answer["answers"])


def test_npm_cohere_ai_v2_and_v1_rank_as_the_library(
    npm_cohere: list[dict[str, Any]], library: Library, scifact: SciFact
) -> None:
    expected = library.rank(scifact.query, scifact.texts, top_n=TOP_N)
    v2, v1 = npm_cohere[0]["ok"]["results"], npm_cohere[1]["ok"]["results"]
    assert_same_ranking(ranking(v2, "relevanceScore"), expected)
    assert_same_ranking(ranking(v1, "relevanceScore"), expected)
    assert [r["document"] for r in v1] == [{"text": scifact.texts[i]} for i, _ in expected]


def test_npm_cohere_ai_raises_its_not_found_error(npm_cohere: list[dict[str, Any]]) -> None:
    error = npm_cohere[2]["error"]
    assert (error["name"], error["status"]) == ("NotFoundError", 404)
    assert "rerank-nonexistent" in error["body"]["message"]
