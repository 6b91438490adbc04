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
from typing import Protocol, Unpack

import httpx
import numpy as np

from openrerank.eval.client import Ranking, RemoteError, read_ranking, rerank_request, retry_after_s
from openrerank.sync import Reranker
from openrerank.types import DocumentOptions

__all__ = ["LibraryScorer", "Ranking", "RemoteError", "RemoteScorer", "Scorer"]

_RETRIES = 5


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
        path, body = rerank_request(self._model, query, texts, max_chunks_per_doc=self._chunks)
        return read_ranking(self._post(path, body), f"{self._url}{path}")

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _post(self, path: str, body: dict[str, object]) -> httpx.Response:
        """POST, waiting out 429/503 answers as their ``Retry-After`` asks."""
        for attempt in range(_RETRIES + 1):
            try:
                response = self._client.post(path, json=body)
            except httpx.HTTPError as exc:
                raise RemoteError(f"{self._url}{path}: {exc}") from exc
            if response.status_code not in (429, 503) or attempt == _RETRIES:
                break
            time.sleep(_pause_s(response))
        return response


def _pause_s(response: httpx.Response) -> float:
    """The answer's ``Retry-After``, kept within 0.05-30 s."""
    return min(max(retry_after_s(response.headers.get("Retry-After")), 0.05), 30.0)
