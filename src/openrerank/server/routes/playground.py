"""The playground: one static page (``GET /``, ``/playground``) that calls the public API.

The page, its script and its style ship inside the package (``server/playground/``): no
build step, no CDN, so it works air-gapped. They are served with a Content-Security-Policy
that allows only this origin's script, style and API (no inline script, no frames). The
page holds no secret: an API key lives in the tab's ``sessionStorage`` and goes only into
the ``Authorization`` header of its API calls, which need it as every client's do.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse

from openrerank.server.deps import HttpDep

router = APIRouter(tags=["playground"], include_in_schema=False)

ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "playground.js": "text/javascript; charset=utf-8",
    "playground.css": "text/css; charset=utf-8",
}
PAGE_PATHS = ("/", "/playground")
ASSET_PREFIX = "/playground/"
SETTINGS_PATH = "/playground/settings.json"
OPEN_PATHS = frozenset({*PAGE_PATHS, SETTINGS_PATH, *(ASSET_PREFIX + name for name in ASSETS)})
"""Paths that need no API key: the page and its files (never the API it calls)."""
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _read(name: str) -> bytes:
    return (files("openrerank.server") / "playground" / name).read_bytes()


def _asset(name: str) -> Response:
    return Response(_read(name), media_type=ASSETS[name], headers=HEADERS)


@router.get("/")
@router.get("/playground")
async def page() -> Response:
    """The playground page."""
    return _asset("index.html")


@router.get(SETTINGS_PATH)
async def settings(http: HttpDep) -> JSONResponse:
    """What the page must know before its first API call: whether it needs a key (so
    that it asks for one instead of collecting a 401)."""
    return JSONResponse({"api_key_required": bool(http.api_keys)}, headers=HEADERS)


@router.get(ASSET_PREFIX + "{name}")
async def asset(name: str) -> Response:
    """The page's script and style; nothing else under the folder is served."""
    if name not in ASSETS or name == "index.html":
        raise HTTPException(404, "Not Found")
    return _asset(name)
