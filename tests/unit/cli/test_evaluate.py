"""``openrerank eval`` and ``openrerank calibrate`` in-process, on a tiny BEIR folder with
the tiny model on the fake backend (deterministic scores, no ONNX export).

Expected figures are computed here from the run file and from the scores the library
gives for the same pairs, not read back from the command's own code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from openrerank.cli.main import app
from openrerank.engine.model.calibration import load_calibration
from openrerank.eval.datasets import load_run
from openrerank.eval.measures import evaluate, ranking_to_run
from openrerank.sync import Reranker

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DEFAULT_MEASURES = ["nDCG@10", "RR@10", "R@10", "R@100", "AP"]
K = 4

TOPICS = [
    "vitamin deficiency and bone fractures in older adults",
    "the powerhouse of the cell produces energy",
    "search engines rerank the best documents",
    "heat waves droughts and heavy rainfall",
    "a programming language to integrate systems",
    "patients treated with antibiotics recovered",
    "proteins fold into structures that determine function",
    "the capital and largest city of france",
    "spiders have eight legs and two body segments",
    "neural networks learn representations of text",
    "water boils at one hundred degrees celsius",
    "genes in tumour cells before and after therapy",
    "a new exhibition about ancient egyptian art",
    "the vaccine reduced hospital admissions by half",
    "sleep is important for memory and learning",
    "moderate coffee intake may lower the risk of disease",
    "the train leaves from the central station",
    "open models hosted on your own servers",
    "insulin regulates glucose in the blood",
    "the quick brown fox jumps over the lazy dog",
]


def write_collection(root: Path, *, grade: int = 1) -> tuple[Path, Path]:
    """One document per topic; query i asks about topic i, whose document is judged
    ``grade`` and sits last of the run's K candidates (three other topics first)."""
    root.mkdir(parents=True)
    n = len(TOPICS)
    with (root / "corpus.jsonl").open("w") as corpus, (root / "queries.jsonl").open("w") as qs:
        for i, topic in enumerate(TOPICS):
            corpus.write(json.dumps({"_id": f"d{i}", "title": "", "text": topic + "."}) + "\n")
            qs.write(json.dumps({"_id": f"q{i}", "text": " ".join(topic.split()[:4])}) + "\n")
    (root / "qrels").mkdir()
    judgments = [f"q{i}\td{i}\t{grade}\nq{i}\td{(i + 1) % n}\t0" for i in range(n)]
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(judgments))
    run = root / "run.tsv"
    rows = []
    for i in range(n):
        docs = [(i + j) % n for j in (1, 2, 3, 0, 4)]  # the relevant one 4th, then a 5th
        rows += [f"q{i}\td{d}\t{rank}" for rank, d in enumerate(docs, start=1)]
    run.write_text("query-id\tdoc-id\trank\n" + "\n".join(rows) + "\n")
    return root, run


@pytest.fixture
def collection(tmp_path: Path) -> tuple[Path, Path]:
    return write_collection(tmp_path / "toy")


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def eval_args(tiny_model_dir: Path, collection: tuple[Path, Path], *extra: str) -> list[str]:
    dataset, run = collection
    return [
        *("eval", "--dataset", str(dataset), "--run", str(run), "--k", str(K)),
        *("--model", str(tiny_model_dir), "--backend", "fake", *extra),
    ]


def run_json(tiny_model_dir: Path, collection: tuple[Path, Path], *extra: str) -> dict[str, Any]:
    result = invoke(*eval_args(tiny_model_dir, collection, *extra, "--json"))
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def library_ranking(tiny_model_dir: Path, dataset: Path, run: Path) -> dict[str, list[str]]:
    """Every query's top-K run candidates ranked by the library's raw score, ties in
    run order."""
    candidates = load_run(run)
    corpus, queries = (
        {r["_id"]: r["text"] for r in map(json.loads, (dataset / name).read_text().splitlines())}
        for name in ("corpus.jsonl", "queries.jsonl")
    )
    ranked: dict[str, list[str]] = {}
    with Reranker(str(tiny_model_dir), backend="fake") as reranker:
        for query_id, doc_ids in candidates.items():
            top = doc_ids[:K]
            raw = reranker.score(queries[query_id], [corpus[d] for d in top], raw=True).tolist()
            ranked[query_id] = [top[i] for i in sorted(range(len(top)), key=lambda i: (-raw[i], i))]
    return ranked


