"""Full-collection quality runs of the reference model on ../shared data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openrerank.eval.datasets import BeirDataset, load_beir


@pytest.fixture(scope="session")
def scifact(scifact_dir: Path) -> BeirDataset:
    """BEIR SciFact test with its BM25 top-100 candidates."""
    return load_beir(scifact_dir)


@pytest.fixture(scope="session")
def published_scifact_ndcg(reference_model_dir: Path) -> float:
    """nDCG@10 of the reference model on SciFact, as its hf-cache README reports it."""
    readme = reference_model_dir.parents[2] / "README.md"
    lines = readme.read_text().splitlines()
    row = next(line for line in lines if line.startswith("| **this model**"))
    match = re.search(r"\|\s*([01]\.\d{4})\s*\|", row)
    assert match, f"no nDCG@10 figure in the README row {row!r}"
    return float(match.group(1))
