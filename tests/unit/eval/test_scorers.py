"""Tests for openrerank.eval.scorers: the library scorer on the tiny model (fake backend),
the remote scorer against an in-process ``httpx.MockTransport`` server."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openrerank.eval.scorers import LibraryScorer, RemoteError, RemoteScorer
from openrerank.sync import Reranker

QUERY = "vitamin deficiency and the risk of bone fractures"
DOCUMENTS = [
    "The museum opened a new exhibition about ancient art.",
    "Vitamin D deficiency is associated with a higher risk of bone fractures.",
    "The museum opened a new exhibition about ancient art.",
    "Bone fractures in older adults.",
    "Water boils at one hundred degrees.",
]
# The first window of this document shares nothing with the query; a later one does.
LONG_DOCUMENT = "the train to the city leaves from the central station " * 12 + QUERY

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(scope="module")
def reranker(tiny_model_dir: Path) -> Iterator[Reranker]:
    with Reranker(str(tiny_model_dir), backend="fake") as opened:
        yield opened


def best_first(raw: list[float]) -> list[int]:
    """Indices by descending score; equal scores keep their input order."""
    return sorted(range(len(raw)), key=lambda i: (-raw[i], i))


def test_library_scorer_ranks_by_raw_score_keeping_ties_in_input_order(
    reranker: Reranker,
) -> None:
    raw = reranker.score(QUERY, DOCUMENTS, raw=True).tolist()
    assert raw[0] == raw[2], "identical documents must tie"
    ranking = LibraryScorer(reranker).rank(QUERY, DOCUMENTS)
    assert [i for i, _ in ranking] == best_first(raw)
    assert [score for _, score in ranking] == [raw[i] for i in best_first(raw)]
    assert ranking.index((0, raw[0])) < ranking.index((2, raw[2]))


def test_library_scorer_passes_its_document_options(reranker: Reranker) -> None:
    documents = [LONG_DOCUMENT, *DOCUMENTS]
    truncated = reranker.score(QUERY, documents, raw=True, max_chunks_per_doc=1).tolist()
    windows = reranker.score(QUERY, documents, raw=True).tolist()
    assert truncated[0] < windows[0], "the long document's best window is not its first"
    ranking = LibraryScorer(reranker, max_chunks_per_doc=1).rank(QUERY, documents)
    assert ranking == [(i, truncated[i]) for i in best_first(truncated)]


def test_library_scorer_describes_the_model_and_says_library(reranker: Reranker) -> None:
    description = LibraryScorer(reranker).description
    assert reranker.info.name in description
    assert "fake" in description and description.endswith("library)")


class Server:
    """Answers rerank requests in turn from ``answers`` and keeps every request."""

    def __init__(self, *answers: Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)(request)

    def body(self, n: int = 0) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.requests[n].content)
        return data


def results(*pairs: tuple[int, float]) -> Handler:
    body = {"id": "x", "results": [{"index": i, "relevance_score": s} for i, s in pairs]}
    return lambda request: httpx.Response(200, json=body)


def status(code: int, **headers: str) -> Handler:
    return lambda request: httpx.Response(code, headers=headers, json={"message": "busy"})


def scorer_for(server: Server, url: str = "http://reranker.test", **options: Any) -> RemoteScorer:
    return RemoteScorer(url, "my-model", transport=httpx.MockTransport(server), **options)


def test_remote_scorer_posts_a_v2_request_and_keeps_the_servers_order() -> None:
    server = Server(results((2, 0.9), (0, 0.4), (1, 0.1)))
    scorer = scorer_for(server, url="http://reranker.test/api/")
    ranking = scorer.rank("a query", ["zero", "one", "two"])
    assert ranking == [(2, 0.9), (0, 0.4), (1, 0.1)]
    request = server.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "http://reranker.test/api/v2/rerank"
    assert server.body() == {
        "model": "my-model",
        "query": "a query",
        "documents": ["zero", "one", "two"],
    }
    assert "authorization" not in request.headers
    assert scorer.description == "my-model at http://reranker.test/api/"
    scorer.close()


def test_remote_scorer_uses_v1_for_max_chunks_per_doc() -> None:
    server = Server(results((0, 0.5)))
    scorer_for(server, max_chunks_per_doc=1).rank("q", ["only"])
    assert server.requests[0].url.path == "/v1/rerank"
    assert server.body() == {
        "model": "my-model",
        "query": "q",
        "documents": ["only"],
        "max_chunks_per_doc": 1,
    }


def test_remote_scorer_sends_the_api_key_as_a_bearer_token() -> None:
    server = Server(results((0, 0.5)))
    scorer_for(server, api_key="s3cret").rank("q", ["only"])
    assert server.requests[0].headers["authorization"] == "Bearer s3cret"


@pytest.mark.parametrize("code", [429, 503])
def test_remote_scorer_waits_out_an_overloaded_server(code: int) -> None:
    server = Server(status(code, **{"Retry-After": "0"}), results((1, 0.8), (0, 0.2)))
    assert scorer_for(server).rank("q", ["a", "b"]) == [(1, 0.8), (0, 0.2)]
    assert len(server.requests) == 2
    assert server.body(1) == server.body(0)


def test_remote_scorer_gives_up_when_the_server_stays_overloaded() -> None:
    server = Server(*[status(429, **{"Retry-After": "0"})] * 20)
    with pytest.raises(RemoteError, match=r"http://reranker.test/v2/rerank: HTTP 429: busy"):
        scorer_for(server).rank("q", ["a"])
    assert 1 < len(server.requests) < 20


def test_remote_scorer_reports_the_servers_message_on_a_client_error() -> None:
    message = "documents: at most 1000 documents per request"
    server = Server(lambda request: httpx.Response(400, json={"message": message}))
    with pytest.raises(RemoteError, match=f"HTTP 400: {message}"):
        scorer_for(server).rank("q", ["a"])
    assert len(server.requests) == 1, "a client error is not retried"


def test_remote_scorer_reports_a_body_that_is_not_json() -> None:
    server = Server(lambda request: httpx.Response(502, text="<html>Bad Gateway</html>"))
    with pytest.raises(RemoteError, match="HTTP 502: <html>Bad Gateway</html>"):
        scorer_for(server).rank("q", ["a"])


def test_remote_scorer_turns_a_connection_failure_into_remote_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    server = Server(refuse)
    expected = re.escape("http://reranker.test/v2/rerank: connection refused")
    with pytest.raises(RemoteError, match=expected) as info:
        scorer_for(server).rank("q", ["a"])
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(server.requests) == 1
