"""Runs inside the third-party clients' venv (see the Makefile): LiteLLM, AnswerDotAI's
``rerankers`` and cohere-haystack, each used through its public API as its users call it.

Reads a job as JSON on stdin, ``{"api_key": ..., "calls": [{"client": ..., ...}]}``, makes
each call and prints ``{"versions": {...}, "answers": [...]}``: per call, the client's
results in the order it gives them, ``{"index", "score", "document"}`` (``document`` as the
client parsed it, or null), or ``{"error": {"type", "message"}}``. Only the clients are
imported, never openrerank.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from importlib.metadata import version
from typing import Any

Answer = dict[str, Any]


def litellm_call(call: dict[str, Any], api_key: str) -> list[Answer]:
    """``litellm.rerank`` (or ``arerank``) with a provider-prefixed model and ``api_base``."""
    import litellm

    arguments = {
        "model": call["model"],
        "query": call["query"],
        "documents": call["documents"],
        "api_base": call["api_base"],
        "api_key": api_key,
        **call.get("options", {}),
    }
    if call.get("async"):
        response = asyncio.run(litellm.arerank(**arguments))
    else:
        response = litellm.rerank(**arguments)
    return [
        {"index": r["index"], "score": r["relevance_score"], "document": r.get("document")}
        for r in response.results
    ]


def rerankers_call(call: dict[str, Any], api_key: str) -> list[Answer]:
    """``rerankers.Reranker(provider, url=...)``: its API ranker, documents by position."""
    from rerankers import Reranker

    ranker = Reranker(call["provider"], api_key=api_key, url=call["url"], verbose=0)
    ranked = ranker.rank(call["query"], call["documents"])
    return [
        {"index": r.document.doc_id, "score": r.score, "document": r.document.text}
        for r in ranked.results
    ]


def haystack_call(call: dict[str, Any], api_key: str) -> list[Answer]:
    """cohere-haystack's ``CohereRanker`` in a pipeline's place: Documents in, Documents
    (with scores) out; the index is recovered from the distinct contents."""
    from haystack import Document
    from haystack.utils import Secret
    from haystack_integrations.components.rankers.cohere import CohereRanker

    ranker = CohereRanker(
        model=call["model"],
        api_key=Secret.from_token(api_key),
        api_base_url=call["api_base_url"],
        top_k=call["top_k"],
    )
    documents = [Document(content=text) for text in call["documents"]]
    ranked = ranker.run(query=call["query"], documents=documents)["documents"]
    position = {text: index for index, text in enumerate(call["documents"])}
    return [{"index": position[d.content], "score": d.score, "document": d.content} for d in ranked]


CLIENTS = {"litellm": litellm_call, "rerankers": rerankers_call, "haystack": haystack_call}
PACKAGES = ("litellm", "rerankers", "cohere-haystack")


def answer(call: dict[str, Any], api_key: str) -> dict[str, Any]:
    try:
        return {"results": CLIENTS[call["client"]](call, api_key)}
    except Exception as error:  # the test reads the client's own error class
        return {"error": {"type": type(error).__name__, "message": str(error)[:2000]}}


def main() -> None:
    job = json.load(sys.stdin)
    with contextlib.redirect_stdout(sys.stderr):  # rerankers prints; stdout is the answer
        answers = [answer(call, job["api_key"]) for call in job["calls"]]
    versions = {package: version(package) for package in PACKAGES}
    json.dump({"versions": versions, "answers": answers}, sys.stdout)


if __name__ == "__main__":
    main()
