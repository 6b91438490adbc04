"""An LLM reranker over HTTP: a real ``openrerank serve`` on the tiny qwen3 model of
tests/llm_models.py answers each rerank route with the card's scores
(tests/llm_reference.py), with and without a request's ``instruction``; a cross-encoder
refuses an instruction with a 400.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from e2e.conftest import InProcessApp, rerank_body
from e2e.server_process import ServerProcess, server_env
from e2e.test_server_errors import assert_error
from llm_cases import CUSTOM_INSTRUCTION, DOCUMENTS, MAX_LENGTH, QUERY
from llm_reference import reference_scores

MODEL = "rerank-v3.5"  # by default an alias of the one served model
TOLERANCE = 1e-4
MAX_LENGTH_QWEN3 = MAX_LENGTH["qwen3"]


@pytest.fixture(scope="module")
def qwen3_dir(llm_model_factory: Callable[..., Path]) -> Path:
    return llm_model_factory("qwen3")


@pytest.fixture(scope="module")
def qwen3_server(qwen3_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of ``openrerank serve`` on the tiny qwen3 model, torch, the card's window,
    long documents scored by their first window (the card's truncation)."""
    folder = tmp_path_factory.mktemp("llm-server")
    env = server_env(hf_cache=os.environ["HF_HUB_CACHE"], openrerank_cache=folder / "cache")
    args = [
        "--model",
        str(qwen3_dir),
        "--backend",
        "torch",
        "--max-length",
        str(MAX_LENGTH_QWEN3),
        "--aggregation",
        "first",
    ]
    with ServerProcess(args, env=env, log_path=folder / "serve.log") as process:
        process.wait_ready()
        yield process.url


def post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(url + path, json=body, timeout=60.0)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def scores_by_index(answer: dict[str, Any]) -> list[float]:
    by_index = {r["index"]: r["relevance_score"] for r in answer["results"]}
    assert sorted(by_index) == list(range(len(DOCUMENTS)))
    return [by_index[i] for i in range(len(DOCUMENTS))]


def card_scores(folder: Path, instruction: str | None) -> list[float]:
    return reference_scores(
        folder,
        "qwen3",
        QUERY,
        DOCUMENTS,
        instruction=instruction,
        max_length=MAX_LENGTH_QWEN3,
    )


def assert_close(got: list[float], expected: list[float]) -> None:
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= TOLERANCE, (
        got,
        expected,
    )


@pytest.mark.parametrize("instruction", [None, CUSTOM_INSTRUCTION], ids=["default", "custom"])
def test_v2_rerank_scores_are_the_card_s(
    qwen3_server: str, qwen3_dir: Path, instruction: str | None
) -> None:
    body: dict[str, Any] = {"model": MODEL, "query": QUERY, "documents": list(DOCUMENTS)}
    if instruction is not None:
        body["instruction"] = instruction
    answer = post(qwen3_server, "/v2/rerank", body)
    expected = card_scores(qwen3_dir, instruction)
    assert_close(scores_by_index(answer), expected)
    ranked = [r["relevance_score"] for r in answer["results"]]
    assert ranked == sorted(ranked, reverse=True)


def test_an_instruction_changes_the_scores(qwen3_server: str) -> None:
    body = {"model": MODEL, "query": QUERY, "documents": list(DOCUMENTS)}
    plain = scores_by_index(post(qwen3_server, "/v2/rerank", body))
    instructed = scores_by_index(
        post(qwen3_server, "/v2/rerank", {**body, "instruction": CUSTOM_INSTRUCTION})
    )
    assert max(abs(a - b) for a, b in zip(plain, instructed, strict=True)) > 1e-3


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank"])
def test_v1_and_the_shared_path_take_an_instruction(
    qwen3_server: str, qwen3_dir: Path, path: str
) -> None:
    """Cohere v1's body, and the vLLM/Jina body on ``/rerank`` (vLLM's ``instruction``)."""
    body = {
        "model": MODEL,
        "query": QUERY,
        "documents": list(DOCUMENTS),
        "instruction": CUSTOM_INSTRUCTION,
    }
    answer = post(qwen3_server, path, body)
    assert_close(scores_by_index(answer), card_scores(qwen3_dir, CUSTOM_INSTRUCTION))


def test_a_cross_encoder_answers_an_instruction_with_a_400(in_process_app: InProcessApp) -> None:
    for path, body in (
        ("/v2/rerank", rerank_body(instruction="x")),
        ("/v1/rerank", {"query": QUERY, "documents": ["a", "b"], "instruction": "x"}),
        ("/rerank", {"query": QUERY, "documents": ["a", "b"], "instruction": "x"}),
    ):
        response = in_process_app.client.post(path, json=body)
        assert_error(response, 400, "takes no instruction")
    in_process_app.assert_still_serves()
