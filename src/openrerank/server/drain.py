"""Graceful shutdown: once draining, requests in flight finish and new ones get 503.

:class:`Drain` counts the requests in flight; :class:`DrainMiddleware` keeps the count
and, once :meth:`Drain.begin` was called (on SIGTERM, by ``server/run.py``), answers
every new request but liveness and metrics with 503, ``Retry-After`` and
``Connection: close``, so load balancers and clients move to another instance while
the answers already being computed are still delivered. When the grace period runs
out first, :meth:`Drain.abort` cancels the requests still in flight, and each is
answered 503 (if its answer had not started) instead of having its connection cut.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openrerank.server.errors import RETRY_AFTER_NOT_READY_S, error_response

logger = logging.getLogger(__name__)

OPEN_WHILE_DRAINING = frozenset({"/health", "/metrics"})
SHUTTING_DOWN = "the server is shutting down; retry on another instance"


class Drain:
    """The requests in flight, and whether the server stopped taking new ones."""

    def __init__(self) -> None:
        self.draining = False
        self.aborted = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        """Requests being answered now."""
        return len(self._tasks)

    def begin(self) -> None:
        """Stop taking new requests; those in flight go on. Idempotent."""
        if not self.draining:
            logger.info("draining: %d request(s) in flight, new ones get 503", self.in_flight)
        self.draining = True

    def abort(self) -> None:
        """Cancel the requests still in flight; each is answered 503 if it can be."""
        self.begin()
        self.aborted = True
        for task in self._tasks:
            task.cancel()

    def track(self, task: asyncio.Task[None]) -> None:
        """Count ``task`` in flight until it ends."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class DrainMiddleware:
    """Counts HTTP requests in flight; refuses new ones with 503 while draining.

    Args:
        drain: the shared state :mod:`openrerank.server.run` drives.
        open_paths: paths still answered while draining (liveness, metrics).
    """

    def __init__(
        self, app: ASGIApp, *, drain: Drain, open_paths: Iterable[str] = OPEN_WHILE_DRAINING
    ) -> None:
        self.app = app
        self.drain = drain
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.drain.draining and scope.get("path") not in self.open_paths:
            headers = {"Retry-After": str(RETRY_AFTER_NOT_READY_S), "Connection": "close"}
            await error_response(503, SHUTTING_DOWN, headers=headers)(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, send_tracked))
        self.drain.track(task)
        try:
            await task
        except asyncio.CancelledError:
            if not (self.drain.aborted and task.cancelled()) or started:
                raise
            logger.warning("answering 503: the grace period ended before this request did")
            headers = {"Connection": "close"}
            await error_response(503, SHUTTING_DOWN, headers=headers)(scope, receive, send)
