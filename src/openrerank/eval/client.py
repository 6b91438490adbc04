"""The HTTP rerank client: the request a rerank server is sent and how its answer is read.

One place builds a Cohere-shaped rerank body (``/v2/rerank``, or ``/v1/rerank`` when
``max_chunks_per_doc`` is set, since only v1 has that field), reads an answer into a
ranking or into scores in the documents' input order, and reads ``Retry-After``. The
callers bring their own ``httpx`` client, blocking (`openrerank.eval.scorers.RemoteScorer`)
or asynchronous (the bench tools in `openrerank.bench`), so nothing here sends or waits.

Example:
    >>> path, body = rerank_request("rerank-v3.5", "q", ["a", "b"], max_chunks_per_doc=1)
    >>> path, body["max_chunks_per_doc"]
    ('/v1/rerank', 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import httpx

RERANK_V2 = "/v2/rerank"
RERANK_V1 = "/v1/rerank"

Ranking = list[tuple[int, float]]
"""Candidate index and score, best first."""


class RemoteError(RuntimeError):
    """A server refused or failed a rerank request; the message says which and why."""


def rerank_request(
    model: str,
    query: str,
    documents: Sequence[str],
    *,
    max_chunks_per_doc: int | None = None,
    extra: Mapping[str, object] | None = None,
) -> tuple[str, dict[str, object]]:
    """The path and JSON body of one rerank request.

    Args:
        model: the ``model`` field.
        query: the query.
        documents: the documents, in the order their indexes refer to.
        max_chunks_per_doc: when set, the request goes to v1 ``/v1/rerank`` with it.
        extra: further fields for servers that take them (e.g. infinity's ``raw_scores``).
    """
    body: dict[str, object] = {"model": model, "query": query, "documents": list(documents)}
    body.update(extra or {})
    if max_chunks_per_doc is None:
        return RERANK_V2, body
    body["max_chunks_per_doc"] = max_chunks_per_doc
    return RERANK_V1, body


def read_ranking(response: httpx.Response, where: str) -> Ranking:
    """The answer's ``results`` as (index, relevance_score), in the order the server gave.

    Raises:
        RemoteError: the answer is not 200 (its message included), or has no results.
    """
    if response.status_code != httpx.codes.OK:
        raise RemoteError(f"{where}: HTTP {response.status_code}: {_message(response)}")
    try:
        results = response.json()["results"]
        return [(int(r["index"]), float(r["relevance_score"])) for r in results]
    except (ValueError, KeyError, TypeError) as exc:
        raise RemoteError(f"{where}: malformed answer: {response.text[:200]}") from exc


def scores_in_input_order(ranking: Ranking, count: int) -> list[float]:
    """A best-first ranking of ``count`` documents as one score per document, input order.

    Raises:
        RemoteError: the ranking misses, repeats or invents a document index.
    """
    if len(ranking) != count:
        raise RemoteError(f"{len(ranking)} results for {count} documents")
    scores: list[float | None] = [None] * count
    for index, score in ranking:
        if not 0 <= index < count:
            raise RemoteError(f"a result with a bad index: {index}")
        scores[index] = score
    if any(s is None for s in scores):
        raise RemoteError("a document index was repeated")
    return [float(s) for s in scores if s is not None]


def retry_after_s(value: str | None, default_s: float = 1.0) -> float:
    """A ``Retry-After`` header in seconds; ``default_s`` when absent or not a number
    (an HTTP date is not parsed)."""
    try:
        seconds = float(value) if value is not None else default_s
    except ValueError:
        return default_s
    return seconds if math.isfinite(seconds) and seconds >= 0 else default_s


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text[:200]
