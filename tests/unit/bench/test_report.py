"""The report's ratios are computed from the run's own measurements."""

from __future__ import annotations

import json
from pathlib import Path

from openrerank.bench.flops import WorkloadCost
from openrerank.bench.measure import Timings
from openrerank.bench.report import EQUAL_WORK, markdown, write
from openrerank.bench.results import Measurement, Windowed
from openrerank.bench.runner import BenchConfig, BenchRun

WINDOWED_DOCS_PER_S = 12.5
WINDOWS = 4 * 180  # 4 requests of 100 documents, 1.8 windows per document


def _timings(docs_per_s: float, requests: int = 4, clients: int = 1) -> Timings:
    wall = 100 * requests / docs_per_s
    return Timings((wall / requests,) * requests, 100 * requests, wall, clients=clients)


def _run(tmp_path: Path) -> BenchRun:
    config = BenchConfig(
        model="m", data_dir=tmp_path, out_dir=tmp_path / "out", venv_dir=tmp_path, clients=8
    )
    run = BenchRun(config, peak_gflops=200.0, environment={"cores": "2"})
    run.costs = {"w": WorkloadCost(pairs=100, tokens=10_000, flops=100 * 4e9)}
    run.measurements = [
        Measurement(
            "openrerank",
            "fp32",
            "w",
            _timings(25),
            _timings(24, clients=8),
            900.0,
            (0.5, 0.25),
            Windowed(_timings(WINDOWED_DOCS_PER_S), windows=WINDOWS),
        ),
        Measurement("sentence-transformers", "fp32", "w", _timings(10), None, 1200.0, (0.5, 0.2)),
        Measurement("infinity", "fp32", "w", _timings(11), _timings(12, clients=8), 1500.0),
    ]
    run.skipped = ["infinity int8: ValueError: no CPU int8 mode"]
    return run


def _row(text: str, *cells: str) -> list[str]:
    prefix = "| " + " | ".join(cells) + " |"
    rows = [line for line in text.splitlines() if line.startswith(prefix)]
    assert rows, f"no row starting {prefix!r} in\n{text}"
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


def test_single_stream_rows_carry_speedup_peak_fraction_and_score_delta(tmp_path: Path) -> None:
    text = markdown(_run(tmp_path))
    ours = _row(text, "w", "openrerank", "fp32", "4000")
    assert ours[5:10] == ["25.0", "2.50x", "100", "50%", "0.0e+00"]
    st = _row(text, "w", "sentence-transformers", "fp32")
    assert st[6] == "1.00x" and st[9] == "5.0e-02"


def test_windowed_throughput_is_pairs_per_second_beside_the_equal_work_ratio(
    tmp_path: Path,
) -> None:
    text = markdown(_run(tmp_path))
    wall = _timings(WINDOWED_DOCS_PER_S).wall_s
    pairs_per_s = WINDOWS / wall
    per_doc = WINDOWS / (4 * 100)
    ours = _row(text, "w", "openrerank", "fp32", "4000")
    assert ours[10] == f"{pairs_per_s:.1f} ({per_doc:.2f} windows/doc)"
    assert ours[6] == "2.50x"  # the ratio stays on one window per document
    assert _row(text, "w", "sentence-transformers", "fp32")[10] == "-"
    assert EQUAL_WORK in text and "max_chunks_per_doc=1" in EQUAL_WORK
    assert "not used in any ratio" in text


def test_without_a_windowed_run_the_report_does_not_describe_one(tmp_path: Path) -> None:
    run = _run(tmp_path)
    run.measurements = [m for m in run.measurements if m.windowed is None]
    text = markdown(run)
    assert EQUAL_WORK in text and "not used in any ratio" not in text


def test_concurrent_rows_compare_with_own_single_stream_and_infinity(tmp_path: Path) -> None:
    text = markdown(_run(tmp_path))
    ours = _row(text, "w", "openrerank", "fp32", "24.0")
    assert ours[6:] == ["0", "0.96x", "2.00x", "900"]
    assert _row(text, "w", "infinity", "fp32", "12.0")[8] == "-"
    assert "infinity int8: ValueError" in text


def test_write_produces_markdown_json_and_a_plot(tmp_path: Path) -> None:
    run = _run(tmp_path)
    paths = write(run, tmp_path / "out")
    assert [p.name for p in paths] == ["results.md", "results.json", "throughput.png"]
    data = json.loads(paths[1].read_text())
    assert len(data["measurements"]) == 3 and data["peak_gflops"] == 200.0
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
