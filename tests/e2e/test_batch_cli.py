"""``openrerank batch`` on this machine: files in, rankings out, resumable, BEIR to TREC."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from openrerank import EngineConfig, ModelConfig, Reranker
from openrerank.cli.main import app

runner = CliRunner()
DOCUMENTS = ["the quick brown fox", "a lazy dog sleeps", "fox and dog", "nothing here"]
QUERIES = {"q1": "quick fox", "q2": "lazy dog", "q3": "dog and fox"}


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def fake(model_dir: Path) -> list[str]:
    return ["--model", str(model_dir), "--backend", "fake"]


def test_batch_ranks_each_row_and_a_rerun_writes_nothing_twice(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    rows = [{"id": q, "query": text, "documents": DOCUMENTS} for q, text in QUERIES.items()]
    rows[0]["top_n"] = 2
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    args = ["batch", *fake(tiny_model_dir), "--input", str(source), "--output", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wrote 3 rows" in result.stderr and "pairs/s" in result.stderr
    written = [json.loads(line) for line in out.read_text().splitlines()]
    engine = EngineConfig(model=ModelConfig(name=str(tiny_model_dir), backend="fake"))
    with Reranker.from_config(engine) as reranker:
        for row, got in zip(rows, written, strict=True):
            want = reranker.rank(str(row["query"]), DOCUMENTS, top_n=row.get("top_n"))  # type: ignore[arg-type]
            assert got == {
                "id": row["id"],
                "results": [{"index": r.index, "relevance_score": r.relevance_score} for r in want],
            }
    again = runner.invoke(app, [*args, "--quiet"])
    assert again.exit_code == 0 and "wrote 0 rows" in again.stderr
    assert "3 were already there" in again.stderr
    assert len(out.read_text().splitlines()) == 3


def test_a_refused_row_exits_2_naming_it_or_goes_to_the_errors_file(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    rows = [
        {"id": "ok", "query": "fox", "documents": DOCUMENTS},
        {"id": "bad", "query": "fox", "documents": []},
    ]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    args = ["batch", *fake(tiny_model_dir), "--input", str(source), "--quiet"]
    result = runner.invoke(app, [*args, "--output", str(tmp_path / "a.jsonl")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {source}:2 (id 'bad'): ")
    assert "Traceback" not in result.output
    errors = tmp_path / "errors.jsonl"
    kept = runner.invoke(
        app, [*args, "--output", str(tmp_path / "b.jsonl"), "--errors", str(errors)]
    )
    assert kept.exit_code == 0 and "1 refused" in kept.stderr
    assert [json.loads(line)["id"] for line in errors.read_text().splitlines()] == ["bad"]


def test_input_and_beir_are_one_or_the_other(tiny_model_dir: Path, tmp_path: Path) -> None:
    both = ["batch", *fake(tiny_model_dir), "--input", "x", "--beir", "y", "--output", "o.jsonl"]
    result = runner.invoke(app, both)
    assert result.exit_code == 2 and "either --input FILE or --beir FOLDER" in result.output
    beir_only = ["batch", *fake(tiny_model_dir), "--beir", str(tmp_path), "--output", "o.jsonl"]
    result = runner.invoke(app, beir_only)
    assert result.exit_code == 2 and "--run" in result.output


def write_beir(folder: Path) -> Path:
    write_jsonl(
        folder / "corpus.jsonl",
        [{"_id": f"d{i}", "title": "", "text": text} for i, text in enumerate(DOCUMENTS)],
    )
    write_jsonl(folder / "queries.jsonl", [{"_id": q, "text": t} for q, t in QUERIES.items()])
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td0\t1\n")
    run = folder / "first-stage.tsv"
    lines = ["query-id\tdoc-id\trank"]
    lines += [f"{q}\td{i}\t{i + 1}" for q in ("q1", "q2") for i in range(3)]
    run.write_text("\n".join(lines) + "\n")
    return run


def test_a_beir_folder_and_a_run_become_a_trec_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    run = write_beir(tmp_path)
    out = tmp_path / "reranked.trec"
    args = ["batch", *fake(tiny_model_dir), "--beir", str(tmp_path), "--run", str(run)]
    result = runner.invoke(app, [*args, "--output", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    engine = EngineConfig(model=ModelConfig(name=str(tiny_model_dir), backend="fake"))
    expected = []
    with Reranker.from_config(engine) as reranker:
        for query in ("q1", "q2"):
            ranked = reranker.rank(QUERIES[query], DOCUMENTS[:3])
            expected += [
                f"{query} Q0 d{r.index} {rank} {r.relevance_score:.6f} openrerank"
                for rank, r in enumerate(ranked, start=1)
            ]
    assert out.read_text().splitlines() == expected
    assert not (tmp_path / "reranked.trec.partial.jsonl").exists()
