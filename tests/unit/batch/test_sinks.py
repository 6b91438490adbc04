from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyarrow import parquet

from openrerank.batch.rows import RowError, RowResult, ScoredDocument
from openrerank.batch.sinks import JOURNAL_SUFFIX, open_sink


def result(row_id: str | int, *scores: float, ids: bool = False) -> RowResult:
    ranked = sorted(enumerate(scores), key=lambda item: -item[1])
    return RowResult(
        row_id,
        tuple(ScoredDocument(i, s, f"d{i}" if ids else None) for i, s in ranked),
        pairs=len(scores),
    )


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_writes_each_id_once_and_a_rerun_resumes_after_them(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sink = open_sink(out)
    assert sink.write(result("a", 0.1, 0.9)) and sink.write(result(2, 0.3))
    assert not sink.write(result("a", 0.5, 0.5))
    sink.close()
    again = open_sink(out)
    assert again.done == {"a", 2}
    assert not again.write(result(2, 0.7))
    assert again.write(result("c", 0.2))
    again.finish()
    assert [row["id"] for row in lines(out)] == ["a", 2, "c"]
    assert lines(out)[0]["results"] == [
        {"index": 1, "relevance_score": 0.9},
        {"index": 0, "relevance_score": 0.1},
    ]


def test_jsonl_resume_cuts_a_partly_written_last_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sink = open_sink(out)
    sink.write(result("a", 0.1))
    sink.close()
    with out.open("a") as handle:
        handle.write('{"id": "b", "results": [{"ind')
    again = open_sink(out)
    assert again.done == {"a"}
    again.write(result("b", 0.4))
    again.finish()
    assert [row["id"] for row in lines(out)] == ["a", "b"]


def test_jsonl_refuses_to_append_to_a_file_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "a", "query": "q", "documents": []}\n')
    with pytest.raises(RowError, match=r"out.jsonl:1: not an output row"):
        open_sink(out)


def test_parquet_is_journaled_then_written_whole_and_extended_on_a_rerun(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    journal = tmp_path / ("out.parquet" + JOURNAL_SUFFIX)
    sink = open_sink(out)
    sink.write(result("a", 0.1, 0.9))
    sink.close()  # killed before the end: only the journal exists
    assert journal.exists() and not out.exists()
    resumed = open_sink(out)
    assert resumed.done == {"a"}
    resumed.write(result("b", 0.5))
    resumed.finish()
    assert not journal.exists()
    table = parquet.read_table(out).to_pylist()
    assert [row["id"] for row in table] == ["a", "b"]
    assert table[0]["results"] == [
        {"index": 1, "relevance_score": 0.9, "document_id": None},
        {"index": 0, "relevance_score": 0.1, "document_id": None},
    ]
    extended = open_sink(out)
    assert extended.done == {"a", "b"} and not extended.write(result("a", 0.3))
    extended.write(result("c", 0.2))
    extended.finish()
    assert [row["id"] for row in parquet.read_table(out).to_pylist()] == ["a", "b", "c"]


def test_a_journal_row_already_in_the_final_file_is_not_written_again(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    sink = open_sink(out)
    sink.write(result("a", 0.1))
    sink.finish()
    # A run killed between its rename and removing its journal leaves both behind.
    (tmp_path / ("out.parquet" + JOURNAL_SUFFIX)).write_text(
        json.dumps(result("a", 0.1).to_record()) + "\n"
    )
    again = open_sink(out)
    again.write(result("b", 0.2))
    again.finish()
    assert [row["id"] for row in parquet.read_table(out).to_pylist()] == ["a", "b"]


def test_trec_lines_rank_each_query_best_first(tmp_path: Path) -> None:
    out = tmp_path / "run.trec"
    sink = open_sink(out)
    sink.write(result("q1", 0.25, 0.75, ids=True))
    sink.finish()
    again = open_sink(out)
    assert again.done == {"q1"}
    again.write(result("q2", 0.5, ids=True))
    again.finish()
    assert out.read_text().splitlines() == [
        "q1 Q0 d1 1 0.750000 openrerank",
        "q1 Q0 d0 2 0.250000 openrerank",
        "q2 Q0 d0 1 0.500000 openrerank",
    ]


def test_trec_refuses_a_row_without_document_ids(tmp_path: Path) -> None:
    sink = open_sink(tmp_path / "run.trec")
    with pytest.raises(RowError, match="a TREC run needs document ids"):
        sink.write(result("q1", 0.5))
    sink.close()


def test_parquet_keeps_integer_ids_and_refuses_a_second_id_type(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    sink = open_sink(out)
    sink.write(result(1, 0.5, ids=True))
    with pytest.raises(RowError, match=r"one type.*row 'b' is not"):
        sink.write(result("b", 0.5))
    sink.finish()
    again = open_sink(out)
    assert again.done == {1}
    with pytest.raises(RowError, match="row 'c' is not"):
        again.write(result("c", 0.1))
    again.write(result(2, 0.25, ids=True))
    again.finish()
    rows = parquet.read_table(out).to_pylist()
    assert [row["id"] for row in rows] == [1, 2]
    assert rows[1]["results"] == [{"index": 0, "relevance_score": 0.25, "document_id": "d0"}]


def test_an_empty_parquet_output_is_a_table_a_rerun_extends(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    open_sink(out).finish()
    assert parquet.read_table(out).column_names == ["id", "results"]
    again = open_sink(out)
    assert again.done == set()
    again.write(result("a", 0.5))
    again.finish()
    assert [row["id"] for row in parquet.read_table(out).to_pylist()] == ["a"]


@pytest.mark.parametrize("row_id", [7, "q 1", ""])
def test_trec_refuses_ids_it_cannot_write_back(tmp_path: Path, row_id: str | int) -> None:
    sink = open_sink(tmp_path / "run.trec")
    with pytest.raises(RowError, match="strings without spaces"):
        sink.write(result(row_id, 0.5, ids=True))
    sink.close()