def qrels_of(dataset: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in (dataset / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query_id, doc_id, grade = line.split("\t")
        qrels.setdefault(query_id, {})[doc_id] = int(grade)
    return qrels


def expected_measures(
    qrels: Mapping[str, Mapping[str, int]], ranking: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    return evaluate(qrels, ranking_to_run(ranking), DEFAULT_MEASURES, rel=1)


def test_eval_json_reports_first_stage_and_library_figures(
    tiny_model_dir: Path, collection: tuple[Path, Path]
) -> None:
    dataset, run = collection
    report = run_json(tiny_model_dir, collection)
    qrels = qrels_of(dataset)
    first = expected_measures(qrels, {q: d[:K] for q, d in load_run(run).items()})
    reranked = expected_measures(qrels, library_ranking(tiny_model_dir, dataset, run))
    assert list(report["measures"]) == DEFAULT_MEASURES
    for measure in DEFAULT_MEASURES:
        assert report["measures"][measure]["first_stage"] == pytest.approx(first[measure])
        assert report["measures"][measure]["reranked"] == pytest.approx(reranked[measure])
    # The fake model scores word overlap, and each query's judged document shares its words.
    assert reranked["nDCG@10"] > first["nDCG@10"]
    assert report["first_stage"] == "run run.tsv"
    assert (report["queries"], report["pairs"], report["k"], report["rel"]) == (20, 80, K, 1)
    assert set(report["per_query"]) == set(qrels)
    assert report["wins"] + report["losses"] + report["ties"] == 20
    sigmoid = report["reliability"]["model sigmoid"]
    assert (sigmoid["pairs"], sigmoid["positives"]) == (80, 20)


def test_eval_saves_the_reranked_run_and_plots_the_deltas(
    tiny_model_dir: Path, collection: tuple[Path, Path], tmp_path: Path
) -> None:
    dataset, run = collection
    saved, plot = tmp_path / "reranked.trec", tmp_path / "deltas.png"
    report = run_json(tiny_model_dir, collection, "--save-run", str(saved), "--plot", str(plot))
    ranking = library_ranking(tiny_model_dir, dataset, run)
    assert {q: list(d) for q, d in load_run(saved).items()} == ranking
    assert report["measures"]["nDCG@10"]["reranked"] == pytest.approx(
        evaluate(qrels_of(dataset), ranking_to_run(load_run(saved)), ["nDCG@10"])["nDCG@10"]
    )
    assert plot.read_bytes()[:8] == PNG_MAGIC


def test_eval_prints_a_table_with_every_measure(
    tiny_model_dir: Path, collection: tuple[Path, Path], tmp_path: Path
) -> None:
    plot = tmp_path / "deltas.png"
    result = invoke(*eval_args(tiny_model_dir, collection, "--plot", str(plot)))
    assert result.exit_code == 0, result.output
    for measure in DEFAULT_MEASURES:
        assert measure in result.stdout
    assert "paired sign-flip p" in result.stdout
    assert "reliability" in result.stdout and "model sigmoid" in result.stdout
    assert f"plot: {plot}" in result.stdout.replace("\n", "")


@pytest.mark.parametrize(
    ("flags", "measures"),
    [
        (["--metrics", "nDCG@5,AP"], ["nDCG@5", "AP"]),
        (["--metrics", "RR@3", "--metrics", " R@2 , nDCG@5"], ["RR@3", "R@2", "nDCG@5"]),
    ],
)
def test_eval_metrics_chooses_the_measures(
    tiny_model_dir: Path, collection: tuple[Path, Path], flags: list[str], measures: list[str]
) -> None:
    report = run_json(tiny_model_dir, collection, *flags)
    assert list(report["measures"]) == measures


def test_eval_reports_an_unknown_measure_as_an_error(
    tiny_model_dir: Path, collection: tuple[Path, Path]
) -> None:
    result = invoke(*eval_args(tiny_model_dir, collection, "--metrics", "nDCG@ten", "--json"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unknown or malformed measure 'nDCG@ten'")
    assert "Traceback" not in result.output


def test_eval_refuses_a_calibration_file_with_a_server_url(
    collection: tuple[Path, Path], tmp_path: Path
) -> None:
    dataset, _ = collection
    result = invoke(
        *("eval", "--dataset", str(dataset), "--url", "http://127.0.0.1:9"),
        *("--calibration", str(tmp_path / "calibration.json")),
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --calibration applies to library scores")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["eval", "calibrate"])
def test_a_missing_dataset_is_a_one_line_error(command: str, tmp_path: Path) -> None:
    result = invoke(command, "--dataset", str(tmp_path / "missing"), "--backend", "fake")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "not a directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_malformed_qrels_line_is_named_in_the_error(collection: tuple[Path, Path]) -> None:
    dataset, run = collection
    qrels = dataset / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text() + "\nq0\td3\tvery relevant\n")
    result = invoke("eval", "--dataset", str(dataset), "--run", str(run))
    assert result.exit_code == 1
    assert f"{qrels}:42: score must be an integer" in result.stderr
    assert "Traceback" not in result.output


def calibrate_args(tiny_model_dir: Path, dataset: Path, run: Path, out: Path) -> list[str]:
    return [
        *("calibrate", "--dataset", str(dataset), "--run", str(run), "--k", str(K)),
        *("--model", str(tiny_model_dir), "--backend", "fake", "--out", str(out)),
    ]


def test_calibrate_writes_a_calibration_that_eval_can_check(
    tiny_model_dir: Path, collection: tuple[Path, Path], tmp_path: Path
) -> None:
    dataset, run = collection
    out = tmp_path / "calibration.json"
    result = invoke(*calibrate_args(tiny_model_dir, dataset, run, out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    calibration = load_calibration(out)
    assert report["file"] == str(out)
    assert report["method"] == calibration.method
    losses = report["choice"]["cv_log_loss"]
    assert report["method"] == min(losses, key=losses.get)
    assert report["fit"]["queries"] + report["held_out"]["queries"] == 20
    assert report["fit"]["pairs"] + report["held_out"]["before"]["pairs"] == 20 * K
    with Reranker(str(tiny_model_dir), backend="fake") as reranker:
        assert calibration.model == reranker.info.name
    assert calibration.fitted_on["backend"] == "fake"
    assert calibration.fitted_on["dataset"] == "toy"

    checked = run_json(tiny_model_dir, collection, "--calibration", str(out))
    plain = run_json(tiny_model_dir, collection)
    reliability = checked["reliability"]
    assert set(reliability) == {"model sigmoid", f"calibrated ({calibration.method})", "thresholds"}
    assert reliability["model sigmoid"] == plain["reliability"]["model sigmoid"]
    assert checked["measures"] == plain["measures"], "a calibration never changes the ranking"


def test_calibrate_prints_the_fit_and_where_it_wrote_it(
    tiny_model_dir: Path, collection: tuple[Path, Path], tmp_path: Path
) -> None:
    dataset, run = collection
    out = tmp_path / "calibration.json"
    result = invoke(*calibrate_args(tiny_model_dir, dataset, run, out))
    assert result.exit_code == 0, result.output
    assert "held-out queries" in result.stdout
    assert "openrerank serve --calibration" in result.stdout.replace("\n", " ")
    assert out.is_file()


def test_calibrate_without_relevant_pairs_is_a_clear_error(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    dataset, run = write_collection(tmp_path / "toy", grade=0)
    out = tmp_path / "calibration.json"
    result = invoke(*calibrate_args(tiny_model_dir, dataset, run, out))
    assert result.exit_code == 1
    # (the finished progress bar may leave an empty line on a stderr that is not a terminal)
    assert result.stderr.strip().startswith("error: calibration needs relevant pairs")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not out.exists()
