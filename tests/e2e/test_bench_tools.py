"""``openrerank bench latency`` and ``bench long-documents`` through the CLI, on the tiny
model and a tiny BEIR folder: small, untimed smokes of the tools.

Nothing here judges speed or quality; the figures are checked against what the tools'
inputs make them (documents per query, configurations skipped, rows per system).
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from openrerank.cli.main import app

runner = CliRunner()
TEXTS = [
    "the quick brown fox jumps over the lazy dog " * 6,
    "water boils at one hundred degrees at sea level " * 6,
    "vitamin d deficiency and the risk of bone fractures " * 6,
    "the train to the city leaves from the central station " * 6,
]


def write_scifact(root: Path) -> Path:
    """``root/beir-scifact``: 4 documents, 2 judged queries, each with all 4 as candidates."""
    folder = root / "beir-scifact"
    (folder / "qrels").mkdir(parents=True)
    (folder / "run").mkdir()
    corpus = [{"_id": f"d{i}", "title": "", "text": text} for i, text in enumerate(TEXTS)]
    queries = [{"_id": "q1", "text": "quick fox"}, {"_id": "q2", "text": "bone fractures"}]
    for name, records in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td0\t1\nq2\td2\t1\n")
    rows = [f"{q}\td{i}\t{i + 1}" for q in ("q1", "q2") for i in range(len(TEXTS))]
    (folder / "run" / "bm25_top100.tsv").write_text("query-id\tdoc-id\trank\n" + "\n".join(rows))
    return folder


def test_bench_latency_measures_and_reports_a_config_that_cannot_load(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    dataset = write_scifact(tmp_path)
    out = tmp_path / "latency.json"
    args = [
        "bench", "latency", "--model", str(tiny_model_dir), "--dataset", str(dataset),
        "--configs", "fake-fp32,onnx-fp16", "--repeats", "2", "--warmup", "1", "--json", str(out),
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "| fake-fp32 (baseline) |" in result.output
    report = json.loads(out.read_text())
    measured, skipped = report["results"]
    assert (report["query_id"], report["n_documents"]) == ("q1", len(TEXTS))
    assert len(measured["samples_ms"]) == 2 and measured["speedup"] == 1.0
    assert skipped["skipped"].startswith("load failed")


def test_bench_latency_exits_1_when_nothing_was_measured(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    dataset = write_scifact(tmp_path)
    args = ["bench", "latency", "--model", str(tiny_model_dir), "--dataset", str(dataset)]
    result = runner.invoke(app, [*args, "--configs", "onnx-fp16", "--repeats", "1"])
    assert result.exit_code == 1, result.output


def test_bench_long_documents_prints_a_row_per_system(tiny_model_dir: Path, tmp_path: Path) -> None:
    write_scifact(tmp_path)
    out = tmp_path / "rows.json"
    args = [
        "bench", "long-documents", "--model", str(tiny_model_dir), "--data", str(tmp_path),
        "--sets", "scifact", "--windows", "32", "--top-k", "4", "--aggregations", "max",
        "--json", str(out),
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    systems = [row["system"] for row in rows]
    assert systems == ["BM25 order", "truncate (1 window)", "windows + max"]
    truncate, windows = rows[1], rows[2]
    assert truncate["pairs"] == truncate["documents"] == 2 * len(TEXTS)
    assert windows["pairs"] > windows["documents"]  # every document is over 32 tokens
    assert "SciFact top-4: 2 queries, 8 candidate documents" in result.output
