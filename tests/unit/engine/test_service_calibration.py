"""A calibration file changes relevance scores, never the ranking or the raw scores."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from openrerank.config import EngineConfig, ModelConfig
from openrerank.engine.backends.fake import FakeBackend
from openrerank.engine.model.calibration import Calibration
from openrerank.engine.service import RerankService
from openrerank.errors import CalibrationError

DOCUMENTS = [
    "the weather is sunny today",
    "the river bank was flooded",
    "a cross encoder reads the query and the document together",
    "the quick brown fox",
    "a query and a document",
]
QUERY = "how does a cross encoder read the query and the document"


def _service(model_dir: Path, calibration: Path | None) -> RerankService:
    model = ModelConfig(name=str(model_dir), backend="fake", calibration=calibration)
    return RerankService(EngineConfig(model=model), backend=FakeBackend())


def _write(tmp_path: Path, calibration: Calibration) -> Path:
    path = tmp_path / "calibration.json"
    calibration.save(path)
    return path


async def _raw_and_ranked(service: RerankService) -> tuple[list[float], list[int], list[float]]:
    async with service:
        raw = (await service.score(QUERY, DOCUMENTS, raw=True)).tolist()
        outcome = await service.rerank(QUERY, DOCUMENTS)
    return raw, [r.index for r in outcome.results], [r.relevance_score for r in outcome.results]


def test_platt_calibration_maps_each_raw_score(tiny_model_dir: Path, tmp_path: Path) -> None:
    path = _write(tmp_path, Calibration("platt", slope=0.5, intercept=-1.0))
    raw, order, scores = asyncio.run(_raw_and_ranked(_service(tiny_model_dir, path)))
    expected = [1.0 / (1.0 + np.exp(-(0.5 * raw[i] - 1.0))) for i in order]
    assert scores == pytest.approx(expected, abs=1e-6)


def test_calibration_keeps_the_ranking_and_raw_scores(tiny_model_dir: Path, tmp_path: Path) -> None:
    # A flat isotonic map gives every document the same probability: the order must
    # still be the model's, not the input order.
    flat = Calibration("isotonic", knots_x=(-1e6, 1e6), knots_y=(0.25, 0.25))
    plain_raw, plain_order, _ = asyncio.run(_raw_and_ranked(_service(tiny_model_dir, None)))
    raw, order, scores = asyncio.run(
        _raw_and_ranked(_service(tiny_model_dir, _write(tmp_path, flat)))
    )
    assert raw == plain_raw
    assert order == plain_order == sorted(range(len(DOCUMENTS)), key=lambda i: -raw[i])
    assert order != list(range(len(DOCUMENTS)))
    assert scores == pytest.approx([0.25] * len(DOCUMENTS))


def test_info_names_the_calibration(tiny_model_dir: Path, tmp_path: Path) -> None:
    async def info(path: Path | None) -> str | None:
        async with _service(tiny_model_dir, path) as service:
            return service.info.calibration

    path = _write(tmp_path, Calibration("platt"))
    assert asyncio.run(info(path)) == "platt"
    assert asyncio.run(info(None)) is None


def test_a_calibration_for_another_revision_is_refused(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    path = _write(tmp_path, Calibration("platt", model="m", revision="not-this-one"))
    with pytest.raises(CalibrationError, match="revision not-this-one"):
        asyncio.run(_service(tiny_model_dir, path).start())


def test_a_malformed_calibration_file_is_refused_with_its_path(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"format": "openrerank-calibration/1", "method": "platt"}')
    with pytest.raises(CalibrationError, match=r"broken\.json"):
        asyncio.run(_service(tiny_model_dir, path).start())
