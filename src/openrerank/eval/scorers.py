"""What `openrerank eval` ranks candidates with: the library, or a running server.

A `Scorer` turns one query and its candidate texts into a ranking (candidate index and
score, best first). `LibraryScorer` ranks by the model's raw score (the aggregated logit,
which is also what calibration fits); `RemoteScorer` keeps the order a server returns
from ``POST /v2/rerank`` with its ``relevance_score``, so a deployment is evaluated
exactly as its clients see it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol, Unpack

import httpx
import numpy as np

from openrerank.sync import Reranker
from openrerank.types import DocumentOptions

Ranking = list[tuple[int, float]]
"""Candidate index and score, best first."""

_RETRIES = 5


class RemoteError(RuntimeError):
    """A server refused or failed a rerank request; the message says which and why."""


class Scorer(Protocol):
    """Ranks one query's candidates."""

    @property
    def description(self) -> str:
        """What ranks, for reports (model and where it runs)."""
        ...

    def rank(self, query: str, texts: Sequence[str]) -> Ranking:
        """The candidates best first, with the score they were ranked by."""
        ...


class LibraryScorer:
    """Ranks with an in-process `Reranker` by raw score (ties keep candidate order).

    Args:
        reranker: an open reranker.
        **options: document options for every request (e.g. ``max_chunks_per_doc=1``).
    """

    def __init__(self, reranker: Reranker, **options: Unpack[DocumentOptions]) -> None:
        self._reranker = reranker
        self._options = options

    @property
    def description(self) -> str:
        info = self._reranker.info
        return f"{info.name} ({info.backend} {info.precision} {info.device}, library)"

    def rank(self, query: str, texts: Sequence[str]) -> Ranking:
        raw = self._reranker.score(query, texts, raw=True, **self._options)
        order = np.argsort(-raw, kind="stable")
        return [(int(i), float(raw[i])) for i in order]


class RemoteScorer:
    """Ranks through a running openrerank (or any Cohere-v2-compatible) server.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:8000``.
        model: the ``model`` field sent with each request.
        api_key: a bearer key, when the server requires one.
        timeout_s: seconds to wait for one response.
        max_chunks_per_doc: sent through v1 ``/v1/rerank`` when set (v2 has no such field).
        transport: the HTTP transport; ``None`` = the network (tests pass an
            ``httpx.MockTransport``).
    """

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_chunks_per_doc: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )
        self._url, self._model, self._chunks = url, model, max_chunks_per_doc

    @property
    def description(self) -> str:
        return f"{self._model} at {self._url}"

    def rank(self, query: str, texts: Sequence[str]) -> Ranking:
        body: dict[str, Any] = {"model": self._model, "query": query, "documents": list(texts)}
        path = "/v2/rerank"
        if self._chunks is not None:
            path, body["max_chunks_per_doc"] = "/v1/rerank", self._chunks
        results = self._post(path, body)["results"]
        return [(int(r["index"]), float(r["relevance_score"])) for r in results]

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST, waiting out 429/503 answers as their ``Retry-After`` asks."""
        for attempt in range(_RETRIES + 1):
            try:
                response = self._client.post(path, json=body)
            except httpx.HTTPError as exc:
                raise RemoteError(f"{self._url}{path}: {exc}") from exc
            retry = response.status_code in (429, 503) and attempt < _RETRIES
            if not retry:
                break
            time.sleep(_retry_after(response))
        if response.status_code != 200:
            raise RemoteError(
                f"{self._url}{path}: HTTP {response.status_code}: {_message(response)}"
            )
        data: dict[str, Any] = response.json()
        return data


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.05), 30.0)
    except ValueError:
        return 1.0


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text[:200]
