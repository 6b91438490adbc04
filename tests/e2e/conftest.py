"""Fixtures for the HTTP server tests: in-process apps over FakeBackend services, and real
``openrerank serve`` processes on the reference model.

In-process (no socket, no subprocess): ``build_app`` makes an app that is not started (for
tests that drive the ASGI app themselves); ``start`` enters a ``TestClient`` so the
lifespan starts the catalog; ``make_in_process_app`` does both, and ``in_process_app`` is
one with default limits. Everything is closed at the end of the test.

Real processes (:mod:`e2e.server_process`): ``reference_server`` is one server on the
reference model for the whole session, for the tests that only send it requests;
``start_reference_server(*flags)`` starts another one, for tests that need other flags.
Both read the session's one ONNX export (``reference_onnx_cache``). Tests that stop, drain
or break a server start their own. ``scifact`` is the SciFact query with its candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from e2e.scifact_oracle import SciFact
from e2e.server_process import REFERENCE_API_KEY, ServerProcess, serve_reference
from openrerank.config import BatchingConfig, EngineConfig, HttpConfig, ModelConfig
from openrerank.engine.backends.fake import FakeBackend
from openrerank.engine.catalog import ModelCatalog
from openrerank.engine.service import RerankService
from openrerank.server import create_app

MODEL = "tiny"
ALIAS = "rerank-v3.5"
QUERY = "quick brown fox"
DOCUMENTS = ["the quick brown fox", "water boils at sea level", "the museum opened"]


def rerank_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``/v2/rerank`` body, with ``overrides`` applied."""
    return {"model": MODEL, "query": QUERY, "documents": list(DOCUMENTS), **overrides}


@dataclass
class Served:
    """An app over one FakeBackend service named ``tiny`` (alias ``rerank-v3.5``)."""

    app: FastAPI
    catalog: ModelCatalog
    service: RerankService
    backend: FakeBackend

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples called ``name`` whose labels include ``labels``."""
        text = self.app.state.metrics.render().decode()
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )


@dataclass
class InProcessApp(Served):
    """A started :class:`Served` and the in-process ``TestClient`` that talks to it."""

    client: TestClient

    def assert_still_serves(self, headers: Mapping[str, str] | None = None) -> None:
        """A normal rerank request succeeds."""
        response = self.client.post("/v2/rerank", json=rerank_body(), headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["results"][0]["index"] == 0


class StartReferenceServer(Protocol):
    def __call__(
        self, *flags: str, api_key: str | None = ...
    ) -> AbstractContextManager[ServerProcess]: ...


class BuildApp(Protocol):
    def __call__(
        self,
        *,
        backend: FakeBackend | None = ...,
        http: HttpConfig | None = ...,
        max_documents: int = ...,
        max_queued_pairs: int | None = ...,
        max_document_chars: int = ...,
        batching: BatchingConfig | None = ...,
    ) -> Served: ...


class MakeInProcessApp(Protocol):
    def __call__(
        self,
        *,
        backend: FakeBackend | None = ...,
        http: HttpConfig | None = ...,
        max_documents: int = ...,
        max_queued_pairs: int | None = ...,
        max_document_chars: int = ...,
        batching: BatchingConfig | None = ...,
    ) -> InProcessApp: ...


@pytest.fixture
def engine_config(tiny_model_dir: Path) -> Callable[..., EngineConfig]:
    """``factory(**limits)``: an EngineConfig for the tiny model on the fake backend."""

    def factory(**limits: Any) -> EngineConfig:
        return EngineConfig(ModelConfig(str(tiny_model_dir), backend="fake"), **limits)

    return factory


@pytest.fixture
def build_app(engine_config: Callable[..., EngineConfig]) -> BuildApp:
    """``factory(...)``: a :class:`Served` app, not started."""

    def factory(
        *,
        backend: FakeBackend | None = None,
        http: HttpConfig | None = None,
        max_documents: int = 200,
        max_queued_pairs: int | None = None,
        max_document_chars: int = 2_000,
        batching: BatchingConfig | None = None,
    ) -> Served:
        backend = backend or FakeBackend()
        config = engine_config(
            batching=batching or BatchingConfig(),
            max_documents=max_documents,
            max_queued_pairs=max_queued_pairs or 4 * max_documents,
            max_document_chars=max_document_chars,
        )
        service = RerankService(config, backend=backend)
        catalog = ModelCatalog({MODEL: service}, {ALIAS: MODEL})
        app = create_app(catalog, http)
        return Served(app, catalog, service, backend)

    return factory


@pytest.fixture
def start() -> Iterator[Callable[[FastAPI], TestClient]]:
    """``start(app)``: a TestClient whose lifespan runs until the test ends."""
    with ExitStack() as stack:

        def factory(app: FastAPI) -> TestClient:
            return stack.enter_context(TestClient(app))

        yield factory


@pytest.fixture
def make_in_process_app(
    build_app: BuildApp, start: Callable[[FastAPI], TestClient]
) -> MakeInProcessApp:
    """``factory(...)``: a started :class:`InProcessApp` (same arguments as ``build_app``)."""

    def factory(**kwargs: Any) -> InProcessApp:
        served = build_app(**kwargs)
        client = start(served.app)
        return InProcessApp(served.app, served.catalog, served.service, served.backend, client)

    return factory


@pytest.fixture
def in_process_app(make_in_process_app: MakeInProcessApp) -> InProcessApp:
    """A started in-process app with default limits and no API keys."""
    return make_in_process_app()


@pytest.fixture(scope="session")
def start_reference_server(
    reference_onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> StartReferenceServer:
    """``with start_reference_server(*flags, api_key=...) as process:`` a ready ``openrerank
    serve --model <reference> [--api-key KEY] <flags>`` of its own, over the session's
    ONNX export; the key defaults to :data:`REFERENCE_API_KEY` (``None``: no key)."""

    def factory(
        *flags: str, api_key: str | None = REFERENCE_API_KEY
    ) -> AbstractContextManager[ServerProcess]:
        log_dir = tmp_path_factory.mktemp("server")
        return serve_reference(
            flags, onnx_cache=reference_onnx_cache, log_dir=log_dir, api_key=api_key
        )

    return factory


@pytest.fixture(scope="session")
def reference_server(start_reference_server: StartReferenceServer) -> Iterator[ServerProcess]:
    """The session's real ``openrerank serve --model <reference> --api-key
    REFERENCE_API_KEY``, default settings otherwise, shared by every module that only sends
    it requests (never one that stops, drains, reconfigures or breaks it)."""
    with start_reference_server() as process:
        yield process


@pytest.fixture(scope="module")
def scifact(scifact_dir: Path) -> SciFact:
    """SciFact query 3, its BM25 candidates and the start of the corpus."""
    return SciFact(scifact_dir)
