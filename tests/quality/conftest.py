"""Full-collection quality runs of the reference model on ../shared data."""

from __future__ import annotations

from pathlib import Path

import pytest

from openrerank.eval.datasets import BeirDataset, load_beir


@pytest.fixture(scope="session")
def scifact(scifact_dir: Path) -> BeirDataset:
    """BEIR SciFact test with its BM25 top-100 candidates."""
    return load_beir(scifact_dir)


@pytest.fixture(scope="session")
def published_scifact_ndcg(published_model_figures: dict[str, dict[str, float]]) -> float:
    """nDCG@10 of the reference model on SciFact, as its hf-cache README reports it."""
    return published_model_figures["model"]["SciFact nDCG@10"]
