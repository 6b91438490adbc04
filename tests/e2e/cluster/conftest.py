"""One local Ray for the tests of this package, stopped when the last of them is done.

It has at least 4 logical CPUs (the tests' actors and replicas reserve one each, more
than this 2-core machine has: logical CPUs only schedule) and its workers read the
reference model's ONNX export of the session (``OPENRERANK_CACHE``), so no actor or
replica exports it again. The SciFact rows
every test ranks, and their local ranking, are made once here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REFERENCE_MODEL
from e2e.cluster.support import OPTIONS, Rows, read_results
from openrerank import EngineConfig, ModelConfig
from openrerank.batch.job import run_job
from openrerank.batch.rows import BatchRow, row_record
from openrerank.batch.scorer import BatchScorer
from openrerank.batch.sources import BeirSource, FileSource

RAY_CPUS = 4
ROWS = 16
DOCUMENTS_PER_ROW = 4
DOCUMENT_CHARS = 600  # well inside one model window: every way of calling scores them alike


@pytest.fixture(scope="package")
def ray_address(reference_onnx_cache: Path) -> Iterator[str]:
    """The address of the package's local Ray (``--ray ADDRESS`` joins it)."""
    import ray

    from openrerank.cluster.runtime import connected

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENRERANK_CACHE", str(reference_onnx_cache))
        patch.setenv("TOKENIZERS_PARALLELISM", "false")
        with connected("local", cpus=RAY_CPUS - 1):
            yield str(ray.get_runtime_context().gcs_address)


@pytest.fixture(scope="package")
def scifact_rows(
    scifact_dir: Path, reference_onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Rows:
    """16 SciFact claims with the starts of 4 BM25 candidates each (few pairs on 2
    cores), ranked by a local job on the reference model."""
    folder = tmp_path_factory.mktemp("scifact-rows")
    rows: list[BatchRow] = []
    for row in BeirSource(scifact_dir, scifact_dir / "run" / "bm25_top100.tsv").rows():
        documents = [str(text)[:DOCUMENT_CHARS] for text in row.documents[:DOCUMENTS_PER_ROW]]
        rows.append(BatchRow(row.id, row.query, documents, top_n=3))
        if len(rows) == ROWS:
            break
    path = folder / "rows.jsonl"
    path.write_text("".join(json.dumps(row_record(row)) + "\n" for row in rows))
    engine = EngineConfig(model=ModelConfig(name=REFERENCE_MODEL, cache_dir=reference_onnx_cache))
    local = folder / "local.jsonl"
    run_job(FileSource(path), local, lambda: BatchScorer(engine, OPTIONS))
    return Rows(path, [str(row.id) for row in rows], read_results(local), engine)
