"""``openrerank eval`` on the shared judged data with the reference model.

It reproduces the published figures (the shared BM25 run and the reference model README
on TREC DL 2019), builds its own BM25 first stage, writes its plot and run files, and
evaluates a running server exactly as it evaluates the library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import REFERENCE_MODEL, require_shared
from e2e.server_process import REFERENCE_API_KEY, ServerProcess
from openrerank.cli.main import app
from openrerank.eval.datasets import load_beir, load_run
from openrerank.eval.measures import evaluate, per_query, ranking_to_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Figures printed with four decimals agree when they round alike.
PRINTED = 5e-5
# Our ONNX Runtime scores vs the sentence-transformers run behind the README: scores
# differ by ~1e-6, which can swap near-tied candidates and move a mean slightly.
BACKEND_TOLERANCE = 0.002


@pytest.fixture(scope="module")
def dl19_dir() -> Path:
    return require_shared("data/trec-dl-2019-passage")


def run_eval(onnx_cache: Path, *args: str) -> dict[str, Any]:
    """``openrerank eval ... --json`` in-process; its parsed report."""
    result = CliRunner().invoke(
        app, ["eval", *args, "--json"], env={"OPENRERANK_CACHE": str(onnx_cache)}
    )
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def dl19(
    dl19_dir: Path, reference_onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("eval-dl19")
    report = run_eval(
        reference_onnx_cache,
        *("--model", REFERENCE_MODEL, "--dataset", str(dl19_dir)),
        *("--run", str(dl19_dir / "run" / "bm25_top100.tsv"), "--max-chunks-per-doc", "1"),
        *("--plot", str(out / "deltas.png"), "--save-run", str(out / "run.trec")),
    )
    return report, out


def test_dl19_first_stage_reproduces_the_published_bm25_figures(
    dl19: tuple[dict[str, Any], Path], published_model_figures: dict[str, dict[str, float]]
) -> None:
    report, _ = dl19
    bm25 = published_model_figures["bm25"]
    measures = report["measures"]
    assert report["rel"] == 2, "graded TREC DL judgments: binary measures from grade 2"
    assert report["queries"] == 43
    assert measures["nDCG@10"]["first_stage"] == pytest.approx(bm25["DL19 nDCG@10"], abs=PRINTED)
    assert measures["RR@10"]["first_stage"] == pytest.approx(
        bm25["DL19 MRR(rel>=2)@10"], abs=PRINTED
    )
    assert measures["R@10"]["first_stage"] == pytest.approx(bm25["DL19 R(rel>=2)@10"], abs=PRINTED)


def test_dl19_reranked_reproduces_the_reference_model_readme(
    dl19: tuple[dict[str, Any], Path], published_model_figures: dict[str, dict[str, float]]
) -> None:
    report, _ = dl19
    model = published_model_figures["model"]
    measures = report["measures"]
    print(f"\nDL19 reranked: { {m: round(v['reranked'], 4) for m, v in measures.items()} }")
    assert measures["nDCG@10"]["reranked"] == pytest.approx(
        model["DL19 nDCG@10"], abs=BACKEND_TOLERANCE
    )
    assert measures["RR@10"]["reranked"] == pytest.approx(
        model["DL19 MRR(rel>=2)@10"], abs=BACKEND_TOLERANCE
    )
    assert measures["R@10"]["reranked"] == pytest.approx(
        model["DL19 R(rel>=2)@10"], abs=BACKEND_TOLERANCE
    )
    # Only the top 100 are reranked, so recall at 100 cannot change.
    assert measures["R@100"]["reranked"] == pytest.approx(measures["R@100"]["first_stage"])


def test_the_saved_run_and_per_query_figures_agree_with_the_report(
    dl19: tuple[dict[str, Any], Path], dl19_dir: Path
) -> None:
    report, out = dl19
    dataset = load_beir(dl19_dir)
    saved = load_run(out / "run.trec")
    assert {q: set(d) for q, d in saved.items()} == {
        q: set(d) for q, d in dataset.candidates.items()
    }
    from_file = evaluate(dataset.qrels, ranking_to_run(saved), ("nDCG@10",))["nDCG@10"]
    assert from_file == pytest.approx(report["measures"]["nDCG@10"]["reranked"], abs=1e-12)
    per_query_file = per_query(dataset.qrels, ranking_to_run(saved), "nDCG@10")
    assert {q: v["reranked"] for q, v in report["per_query"].items()} == pytest.approx(
        per_query_file
    )
    deltas = [v["reranked"] - v["first_stage"] for v in report["per_query"].values()]
    assert report["wins"] == sum(d > 1e-12 for d in deltas)
    assert 0 < report["p_value"] <= 1
    assert (out / "deltas.png").read_bytes()[:8] == PNG_MAGIC


def test_the_built_in_bm25_first_stage_matches_the_shared_run(
    scifact_dir: Path, reference_onnx_cache: Path
) -> None:
    # The shared SciFact run was made with bm25s (Lucene BM25, stemming); the built-in
    # first stage must give the same top 10 for the same queries.
    report = run_eval(
        reference_onnx_cache,
        *("--model", REFERENCE_MODEL, "--dataset", str(scifact_dir)),
        *("--k", "10", "--max-queries", "20", "--max-chunks-per-doc", "1"),
    )
    dataset = load_beir(scifact_dir)
    first = [q for q in dataset.queries if q in dataset.qrels][:20]
    shared = ranking_to_run({q: dataset.candidates.get(q, ())[:10] for q in first})
    qrels = {q: dataset.qrels[q] for q in first}
    expected = evaluate(qrels, shared, ("nDCG@10", "RR@10", "R@10"))
    assert report["first_stage"].startswith("BM25 (built-in")
    assert report["queries"] == 20 and report["pairs"] <= 200
    for measure, value in expected.items():
        assert report["measures"][measure]["first_stage"] == pytest.approx(value, abs=1e-12)


def test_evaluating_a_server_gives_the_library_figures(
    reference_server: ServerProcess, dl19_dir: Path, reference_onnx_cache: Path
) -> None:
    common = (
        *("--model", REFERENCE_MODEL, "--dataset", str(dl19_dir)),
        *("--run", str(dl19_dir / "run" / "bm25_top100.tsv"), "--max-queries", "6"),
        *("--k", "30", "--max-chunks-per-doc", "1"),
    )
    library = run_eval(reference_onnx_cache, *common)
    remote = run_eval(
        reference_onnx_cache,
        *common,
        *("--url", reference_server.url, "--api-key", REFERENCE_API_KEY, "--concurrency", "3"),
    )
    assert remote["reranker"] == f"{REFERENCE_MODEL} at {reference_server.url}"
    assert remote["pairs"] == library["pairs"] == 180
    for measure, values in library["measures"].items():
        assert remote["measures"][measure]["reranked"] == pytest.approx(
            values["reranked"], abs=1e-9
        ), measure
    assert "served relevance_score" in remote["reliability"]


def test_eval_reports_a_bad_dataset_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "--dataset", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "not a directory" in result.stderr
    assert "Traceback" not in result.output
