"""The HTTP server: Cohere v1/v2 and TEI rerank routes over a model catalog."""

from __future__ import annotations

from openrerank.server.app import create_app

__all__ = ["create_app"]
