"""The one table from errors to HTTP statuses, its handlers, and the OpenAPI it documents.

Every route, every middleware and the OpenAPI ``responses`` read :data:`ERROR_TABLE`,
so the documented statuses cannot drift from the real ones. Bodies are always
``{"message": ...}``; a 5xx body also carries the request ``id`` that its log line has.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from openrerank.errors import (
    BackendError,
    EngineClosedError,
    InputTooLongError,
    InvalidInputError,
    OverloadedError,
    RerankError,
    UnknownModelError,
)
from openrerank.server.context import current_request_id
from openrerank.server.schemas import BODY_SHAPE_ERROR, UNION_TAGS, ErrorBody

logger = logging.getLogger(__name__)

RETRY_AFTER_NOT_READY_S = 1
GENERIC_500 = "internal server error; the server log has the details under this request id"


class HttpError(Exception):
    """Errors only the HTTP layer can raise."""


class MalformedRequestError(HttpError):
    """The body is not JSON, or not a JSON object."""


class SchemaError(HttpError):
    """An unknown field, a missing field, or a value of the wrong type."""


class AuthenticationError(HttpError):
    """No API key, or a wrong one, while keys are configured."""


class PayloadTooLargeError(HttpError):
    """The request body is larger than the configured limit."""


class ClientDisconnectedError(HttpError):
    """The client closed the connection before the answer was ready."""


@dataclass(frozen=True)
class ErrorRow:
    """One status, the exceptions that produce it, and what it means to a client."""

    status: int
    exceptions: tuple[type[Exception], ...]
    description: str


ERROR_TABLE: tuple[ErrorRow, ...] = (
    ErrorRow(
        400,
        (MalformedRequestError, InvalidInputError),
        "Malformed JSON, empty `documents`, a blank query, a bad `top_n`, too many "
        "documents, or an invalid combination of fields.",
    ),
    ErrorRow(401, (AuthenticationError,), "Missing or wrong API key (when keys are set)."),
    ErrorRow(
        404, (UnknownModelError,), "The model is not served; the message lists those that are."
    ),
    ErrorRow(
        413,
        (PayloadTooLargeError, InputTooLongError),
        "The body, the query or a document is over its configured limit.",
    ),
    ErrorRow(422, (SchemaError,), "An unknown field, a missing field or a wrong type."),
    ErrorRow(429, (OverloadedError,), "Too much queued work; retry after `Retry-After` seconds."),
    ErrorRow(499, (ClientDisconnectedError,), "The client went away; its work was cancelled."),
    ErrorRow(500, (BackendError,), "A model failure or a bug; the log has the request id."),
    ErrorRow(503, (EngineClosedError,), "Not ready: the models are not loaded or are stopping."),
)
_STATUS_OF: dict[type[Exception], ErrorRow] = {
    exception: row for row in ERROR_TABLE for exception in row.exceptions
}


def status_of(exception: BaseException) -> int:
    """The table's status for an exception (500 for anything it does not list)."""
    for cls in type(exception).__mro__:
        row = _STATUS_OF.get(cls)
        if row is not None:
            return row.status
    return 500


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the given statuses, written from the table."""
    rows = {row.status: row for row in ERROR_TABLE}
    return {
        status: {"model": ErrorBody, "description": rows[status].description} for status in statuses
    }


RERANK_ERRORS = error_responses(400, 401, 404, 413, 422, 429, 499, 500, 503)


def error_response(
    status: int, message: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The JSON answer for an error; 5xx answers carry the request id."""
    body: dict[str, str] = {"message": message}
    if status >= 500:
        body["id"] = current_request_id()
    return JSONResponse(body, status_code=status, headers=headers)


def retry_after(exception: BaseException) -> dict[str, str]:
    """A ``Retry-After`` header for overload and not-ready errors, else none."""
    if isinstance(exception, OverloadedError):
        return {"Retry-After": str(max(1, math.ceil(exception.retry_after_s)))}
    if isinstance(exception, EngineClosedError):
        return {"Retry-After": str(RETRY_AFTER_NOT_READY_S)}
    return {}


async def _known_error(request: Request, exc: Exception) -> JSONResponse:
    status = status_of(exc)
    if status >= 500:
        logger.error("request %s failed: %s", current_request_id(), exc)
    return error_response(status, str(exc), headers=retry_after(exc))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    translated = translate_validation(exc.errors())
    return error_response(status_of(translated), str(translated))


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer domain, HTTP-layer, validation and routing errors from the table."""
    app.add_exception_handler(RerankError, _known_error)
    app.add_exception_handler(HttpError, _known_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_exception)


def translate_validation(errors: Sequence[Any]) -> HttpError:
    """A validation failure as a 400 (not JSON / not an object) or a 422 naming the field."""
    first = errors[0]
    kind, path = first.get("type", ""), _field_path(first.get("loc", ()))
    location = _location(path)
    if kind == BODY_SHAPE_ERROR and isinstance(first.get("input"), dict):
        return SchemaError(first.get("msg", "the body has neither shape this route takes"))
    if kind == "json_invalid":
        detail = first.get("ctx", {}).get("error", "invalid JSON")
        return MalformedRequestError(f"the request body is not valid JSON: {detail}")
    if not path:
        return MalformedRequestError(
            "the request body must be a JSON object (send Content-Type: application/json)"
        )
    if kind == "extra_forbidden":
        return SchemaError(f"parameter '{location}' is not a valid field")
    if kind == "missing":
        return SchemaError(f"parameter '{location}' is required")
    return SchemaError(f"parameter '{location}' is invalid: {first.get('msg', 'bad value')}")


def _field_path(loc: Sequence[Any]) -> tuple[Any, ...]:
    """The path inside the body: FastAPI's leading ``"body"`` dropped (a field may be
    called ``body``, or ``""``), and the tags of tagged unions (which body shape, which
    kind of document)."""
    parts = tuple(loc)
    parts = parts[1:] if parts[:1] == ("body",) else parts
    return tuple(part for part in parts if part not in UNION_TAGS)


def _location(path: Sequence[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
