"""Cancel a request's work when its client disconnects (the vLLM pattern).

The route's work runs as a task raced against a watcher that waits for the ASGI
``http.disconnect`` message. When the client goes first, the work task is cancelled
(batches not yet started never reach the model) and the request ends as a 499.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.requests import Request

from openrerank.server.errors import ClientDisconnectedError

logger = logging.getLogger(__name__)

T = TypeVar("T")


async def until_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """The result of ``work``, unless the client disconnects first.

    Raises:
        ClientDisconnectedError: the client went away; ``work`` was cancelled.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_for_disconnect(request))
    try:
        done, _ = await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # this request itself was cancelled (e.g. server shutdown)
        task.cancel()
        watcher.cancel()
        raise
    watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    await asyncio.wait((task,))
    if not task.cancelled():
        task.exception()  # finished meanwhile; nobody is left to read it
    logger.info("client disconnected; its work was cancelled")
    raise ClientDisconnectedError("the client disconnected before the answer was ready")


async def _wait_for_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
