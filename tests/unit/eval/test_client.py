"""The HTTP rerank client's request and answer handling, on hand-built ``httpx`` answers."""

from __future__ import annotations

import httpx
import pytest

from openrerank.eval.client import (
    RERANK_V1,
    RERANK_V2,
    RemoteError,
    read_ranking,
    rerank_request,
    retry_after_s,
    scores_in_input_order,
)


def answer(status: int = 200, **body: object) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_rerank_request_is_v2_unless_chunks_are_asked_for() -> None:
    path, body = rerank_request("m", "q", ("a", "b"))
    assert (path, body) == (RERANK_V2, {"model": "m", "query": "q", "documents": ["a", "b"]})
    path, body = rerank_request("m", "q", ["a"], max_chunks_per_doc=2)
    assert path == RERANK_V1 and body["max_chunks_per_doc"] == 2


def test_rerank_request_adds_the_servers_own_fields() -> None:
    _, body = rerank_request("m", "q", ["a"], extra={"raw_scores": False})
    assert body == {"model": "m", "query": "q", "documents": ["a"], "raw_scores": False}


def test_read_ranking_keeps_the_servers_order() -> None:
    results = [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.2}]
    assert read_ranking(answer(results=results), "here") == [(1, 0.9), (0, 0.2)]


def test_read_ranking_names_the_status_and_the_servers_message() -> None:
    with pytest.raises(RemoteError, match="here: HTTP 429: busy"):
        read_ranking(answer(429, message="busy"), "here")
    with pytest.raises(RemoteError, match="here: HTTP 502: <html>"):
        read_ranking(httpx.Response(502, text="<html>"), "here")


def test_read_ranking_refuses_an_answer_without_results() -> None:
    with pytest.raises(RemoteError, match="malformed answer"):
        read_ranking(answer(data=[]), "here")


def test_scores_in_input_order_undoes_the_ranking() -> None:
    assert scores_in_input_order([(2, 0.9), (0, 0.5), (1, 0.1)], 3) == [0.5, 0.1, 0.9]


@pytest.mark.parametrize(
    ("ranking", "message"),
    [
        ([(0, 0.5)], "1 results for 2 documents"),
        ([(0, 0.5), (2, 0.1)], "bad index: 2"),
        ([(0, 0.5), (0, 0.1)], "repeated"),
    ],
)
def test_scores_in_input_order_refuses_a_ranking_that_does_not_fit(
    ranking: list[tuple[int, float]], message: str
) -> None:
    with pytest.raises(RemoteError, match=message):
        scores_in_input_order(ranking, 2)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), ("0.5", 0.5), (None, 1.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 1.0), ("-2", 1.0),
     ("nan", 1.0)],
)  # fmt: skip
def test_retry_after_s_reads_seconds_and_falls_back_to_the_default(
    header: str | None, seconds: float
) -> None:
    assert retry_after_s(header) == seconds
