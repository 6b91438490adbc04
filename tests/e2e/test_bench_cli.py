"""``openrerank bench compare`` end to end, small and untimed: the CI smoke of the benchmark.

It runs the real pipeline on one TREC DL query (100 passages): the library single
stream, a real server under 2 HTTP clients, the FLOPs count and the matmul peak, and
writes the tables, JSON and plot. Baselines are left out (they install their own
virtual environments from PyPI, which CI must not depend on).
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from conftest import REFERENCE_MODEL
from openrerank.cli.main import app

runner = CliRunner()


def test_bench_smoke_writes_tables_json_and_plot(shared_data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    args = [
        "bench", "compare", "--model", REFERENCE_MODEL, "--data", str(shared_data_dir),
        "--workload", "dl19-100", "--queries", "1", "--repeats", "1", "--warmup", "0",
        "--precision", "fp32", "--clients", "2", "--baseline", "none", "--out", str(out),
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    assert data["skipped"] == []
    [measured] = data["measurements"]
    assert (measured["system"], measured["precision"]) == ("openrerank", "fp32")
    assert measured["serial"]["documents"] == 100
    assert measured["concurrent"]["documents"] == 200 and measured["concurrent"]["errors"] == 0
    assert measured["peak_rss_mb"] > 0
    assert data["costs"]["dl19-100"]["pairs"] == 100
    assert "| dl19-100 | openrerank | fp32 |" in (out / "results.md").read_text()
    assert (out / "throughput.png").stat().st_size > 1000


def test_bench_refuses_an_unknown_workload(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["bench", "compare", "--workload", "msmarco", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "msmarco" in result.output and "scifact-100" in result.output
