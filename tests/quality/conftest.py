"""Quality runs of the reference model on ../shared data.

The full-collection runs are marked ``quality`` (``make quality``); the fixed-subset check
and the first-stage checks run in the default suite.
"""

from __future__ import annotations

from itertools import takewhile
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from openrerank.eval.datasets import BeirDataset, load_beir


@pytest.fixture(scope="session")
def scifact(scifact_dir: Path) -> BeirDataset:
    """BEIR SciFact test with its BM25 top-100 candidates."""
    return load_beir(scifact_dir)


@pytest.fixture(scope="session")
def published_scifact_ndcg(published_model_figures: dict[str, dict[str, float]]) -> float:
    """nDCG@10 of the reference model on SciFact, as its hf-cache README reports it."""
    return published_model_figures["model"]["SciFact nDCG@10"]


@pytest.fixture(scope="session")
def readme_scifact_ndcg() -> dict[str, float]:
    """System label to SciFact nDCG@10 in the "Measured" table of the repository README.

    Labels are the table's first cells (``"openvino bf16"``); a cell's first number is
    the figure, without the difference from fp32 printed after it.
    """
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    lines = readme.split("## Measured", 1)[1].splitlines()
    header = next(line for line in lines if line.startswith("| system |"))
    column = next(i for i, cell in enumerate(_cells(header)) if cell.startswith("SciFact"))
    rows = takewhile(lambda line: line.startswith("|"), lines[lines.index(header) + 2 :])
    return {cells[0]: float(cells[column].split()[0]) for cells in map(_cells, rows)}


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]
