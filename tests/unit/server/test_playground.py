"""The playground route: served only when enabled, with its own files and headers, and
open without a key while the API it calls is not."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from openrerank.config import EngineConfig, HttpConfig, ModelConfig
from openrerank.engine.catalog import ModelCatalog
from openrerank.engine.service import RerankService
from openrerank.server import create_app
from openrerank.server.routes.playground import CSP

PAGE_FILES = ("/playground/playground.js", "/playground/playground.css")


def client(http: HttpConfig | None) -> TestClient:
    """An app whose models are never started: these routes do not need them."""
    service = RerankService(EngineConfig(ModelConfig("unused", backend="fake")))
    return TestClient(create_app(ModelCatalog({"unused": service}), http))


@pytest.mark.parametrize("path", ["/", "/playground"])
def test_playground_page_is_served_when_enabled(path: str) -> None:
    response = client(HttpConfig(playground=True)).get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    page = response.text
    for hook in ("query", "documents", "submit", "api-key", "error"):
        assert f'data-testid="{hook}"' in page
    assert "<script>" not in page and "http://" not in page and "https://" not in page


@pytest.mark.parametrize(
    ("path", "kind"), [(PAGE_FILES[0], "text/javascript"), (PAGE_FILES[1], "text/css")]
)
def test_playground_files_are_served_with_their_types(path: str, kind: str) -> None:
    response = client(HttpConfig(playground=True)).get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(kind)
    assert response.headers["content-security-policy"] == CSP


@pytest.mark.parametrize("path", ["/playground/index.html", "/playground/../config.py", "/x.js"])
def test_playground_serves_nothing_else(path: str) -> None:
    assert client(HttpConfig(playground=True)).get(path).status_code == 404


@pytest.mark.parametrize("http", [HttpConfig(playground=False), HttpConfig(), None])
@pytest.mark.parametrize("path", ["/", "/playground", *PAGE_FILES])
def test_playground_is_404_when_disabled_or_undecided(http: HttpConfig | None, path: str) -> None:
    response = client(http).get(path)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_playground_page_needs_no_key_but_the_api_still_does() -> None:
    keyed = client(HttpConfig(api_keys=("secret",), playground=True))
    for path in ("/", "/playground", *PAGE_FILES):
        assert keyed.get(path).status_code == 200, path
    assert keyed.get("/playground/other.js").status_code == 401
    assert keyed.get("/v1/models").status_code == 401
    refused = keyed.post("/v2/rerank", json={"model": "unused", "query": "q", "documents": ["d"]})
    assert refused.status_code == 401
    assert "API key" in refused.json()["message"]


def test_playground_is_not_in_the_openapi_schema() -> None:
    schema = client(HttpConfig(playground=True)).get("/openapi.json").json()
    assert not any(path == "/" or path.startswith("/playground") for path in schema["paths"])
