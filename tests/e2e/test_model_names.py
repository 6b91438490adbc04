"""A request's ``model`` names a served model or alias, never a path, URL or hub id.

Every hostile name (``tests/model_names.py``: the served model's own directory, relative
paths, traversal, URLs, hub ids, one cached in the shared cache, empty, 10,000 characters,
control characters, near misses of the served name) gets 404 with a ``{"message"}`` body
from v2 and v1, and TEI, which takes no ``model``, refuses the field with 422. The
spies show that no download, resolve, read or load ran while they were answered, and the
backend saw no batch.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from e2e.conftest import ALIAS, DOCUMENTS, MODEL, QUERY, InProcessApp, rerank_body
from loader_spy import LoaderSpy
from model_names import LONG_NAME, hostile_model_names

MAX_MESSAGE_CHARS = 500
"""A 404 message stays short whatever name was sent."""


@pytest.fixture
def names(tiny_model_dir: Path) -> dict[str, str]:
    """Case id -> hostile name, the served model's own directory among them."""
    return hostile_model_names(tiny_model_dir, served=MODEL, alias=ALIAS)


@pytest.fixture
def spy(in_process_app: InProcessApp, monkeypatch: pytest.MonkeyPatch) -> LoaderSpy:
    """Loader spies, installed once the server has loaded its model."""
    return LoaderSpy().install(monkeypatch)


def v1_body(model: str) -> dict[str, Any]:
    return {"model": model, "query": QUERY, "documents": list(DOCUMENTS)}


def forbidden_fragments(name: str) -> list[str]:
    """Text a 404 for ``name`` must not hold: what is in the folder it names, if any."""
    fragments = ["root:x:", "snapshots", "models--", "config.json", "tokenizer.json"]
    try:
        entries = list(Path(name).expanduser().iterdir()) if name else []
    except (OSError, ValueError):  # not a folder, a name too long, a NUL byte
        entries = []
    return fragments + [entry.name for entry in entries if len(entry.name) > 3]


def check_not_served(client: TestClient, path: str, body: dict[str, Any], name: str) -> str:
    """A problem with the answer to ``body``, or ``""`` when it is a proper 404."""
    response = client.post(path, json=body)
    if response.status_code != 404:
        return f"status {response.status_code}: {response.text[:200]}"
    payload = response.json()
    if set(payload) != {"message"} or not isinstance(payload["message"], str):
        return f"body {payload!r} is not {{'message': str}}"
    message: str = payload["message"]
    if "not served" not in message or f"served models: {MODEL}; aliases: {ALIAS}" not in message:
        return f"message does not say what is served: {message!r}"
    if len(message) > MAX_MESSAGE_CHARS or "\n" in message or "\x00" in message:
        return f"message is not one short line: {message[:200]!r}"
    leaked = [f for f in forbidden_fragments(name) if f in message and f not in name]
    return f"message leaks {leaked}: {message!r}" if leaked else ""


@pytest.mark.parametrize(
    ("path", "make_body"),
    [("/v2/rerank", lambda name: rerank_body(model=name)), ("/v1/rerank", v1_body)],
    ids=["v2", "v1"],
)
def test_a_hostile_model_name_is_not_served_and_loads_nothing(
    in_process_app: InProcessApp, spy: LoaderSpy, names: dict[str, str], path: str, make_body: Any
) -> None:
    problems = {
        case: problem
        for case, name in names.items()
        if (problem := check_not_served(in_process_app.client, path, make_body(name), name))
    }
    assert problems == {}
    assert spy.calls == []
    assert in_process_app.backend.batches == []
    assert [entry.name for entry in in_process_app.catalog.entries] == [MODEL]
    in_process_app.assert_still_serves()  # the spies wrap; the server is unharmed
    assert len(in_process_app.backend.batches) == 1


def test_the_long_name_is_cut_in_the_message(in_process_app: InProcessApp) -> None:
    response = in_process_app.client.post("/v2/rerank", json=rerank_body(model=LONG_NAME))
    assert response.status_code == 404
    message = response.json()["message"]
    assert LONG_NAME[:50] in message and LONG_NAME not in message


def test_tei_ignores_a_model_field(
    in_process_app: InProcessApp, spy: LoaderSpy, names: dict[str, str]
) -> None:
    """TEI serves one model and ignores ``model`` (AnswerDotAI's `rerankers` sends it):
    the default model answers, and the name is never loaded."""
    plain = in_process_app.client.post("/rerank", json={"query": QUERY, "texts": list(DOCUMENTS)})
    for name in (names["absolute-path-of-the-served-model"], names["hub-id-not-cached"]):
        body = {"query": QUERY, "texts": list(DOCUMENTS), "model": name}
        response = in_process_app.client.post("/rerank", json=body)
        assert response.status_code == 200, response.text
        assert response.json() == plain.json()
    assert spy.calls == []


@pytest.mark.parametrize("name", [MODEL, ALIAS])
def test_served_names_still_resolve_with_the_spies_on(
    in_process_app: InProcessApp, spy: LoaderSpy, name: str
) -> None:
    for path, body in (("/v2/rerank", rerank_body(model=name)), ("/v1/rerank", v1_body(name))):
        response = in_process_app.client.post(path, json=body)
        assert response.status_code == 200, response.text
    assert spy.calls == []
    assert len(in_process_app.backend.batches) == 2


def test_the_spies_see_a_real_load_and_a_real_download_attempt(
    in_process_app: InProcessApp, spy: LoaderSpy, tiny_model_dir: Path
) -> None:
    """Control: the spies are on the paths a load and a download really take."""
    from openrerank import ModelNotFoundError
    from openrerank.config import EngineConfig, ModelConfig
    from openrerank.engine.catalog import ModelCatalog
    from openrerank.engine.model import resolve

    config = EngineConfig(ModelConfig(str(tiny_model_dir), backend="fake"))

    async def load_and_stop() -> None:
        async with ModelCatalog.from_configs([config]):
            pass

    asyncio.run(load_and_stop())
    assert {
        "RerankService.__init__",
        "RerankService.start",
        "openrerank.engine.service.resolve_model",
        "openrerank.engine.service.read_spec",
        "PairTokenizer.from_directory",
        "openrerank.engine.service.create_backend",
    } <= set(spy.calls)
    spy.calls.clear()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(ModelNotFoundError):
        resolve.resolve_model("cross-encoder/ms-marco-MiniLM-L-6-v2", weights=False)
    assert "openrerank.engine.model.resolve.snapshot_download" in spy.calls
