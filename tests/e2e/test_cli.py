from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from openrerank import __version__
from openrerank.cli.main import app

runner = CliRunner()
DOCUMENTS = [
    "the weather is sunny today",
    "a cross encoder reads the query and the document together",
    "the quick brown fox",
]


def write_documents(tmp_path: Path) -> Path:
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps({"text": d}) for d in DOCUMENTS) + "\n")
    return path


def test_cli_version_and_help() -> None:
    assert runner.invoke(app, ["--version"]).stdout.strip() == f"openrerank {__version__}"
    result = runner.invoke(app, ["rank", "--help"])
    assert result.exit_code == 0 and "--top-n" in result.stdout


def test_cli_rank_json_output_is_ranked_and_cut(tiny_model_dir: Path, tmp_path: Path) -> None:
    args = [
        "rank",
        "--model",
        str(tiny_model_dir),
        "--backend",
        "fake",
        "--query",
        "cross encoder query document",
        "--documents",
        str(write_documents(tmp_path)),
        "--top-n",
        "2",
        "--format",
        "json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert len(rows) == 2 and rows[0]["index"] == 1
    assert rows[0]["document"] == DOCUMENTS[1]
    assert rows[0]["relevance_score"] >= rows[1]["relevance_score"]


def test_cli_rank_reads_plain_lines_from_stdin_and_prints_a_table(tiny_model_dir: Path) -> None:
    args = ["rank", "--model", str(tiny_model_dir), "--backend", "fake", "-q", "fox"]
    result = runner.invoke(app, args, input="\n".join(DOCUMENTS))
    assert result.exit_code == 0, result.output
    assert "rank" in result.stdout and "the quick brown fox" in result.stdout


def test_cli_bad_input_exits_2_with_a_one_line_error(tiny_model_dir: Path) -> None:
    args = ["rank", "--model", str(tiny_model_dir), "--backend", "fake", "-q", "   "]
    result = runner.invoke(app, args, input="doc\n")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: query must be a non-empty string")


def test_cli_missing_model_offline_is_a_one_line_error(tmp_path: Path) -> None:
    args = ["rank", "--model", "nobody/no-such-model", "-q", "q"]
    result = runner.invoke(app, args, input="doc\n")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "HF_HUB_CACHE" in lines[0] and "local model directory" in lines[0]


def test_cli_console_script_runs_as_a_module(tiny_model_dir: Path) -> None:
    command = [sys.executable, "-c", "from openrerank.cli.main import main; main()", "--version"]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == f"openrerank {__version__}"


def test_cli_rank_the_readme_example_file_ranks_as_the_library(reference_model_dir: Path) -> None:
    """The README's `rank` example: examples/documents.jsonl, best first."""
    from openrerank import Reranker

    example = Path(__file__).parents[2] / "examples" / "documents.jsonl"
    query = "How do I reset my password?"
    args = ["rank", "--model", str(reference_model_dir), "--backend", "torch", "-q", query]
    result = runner.invoke(app, [*args, "--documents", str(example), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    texts = [json.loads(line)["text"] for line in example.read_text().splitlines()]
    with Reranker(str(reference_model_dir), backend="torch") as reranker:
        expected = reranker.rank(query, texts)
    assert [row["index"] for row in rows] == [r.index for r in expected]
    assert "password" in rows[0]["document"] and "reset" in rows[0]["document"]
