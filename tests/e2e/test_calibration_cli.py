"""``openrerank calibrate`` fits a map on SciFact; the library and the server serve it.

The expected calibrated scores are computed here straight from the file's JSON (the
logistic formula or linear interpolation between the knots) and the model's raw scores,
not through the code that serves them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import REFERENCE_MODEL
from e2e.conftest import StartReferenceServer
from e2e.server_process import ENTRY_POINT, ServerProcess, server_env
from openrerank import Reranker
from openrerank.bench.process import free_port
from openrerank.cli.main import app
from openrerank.config import EngineConfig, ModelConfig

QUERY = "Vitamin D deficiency is associated with an increased risk of fractures."
DOCUMENTS = [
    "Low serum vitamin D levels predicted hip fracture in older women.",
    "The museum opened a new wing for modern art.",
    "Calcium and vitamin D supplements reduce fractures in the elderly.",
    "Deep learning models need large training sets.",
    "Vitamin D is made in the skin when exposed to sunlight.",
]


@pytest.fixture(scope="module")
def fitted(
    scifact_dir: Path, reference_onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("calibration") / "scifact.json"
    result = CliRunner().invoke(
        app,
        [
            *("calibrate", "--model", REFERENCE_MODEL, "--dataset", str(scifact_dir)),
            *("--k", "20", "--max-queries", "120", "--max-chunks-per-doc", "1"),
            *("--out", str(out), "--json"),
        ],
        env={"OPENRERANK_CACHE": str(reference_onnx_cache)},
    )
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report, out


def expected_probability(file: Path, raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    data = json.loads(file.read_text())
    if data["method"] == "platt":
        slope, intercept = data["platt"]["slope"], data["platt"]["intercept"]
        return 1.0 / (1.0 + np.exp(-(slope * raw + intercept)))
    return np.interp(raw, data["isotonic"]["x"], data["isotonic"]["y"])


def test_calibrate_fits_on_some_queries_and_reports_on_the_others(
    fitted: tuple[dict[str, Any], Path], reference_model_dir: Path
) -> None:
    report, path = fitted
    data = json.loads(path.read_text())
    assert data["format"] == "openrerank-calibration/1"
    assert data["model"] == REFERENCE_MODEL
    assert data["revision"] == reference_model_dir.name
    losses = report["choice"]["cv_log_loss"]
    assert report["method"] == data["method"] == min(losses, key=losses.get)
    held_out = report["held_out"]
    assert report["fit"]["queries"] + held_out["queries"] == 120
    # The reference model's sigmoid scores sit near 0.5 while about 1 candidate in 20 is
    # relevant: any fitted map must be far better calibrated on unseen queries.
    print(f"\nheld-out ECE {held_out['before']['ece']:.4f} -> {held_out['after']['ece']:.4f}")
    assert held_out["after"]["ece"] < held_out["before"]["ece"]
    assert held_out["after"]["log_loss"] < held_out["before"]["log_loss"]
    kept = [row["kept"] for row in held_out["thresholds"]]
    assert kept == sorted(kept, reverse=True)


@pytest.fixture(scope="module")
def raw_scores(reference_onnx_cache: Path) -> np.ndarray[Any, Any]:
    config = EngineConfig(model=ModelConfig(name=REFERENCE_MODEL, cache_dir=reference_onnx_cache))
    with Reranker.from_config(config) as reranker:
        return reranker.score(QUERY, DOCUMENTS, raw=True).astype(np.float64)


def test_the_library_serves_the_calibrated_probability(
    fitted: tuple[dict[str, Any], Path],
    raw_scores: np.ndarray[Any, Any],
    reference_onnx_cache: Path,
) -> None:
    _, path = fitted
    model = ModelConfig(name=REFERENCE_MODEL, cache_dir=reference_onnx_cache, calibration=path)
    with Reranker.from_config(EngineConfig(model=model)) as reranker:
        scores = reranker.score(QUERY, DOCUMENTS)
        raw = reranker.score(QUERY, DOCUMENTS, raw=True)
    assert raw.tolist() == pytest.approx(raw_scores.tolist(), abs=1e-5)
    assert scores.tolist() == pytest.approx(
        expected_probability(path, raw_scores).tolist(), abs=1e-5
    )


@pytest.fixture(scope="module")
def calibrated_server(
    fitted: tuple[dict[str, Any], Path], start_reference_server: StartReferenceServer
) -> Iterator[ServerProcess]:
    _, path = fitted
    with start_reference_server("--calibration", str(path), api_key=None) as process:
        yield process


def test_the_server_serves_the_calibrated_probability_in_the_models_order(
    calibrated_server: ServerProcess,
    fitted: tuple[dict[str, Any], Path],
    raw_scores: np.ndarray[Any, Any],
) -> None:
    report, path = fitted
    with httpx.Client(base_url=calibrated_server.url, timeout=60.0) as client:
        models = client.get("/v1/models").json()["models"]
        body = {"model": REFERENCE_MODEL, "query": QUERY, "documents": DOCUMENTS}
        results = client.post("/v2/rerank", json=body).json()["results"]
    assert models[0]["score"] == f"calibrated:{report['method']}"
    expected = expected_probability(path, raw_scores)
    assert [r["index"] for r in results] == np.argsort(-raw_scores, kind="stable").tolist()
    for result in results:
        assert result["relevance_score"] == pytest.approx(expected[result["index"]], abs=1e-5)


def test_serve_refuses_a_calibration_fitted_on_another_revision(
    fitted: tuple[dict[str, Any], Path], reference_onnx_cache: Path, tmp_path: Path
) -> None:
    _, path = fitted
    data = json.loads(path.read_text())
    data["revision"] = "0" * 40
    other = tmp_path / "other-revision.json"
    other.write_text(json.dumps(data))
    env = server_env(hf_cache=os.environ["HF_HUB_CACHE"], openrerank_cache=reference_onnx_cache)
    command = [sys.executable, "-c", ENTRY_POINT, "serve", "--port", str(free_port())]
    command += ["--model", REFERENCE_MODEL, "--calibration", str(other)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "cannot start" in line]
    assert len(errors) == 1 and f"revision {'0' * 40}" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
