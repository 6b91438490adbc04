"""Pure ASGI middleware: request ids and access logs, API keys, and the body-size limit.

Plain ASGI (not ``BaseHTTPMiddleware``) so that a client's ``http.disconnect`` still
reaches the route and cancels its work.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openrerank.server.context import bind_request_id, choose_request_id, unbind_request_id
from openrerank.server.errors import (
    GENERIC_500,
    AuthenticationError,
    PayloadTooLargeError,
    error_response,
    status_of,
)
from openrerank.server.metrics import ServerMetrics

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("openrerank.access")

REQUEST_ID_HEADER = "x-request-id"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _route_template(scope: Scope, static_paths: frozenset[str]) -> str | None:
    """The template of the route that handled the request, or, for requests refused
    before routing (401, 413), their path when it is one of the app's static routes."""
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str):
        return template
    path = scope.get("path")
    return path if path in static_paths else None


class RequestContextMiddleware:
    """Gives each request an id (echoed as ``X-Request-Id``), logs and counts it, and
    turns an unexpected exception into a generic 500 with the id logged."""

    def __init__(
        self, app: ASGIApp, *, metrics: ServerMetrics, static_paths: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.static_paths = frozenset(static_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = choose_request_id(_header(scope, REQUEST_ID_HEADER.encode()))
        token = bind_request_id(request_id)
        started = time.perf_counter()
        status = [0]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error in request %s", request_id)
            if status[0] == 0:
                await error_response(500, GENERIC_500)(scope, receive, send_with_id)
            status[0] = status[0] or 500
        finally:
            self._record(scope, status[0] or 500, time.perf_counter() - started, request_id)
            unbind_request_id(token)

    def _record(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        path = scope.get("path", "")
        self.metrics.observe(_route_template(scope, self.static_paths), status, seconds)
        client = scope.get("client")
        entry = {
            "request_id": request_id,
            "method": scope.get("method"),
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": f"{client[0]}:{client[1]}" if client else None,
        }
        access_logger.info(json.dumps(entry, separators=(",", ":")))


class ApiKeyMiddleware:
    """Requires ``Authorization: Bearer <key>`` on every path but the open ones.

    Only SHA-256 digests of the keys are kept; the digest of the key sent is compared
    with every one of them in constant time (equal lengths, no early exit), so neither
    a key nor its length leaks through timing. Keys are never logged or echoed.
    """

    def __init__(self, app: ASGIApp, *, keys: Iterable[str], open_paths: Iterable[str]) -> None:
        self.app = app
        self._digests = tuple(_digest(key.encode()) for key in keys)
        self._open = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self._open or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        error = AuthenticationError("missing or invalid API key (send Authorization: Bearer <key>)")
        response = error_response(
            status_of(error), str(error), headers={"WWW-Authenticate": "Bearer"}
        )
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        header = _header(scope, b"authorization") or ""
        scheme, _, candidate = header.partition(" ")
        given = candidate.strip().encode() if scheme.lower() == "bearer" else b""
        digest = _digest(given)
        matched = False
        for key in self._digests:
            matched |= hmac.compare_digest(key, digest)
        return matched and bool(given)


def _digest(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, before the app parses them.

    A declared ``Content-Length`` over the limit is refused unread; a chunked body is
    read up to the limit and then replayed to the app.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        body = await self._read(receive)
        if body is None:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLargeError(
            f"the request body is larger than the limit of {self.max_bytes} bytes"
        )
        await error_response(status_of(error), str(error))(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
