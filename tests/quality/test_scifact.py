"""The reference model reproduces its published SciFact figures on each fp32 backend.

The published figures truncate each abstract to the model window (sentence-transformers),
so the runs truncate too (``max_chunks_per_doc=1``); windows are measured in
``bench/LONG_DOCUMENTS.md``. ONNX runs through ``openrerank eval`` with its built-in BM25
first stage (the product path end to end); torch through the library on the shared run.

onnx int8 and openvino bf16 run through the library on the shared run (the candidates
``openrerank eval --run`` reranks for the README's "Measured" table), and must reproduce that
table's figures (read from README.md) within the same tolerance as fp32. A check of only
the documented relation to fp32 (int8 within 0.015, bf16 within 0.005) would let a change
of the quantization recipe that moves int8 by 0.01 pass while the README goes stale.

These runs take 10-20 minutes each on 2 cores: they are marked ``quality`` and run by
``make quality``; ``test_scifact_subset.py`` is the default suite's check.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import REFERENCE_MODEL
from openrerank import Reranker
from openrerank.cli.main import app
from openrerank.eval.datasets import BeirDataset
from openrerank.eval.measures import evaluate
from openrerank.eval.runner import rerank_candidates
from openrerank.types import BackendName, Precision

pytestmark = pytest.mark.quality

# Our scores vs the sentence-transformers run behind the README differ by ~1e-6, which can
# swap near-tied candidates.
BACKEND_TOLERANCE = 0.002
PRINTED = 5e-5


def test_eval_cli_reproduces_the_published_scifact_figures(
    scifact: BeirDataset, published_model_figures: dict[str, dict[str, float]]
) -> None:
    result = CliRunner().invoke(
        app,
        [
            *("eval", "--model", REFERENCE_MODEL, "--dataset", str(scifact.path)),
            *("--max-chunks-per-doc", "1", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    measures = report["measures"]
    bm25, model = published_model_figures["bm25"], published_model_figures["model"]
    print(f"\nSciFact eval: { {m: round(v['reranked'], 4) for m, v in measures.items()} }")
    assert report["queries"] == 300 and report["rel"] == 1
    assert measures["nDCG@10"]["first_stage"] == pytest.approx(bm25["SciFact nDCG@10"], abs=PRINTED)
    assert measures["RR@10"]["first_stage"] == pytest.approx(bm25["SciFact MRR@10"], abs=PRINTED)
    for measure, column in (
        ("nDCG@10", "SciFact nDCG@10"),
        ("RR@10", "SciFact MRR@10"),
        ("R@10", "SciFact R@10"),
    ):
        assert measures[measure]["reranked"] == pytest.approx(
            model[column], abs=BACKEND_TOLERANCE
        ), measure


def test_torch_reproduces_the_published_scifact_ndcg(
    scifact: BeirDataset, published_scifact_ndcg: float
) -> None:
    assert len(scifact.candidates) == 300
    with Reranker(REFERENCE_MODEL, backend="torch") as reranker:
        run = rerank_candidates(reranker, scifact, max_chunks_per_doc=1)
    ndcg = evaluate(scifact.qrels, run, ("nDCG@10",))["nDCG@10"]
    print(f"\nSciFact nDCG@10 torch fp32: {ndcg:.4f} (published {published_scifact_ndcg})")
    assert abs(ndcg - published_scifact_ndcg) <= BACKEND_TOLERANCE, ndcg


def cpu_runs_bf16() -> bool:
    """Whether OpenVINO reports native bf16 (AVX-512 BF16 or AMX) on this CPU."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def readme_row(figures: dict[str, float], prefix: str) -> float:
    """The figure of the one README row whose label starts with ``prefix``."""
    matching = [label for label in figures if label.startswith(prefix)]
    assert len(matching) == 1, f"README Measured table: rows {matching} start with {prefix!r}"
    return figures[matching[0]]


@pytest.mark.parametrize(
    ("backend", "precision", "row"),
    [("onnx", "int8", "onnx int8"), ("openvino", "bf16", "openvino bf16")],
    ids=["onnx-int8", "openvino-bf16"],
)
def test_reduced_precision_reproduces_the_readme_scifact_ndcg(
    backend: BackendName,
    precision: Precision,
    row: str,
    scifact: BeirDataset,
    readme_scifact_ndcg: dict[str, float],
    published_scifact_ndcg: float,
) -> None:
    if precision == "bf16" and not cpu_runs_bf16():
        pytest.skip("this CPU has no native bf16 (AVX-512 BF16 or AMX); the figure needs one")
    expected = readme_row(readme_scifact_ndcg, row)
    with Reranker(REFERENCE_MODEL, backend=backend, precision=precision) as reranker:
        assert (reranker.info.backend, reranker.info.precision) == (backend, precision)
        run = rerank_candidates(reranker, scifact, max_chunks_per_doc=1)
    ndcg = evaluate(scifact.qrels, run, ("nDCG@10",))["nDCG@10"]
    print(
        f"\nSciFact nDCG@10 {backend} {precision}: {ndcg:.4f} (README {expected}, "
        f"{ndcg - published_scifact_ndcg:+.4f} from fp32's published {published_scifact_ndcg})"
    )
    assert abs(ndcg - expected) <= BACKEND_TOLERANCE, ndcg
