"""Shared fixtures: the offline Hugging Face cache, the ../shared folder, tiny models and
the session's one ONNX export of the reference model.

Tests never download anything: the hub is switched off before any library reads
its settings, and the cache points at ``../shared/hf-cache`` unless the caller
chose another one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("OPENRERANK_SHARED_DIR", REPO_ROOT.parent / "shared"))
REFERENCE_MODEL = "openrerank/minilm-l6-scifact-ce"

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_CACHE", str(SHARED_DIR / "hf-cache"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

if TYPE_CHECKING:
    from llm_models import Family


def require_shared(relative: str) -> Path:
    """Return a path inside ../shared, failing the test loudly when it is absent."""
    path = SHARED_DIR / relative
    if not path.exists():
        pytest.fail(
            f"{path} is missing: this test needs the shared folder (../shared beside the "
            "repository, or OPENRERANK_SHARED_DIR) with the reference model and data sets",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def reference_model_dir() -> Path:
    """The snapshot folder of the real reference cross-encoder in ../shared/hf-cache."""
    snapshots = require_shared("hf-cache/models--openrerank--minilm-l6-scifact-ce/snapshots")
    return next(p for p in sorted(snapshots.iterdir()) if p.is_dir())


@pytest.fixture(scope="session")
def reference_onnx_cache(
    reference_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """An ONNX cache folder (``cache_dir``, ``OPENRERANK_CACHE``) holding the reference
    model's export, made once per session.

    Every library, CLI run and real server on the reference model in the session points
    its cache here, so none exports the model again (a fresh folder, not the caller's
    ``OPENRERANK_CACHE``: what the tests read is what this session wrote). Tests may add
    files (an int8 quantization) but must not remove or damage the export.
    """
    from openrerank import EngineConfig, ModelConfig, Reranker

    folder = tmp_path_factory.mktemp("reference-onnx-cache")
    config = EngineConfig(model=ModelConfig(name=REFERENCE_MODEL, cache_dir=folder))
    with Reranker.from_config(config) as reranker:
        assert reranker.info.backend == "onnx", reranker.info
        assert reranker.info.revision == reference_model_dir.name, reranker.info
    return folder


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """../shared/data, with the judged data sets."""
    return require_shared("data")


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    """The BEIR SciFact folder in ../shared/data."""
    return require_shared("data/beir-scifact")


@pytest.fixture(scope="session")
def tiny_model_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Build (once per session) a tiny random model: ``factory(arch, num_labels=1)``."""
    from tiny_models import build_tiny_model

    built: dict[tuple[str, int], Path] = {}

    def factory(arch: str, num_labels: int = 1) -> Path:
        key = (arch, num_labels)
        if key not in built:
            folder = tmp_path_factory.mktemp(f"tiny-{arch}-{num_labels}")
            built[key] = build_tiny_model(arch, folder, num_labels=num_labels)
        return built[key]

    return factory


@pytest.fixture(scope="session")
def llm_model_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Build (once per session) a tiny random LLM reranker (tests/llm_models.py):
    ``factory(family, seq_cls=False)`` with family ``qwen3``, ``qwen2`` or ``gemma``."""
    from llm_models import build_llm_reranker

    built: dict[tuple[str, bool], Path] = {}

    def factory(family: Family, seq_cls: bool = False) -> Path:
        key = (family, seq_cls)
        if key not in built:
            folder = tmp_path_factory.mktemp(f"llm-{family}{'-seq-cls' if seq_cls else ''}")
            built[key] = build_llm_reranker(folder, family, seq_cls=seq_cls)
        return built[key]

    return factory


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model_factory: Callable[..., Path]) -> Path:
    """A tiny random BERT cross-encoder (one logit) with a WordPiece tokenizer."""
    return tiny_model_factory("bert")


@pytest.fixture(scope="session")
def published_model_figures(reference_model_dir: Path) -> dict[str, dict[str, float]]:
    """The reference model README's evaluation table: row label -> column -> figure.

    Rows are keyed ``"bm25"`` (the shared BM25 order) and ``"model"`` (the reference
    cross-encoder); columns by their header, e.g. ``"DL19 MRR(rel>=2)@10"``.
    """
    readme = reference_model_dir.parents[2] / "README.md"
    lines = readme.read_text(encoding="utf-8").splitlines()
    header = next(line for line in lines if line.startswith("| system |"))
    columns = [cell.strip() for cell in header.strip("|").split("|")][1:]
    rows = {"bm25": "| BM25 order", "model": "| **this model**"}
    figures: dict[str, dict[str, float]] = {}
    for key, prefix in rows.items():
        row = next(line for line in lines if line.startswith(prefix))
        cells = [cell.strip().strip("*") for cell in row.strip("|").split("|")][1:]
        figures[key] = {c: float(v) for c, v in zip(columns, cells, strict=True)}
    return figures
