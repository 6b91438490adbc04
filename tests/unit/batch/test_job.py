"""run_job on the fake backend: what a local batch job writes, resumes and refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from openrerank import EngineConfig, ModelConfig, Reranker
from openrerank.batch.job import NoProgress, ResultWriter, checked_count, run_job
from openrerank.batch.rows import RowError, RowFailure
from openrerank.batch.scorer import BatchScorer
from openrerank.batch.sinks import open_sink
from openrerank.batch.sources import FileSource

QUERIES = ["fox", "quick dog", "lazy", "brown fox jumps", "dog"]
DOCUMENTS = ["the quick brown fox", "a lazy dog", "jumps over", "fox and dog", "nothing"]


def write_rows(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def rows(count: int = len(QUERIES)) -> list[dict[str, object]]:
    return [
        {"id": f"r{i}", "query": QUERIES[i % len(QUERIES)], "documents": DOCUMENTS[i % 3 :]}
        for i in range(count)
    ]


@pytest.fixture
def engine(tiny_model_dir: Path) -> EngineConfig:
    return EngineConfig(model=ModelConfig(name=str(tiny_model_dir), backend="fake"))


@pytest.fixture
def scorer(engine: EngineConfig) -> Callable[[], BatchScorer]:
    # A budget below one row's documents: rows go one at a time as well as together.
    return lambda: BatchScorer(engine, max_in_flight_documents=4)


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_row_is_ranked_as_the_library_ranks_it(
    tmp_path: Path, engine: EngineConfig, scorer: Callable[[], BatchScorer]
) -> None:
    given = rows()
    given[1]["top_n"] = 2
    source = FileSource(write_rows(tmp_path / "in.jsonl", given))
    summary = run_job(source, tmp_path / "out.jsonl", scorer)
    assert (summary.written, summary.pairs) == (5, sum(len(r["documents"]) for r in given))  # type: ignore[arg-type]
    written = read(tmp_path / "out.jsonl")
    assert [row["id"] for row in written] == [row["id"] for row in given]
    with Reranker.from_config(engine) as reranker:
        for row, out in zip(given, written, strict=True):
            expected = reranker.rank(row["query"], row["documents"], top_n=row.get("top_n"))  # type: ignore[arg-type]
            assert out["results"] == [
                {"index": r.index, "relevance_score": r.relevance_score} for r in expected
            ]


class Crash(Exception):
    pass


class CrashAfter:
    def __init__(self, rows: int) -> None:
        self.left = rows

    def start(self, total: int, already_done: int) -> None:
        return None

    def advance(self, rows: int, pairs: int) -> None:
        self.left -= rows
        if self.left == 0:
            raise Crash


def test_a_rerun_after_a_crash_writes_every_id_once_with_the_same_scores(
    tmp_path: Path, scorer: Callable[[], BatchScorer]
) -> None:
    source = FileSource(write_rows(tmp_path / "in.jsonl", rows(12)))
    clean = tmp_path / "clean.jsonl"
    run_job(source, clean, scorer)
    out = tmp_path / "out.jsonl"
    with pytest.raises(Crash):
        run_job(source, out, scorer, progress=CrashAfter(5))
    with out.open("a") as handle:  # and the killed run was half-way through a line
        handle.write('{"id": "r5", "resu')
    summary = run_job(source, out, scorer)
    assert (summary.already_done, summary.written) == (5, 7)
    assert sorted(map(json.dumps, read(out))) == sorted(map(json.dumps, read(clean)))


def test_a_repeated_id_stops_the_job_naming_its_line(
    tmp_path: Path, scorer: Callable[[], BatchScorer]
) -> None:
    given = rows(3)
    given[2]["id"] = "r0"
    source = FileSource(write_rows(tmp_path / "in.jsonl", given))
    with pytest.raises(RowError, match=r"in.jsonl:3: id 'r0' repeats"):
        run_job(source, tmp_path / "out.jsonl", scorer)
    assert [row["id"] for row in read(tmp_path / "out.jsonl")] == ["r0", "r1"]


def test_a_refused_row_stops_the_job_or_goes_to_the_errors_file(
    tmp_path: Path, scorer: Callable[[], BatchScorer]
) -> None:
    given = rows(3)
    given[1]["query"] = "   "
    given[2]["documents"] = []
    source = FileSource(write_rows(tmp_path / "in.jsonl", given))
    with pytest.raises(RowError, match=r"in.jsonl:2 \(id 'r1'\): .*query"):
        run_job(source, tmp_path / "stopped.jsonl", scorer)
    errors = tmp_path / "errors.jsonl"
    summary = run_job(source, tmp_path / "out.jsonl", scorer, errors=errors)
    assert (summary.written, summary.failed) == (1, 2)
    assert [row["id"] for row in read(tmp_path / "out.jsonl")] == ["r0"]
    refused = read(errors)
    assert [row["id"] for row in refused] == ["r1", "r2"]
    assert "in.jsonl:3 (id 'r2')" in str(refused[1]["error"])


def test_parquet_in_and_out_ranks_as_jsonl_does(
    tmp_path: Path, scorer: Callable[[], BatchScorer]
) -> None:
    import pyarrow
    from pyarrow import parquet

    given = rows(4)
    parquet.write_table(pyarrow.Table.from_pylist(given), tmp_path / "in.parquet")
    run_job(FileSource(tmp_path / "in.parquet"), tmp_path / "out.parquet", scorer)
    run_job(FileSource(write_rows(tmp_path / "in.jsonl", given)), tmp_path / "out.jsonl", scorer)
    table = parquet.read_table(tmp_path / "out.parquet").to_pylist()
    for row in table:  # Parquet's schema has a document_id, null for rows without ids
        for item in row["results"]:
            assert item.pop("document_id") is None
    assert table == read(tmp_path / "out.jsonl")


def test_parquet_input_reads_only_the_row_columns(
    tmp_path: Path, scorer: Callable[[], BatchScorer]
) -> None:
    import datetime

    import pyarrow
    from pyarrow import parquet

    given = [{**row, "seen": datetime.datetime(2026, 1, 1), "blob": b"x"} for row in rows(2)]
    parquet.write_table(pyarrow.Table.from_pylist(given), tmp_path / "in.parquet")
    source = FileSource(tmp_path / "in.parquet")
    assert source.parquet_columns() == ["id", "query", "documents"]
    assert run_job(source, tmp_path / "out.jsonl", scorer).written == 2


def test_checked_count_reads_every_row_as_a_local_job_would(tmp_path: Path) -> None:
    given = rows(3)
    assert checked_count(FileSource(write_rows(tmp_path / "ok.jsonl", given))) == 3
    given[2]["id"] = "r1"
    with pytest.raises(RowError, match=r"dup.jsonl:3: id 'r1' repeats"):
        checked_count(FileSource(write_rows(tmp_path / "dup.jsonl", given)))
    (tmp_path / "bad.jsonl").write_text(json.dumps(given[0]) + "\n{oops\n")
    with pytest.raises(RowError, match=r"bad.jsonl:2: not JSON"):
        checked_count(FileSource(tmp_path / "bad.jsonl"))


def test_a_row_refused_twice_is_recorded_once(tmp_path: Path) -> None:
    sink = open_sink(tmp_path / "out.jsonl")
    writer = ResultWriter(sink, tmp_path / "errors.jsonl", NoProgress())
    for _ in range(2):  # a block run again after its actor died
        writer.take(RowFailure("r1", "an input row (id 'r1'): empty"))
    writer.close()
    sink.finish()
    assert writer.summary.failed == 1
    assert len(read(tmp_path / "errors.jsonl")) == 1
