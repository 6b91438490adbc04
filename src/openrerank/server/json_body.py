"""Request bodies read as strict JSON (RFC 8259, with I-JSON's limits, RFC 7493).

Python's ``json`` accepts ``NaN`` and ``Infinity``, turns ``1e400`` into ``inf``, keeps
unpaired surrogates (``"\\ud800"``) that no tokenizer and no JSON encoder can handle, and
nests as deep as the interpreter's stack allows (deeper than the response serializer
does). Here each of these is a :class:`json.JSONDecodeError`, which FastAPI reports as
invalid JSON and :mod:`openrerank.server.errors` answers with 400, as are a body that is
not valid UTF-8 (or UTF-16/32) and a number with more digits than Python converts.

:class:`StrictJsonRoute` is the route class of the routes that read a JSON body.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from openrerank.engine.validation import SURROGATE

MAX_DEPTH = 64
"""Arrays and objects nest at most this deep: more than any rerank request needs, and far
less than what breaks the parser (about 1,000) or the response serializer (about 250)."""

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

Path = tuple[str | int, ...]


def loads(body: bytes) -> Any:
    """The JSON value of ``body``, if it is strict JSON within :data:`MAX_DEPTH`.

    Raises:
        json.JSONDecodeError: not JSON, not valid text in its encoding, a ``NaN`` or
            ``Infinity`` literal, a number out of range, nesting deeper than
            :data:`MAX_DEPTH`, or a string with an unpaired surrogate.
    """
    text = _decode(body)
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise _error(f"arrays and objects nest deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer over sys.get_int_max_str_digits()
        limit = sys.get_int_max_str_digits()
        raise _error(f"a number has more than {limit} digits") from None
    # Strict decoding let no raw surrogate through; only a \uD800-\uDFFF escape makes one.
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    if surrogates or text.count("[") + text.count("{") > MAX_DEPTH:
        _check_tree(value, strings=surrogates)
    return value


class StrictJsonRequest(Request):
    """A request whose :meth:`json` is :func:`loads`."""

    async def json(self) -> Any:
        """The body as strict JSON (see :func:`loads`)."""
        if not hasattr(self, "_strict_json"):
            self._strict_json = loads(await self.body())
        return self._strict_json


class StrictJsonRoute(APIRoute):
    """An API route that reads its JSON body with :func:`loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given a :class:`StrictJsonRequest`."""
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler


def _decode(body: bytes) -> str:
    encoding = json.detect_encoding(body)
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        name = encoding.removesuffix("-sig").upper()
        raise _error(f"the body is not valid {name} text (at byte {exc.start})") from None


def _reject_constant(name: str) -> Any:
    raise _error(f"{name} is not a JSON value; send a number or null")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise _error(f"the number {literal[:40]} is out of range")
    return value


def _check_tree(value: Any, *, strings: bool) -> None:
    """Walk the containers: no nesting over :data:`MAX_DEPTH`, and (with ``strings``) no
    unpaired surrogate in a key or a string."""
    pending: list[tuple[Any, Path]] = [(value, ())]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if strings:
                _check_string(item, path)
            continue
        if not isinstance(item, dict | list):
            continue
        if len(path) >= MAX_DEPTH:
            raise _error(f"arrays and objects nest deeper than {MAX_DEPTH} levels")
        children = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in children:
            if strings and isinstance(key, str):
                _check_string(key, path)
            if isinstance(child, dict | list):
                pending.append((child, (*path, key)))
            elif strings and isinstance(child, str):
                _check_string(child, (*path, key))


def _check_string(text: str, path: Path) -> None:
    found = SURROGATE.search(text)
    if found is not None:
        where = _format_path(path) or "the body"
        code = f"\\u{ord(found.group()):04x}"
        raise _error(f"a string in {where} has an unpaired surrogate ({code}); send valid Unicode")


def _format_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _error(message: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(message, "", 0)
