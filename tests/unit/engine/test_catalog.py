from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from loader_spy import LoaderSpy
from model_names import hostile_model_names
from openrerank.config import EngineConfig, ModelConfig
from openrerank.engine.backends.fake import FakeBackend
from openrerank.engine.catalog import ModelCatalog
from openrerank.engine.service import RerankService
from openrerank.errors import ModelNotFoundError, UnknownModelError


def _service(model_dir: Path) -> RerankService:
    config = EngineConfig(model=ModelConfig(name=str(model_dir), backend="fake"))
    return RerankService(config, backend=FakeBackend())


def test_catalog_resolves_names_aliases_and_the_default(tiny_model_dir: Path) -> None:
    first, second = _service(tiny_model_dir), _service(tiny_model_dir)
    catalog = ModelCatalog({"a": first, "b": second}, {"rerank-v3.5": "b"})
    assert catalog.resolve(None) == ("a", first)
    assert catalog.resolve("a") == ("a", first)
    assert catalog.resolve("rerank-v3.5") == ("b", second)
    assert [(e.name, e.aliases) for e in catalog.entries] == [("a", ()), ("b", ("rerank-v3.5",))]


def test_catalog_refuses_unknown_names_listing_what_is_served(tiny_model_dir: Path) -> None:
    catalog = ModelCatalog({"a": _service(tiny_model_dir)}, {"alias-x": "a"})
    with pytest.raises(UnknownModelError, match="served models: a; aliases: alias-x"):
        catalog.resolve(str(tiny_model_dir))


@pytest.mark.parametrize(
    ("aliases", "message"),
    [({"x": "missing"}, "not served"), ({"b": "a"}, "would hide")],
)
def test_catalog_refuses_bad_aliases(
    tiny_model_dir: Path, aliases: dict[str, str], message: str
) -> None:
    services = {"a": _service(tiny_model_dir), "b": _service(tiny_model_dir)}
    with pytest.raises(ValueError, match=message):
        ModelCatalog(services, aliases)


def test_catalog_refuses_the_same_model_twice(tiny_model_dir: Path) -> None:
    config = EngineConfig(model=ModelConfig(name=str(tiny_model_dir), backend="fake"))
    with pytest.raises(ValueError, match="twice"):
        ModelCatalog.from_configs([config, config])


def test_catalog_starts_and_stops_every_model(tiny_model_dir: Path) -> None:
    catalog = ModelCatalog({"a": _service(tiny_model_dir), "b": _service(tiny_model_dir)})

    async def scenario() -> tuple[bool, bool, float]:
        async with catalog:
            ready = catalog.ready
            _, service = catalog.resolve("b")
            outcome = await service.rerank("query", ["query text", "other"])
        return ready, catalog.ready, outcome.results[0].relevance_score

    ready_inside, ready_after, best = asyncio.run(scenario())
    assert ready_inside and not ready_after
    assert 0.0 <= best <= 1.0


def test_catalog_stops_started_models_when_a_later_one_fails(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    good = _service(tiny_model_dir)
    broken = RerankService(EngineConfig(model=ModelConfig(name=str(tmp_path / "missing"))))
    catalog = ModelCatalog({"good": good, "broken": broken})
    with pytest.raises(ModelNotFoundError):
        asyncio.run(catalog.start())
    assert not good.ready


def test_catalog_resolves_no_path_url_or_hub_id(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _service(tiny_model_dir)
    catalog = ModelCatalog({"tiny": service}, {"rerank-v3.5": "tiny"})
    spy = LoaderSpy().install(monkeypatch)
    names = hostile_model_names(tiny_model_dir, served="tiny", alias="rerank-v3.5")
    for case, name in names.items():
        with pytest.raises(UnknownModelError) as caught:
            catalog.resolve(name)
        message = str(caught.value)
        assert message.endswith("served models: tiny; aliases: rerank-v3.5"), case
        assert "\n" not in message and "\x00" not in message and len(message) < 300, case
    assert spy.calls == [] and not service.ready
    assert catalog.resolve("rerank-v3.5") == ("tiny", service)


def test_catalog_quotes_an_unknown_name_and_cuts_a_long_one(tiny_model_dir: Path) -> None:
    catalog = ModelCatalog({"tiny": _service(tiny_model_dir)})
    with pytest.raises(UnknownModelError, match=re.escape("model 'tiny\\x00\\n' is not served")):
        catalog.resolve("tiny\x00\n")
    with pytest.raises(UnknownModelError) as caught:
        catalog.resolve("m" * 10_000)
    assert f"model {'m' * 100!r}... (10,000 characters) is not served" in str(caught.value)
