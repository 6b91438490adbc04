"""The request id of the request being served, for responses and log lines."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar, Token

_REQUEST_ID: ContextVar[str] = ContextVar("openrerank_request_id", default="-")
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def current_request_id() -> str:
    """The id of the request this code runs for (``-`` outside a request)."""
    return _REQUEST_ID.get()


def choose_request_id(sent: str | None) -> str:
    """The client's ``X-Request-Id`` when it is a sane token, else a new UUID."""
    if sent is not None and _ACCEPTED_ID.fullmatch(sent):
        return sent
    return str(uuid.uuid4())


def bind_request_id(request_id: str) -> Token[str]:
    """Make ``request_id`` current; returns the token :func:`unbind_request_id` takes."""
    return _REQUEST_ID.set(request_id)


def unbind_request_id(token: Token[str]) -> None:
    """Restore the request id that was current before :func:`bind_request_id`."""
    _REQUEST_ID.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record, so formats can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True
