"""Runs inside a Cohere SDK's own venv (see the Makefile: the newest SDK, and 5.11 with the
v2 parameters of its day): reads calls as JSON on stdin, makes each with
``cohere.ClientV2.rerank`` and its typed arguments, and prints the parsed responses as
JSON. Only the SDK is imported, never openrerank."""

from __future__ import annotations

import json
import sys
from typing import Any

import cohere


def call(client: cohere.ClientV2, request: dict[str, Any]) -> dict[str, Any]:
    spans = request.pop("relevant_spans", None)
    if spans is not None:
        request["relevant_spans"] = cohere.RerankRelevantSpans(**spans)
    response = client.rerank(**request)
    return response.model_dump(mode="json", exclude_none=True)


def main() -> None:
    job = json.load(sys.stdin)
    client = cohere.ClientV2(api_key=job["api_key"], base_url=job["base_url"])
    answers = [call(client, request) for request in job["requests"]]
    json.dump({"sdk_version": cohere.__version__, "answers": answers}, sys.stdout)


if __name__ == "__main__":
    main()
