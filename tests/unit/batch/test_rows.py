from __future__ import annotations

import json

import pytest

from openrerank.batch.rows import (
    BatchRow,
    RowError,
    RowResult,
    ScoredDocument,
    parse_line,
    parse_row,
    row_record,
)


def test_a_row_reads_its_fields_and_ignores_other_columns() -> None:
    row = parse_row(
        {"id": 7, "query": "q", "documents": ["a", {"text": "b"}], "top_n": 1, "extra": True},
        "in.jsonl:3",
    )
    assert row == BatchRow(7, "q", ["a", {"text": "b"}], 1, "in.jsonl:3")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"query": "q", "documents": []}, "'id' must be"),
        ({"id": "", "query": "q", "documents": []}, "'id' must be"),
        ({"id": True, "query": "q", "documents": []}, "'id' must be"),
        ({"id": "a", "documents": ["d"]}, "'query' must be a string"),
        ({"id": "a", "query": "q", "documents": "d"}, "'documents' must be a list"),
        ({"id": "a", "query": "q", "documents": [3]}, r"documents\[0\] must be"),
        ({"id": "a", "query": "q", "documents": ["d"], "top_n": "2"}, "'top_n' must be"),
        ({"id": "a", "query": "q", "documents": ["d"], "document_ids": []}, "1 strings"),
    ],
)
def test_a_malformed_row_is_refused_naming_where_and_why(
    record: dict[str, object], message: str
) -> None:
    with pytest.raises(RowError, match=message) as error:
        parse_row(record, "in.jsonl:9")
    assert str(error.value).startswith("in.jsonl:9")


def test_a_line_that_is_not_json_names_its_line() -> None:
    with pytest.raises(RowError, match=r"^in.jsonl:2: not JSON"):
        parse_line("{oops", "in.jsonl:2")
    with pytest.raises(RowError, match="a row is a JSON object, got list"):
        parse_line("[1]", "in.jsonl:2")


def test_row_record_reads_back_as_the_same_row() -> None:
    row = BatchRow("q1", "query", ["a", "b"], 1, "here", ("d1", "d2"))
    assert parse_row(json.loads(json.dumps(row_record(row))), "here") == row


def test_a_result_record_reads_back_as_the_same_result() -> None:
    result = RowResult("q", (ScoredDocument(1, 0.5, "d1"), ScoredDocument(0, 0.25)), pairs=2)
    record = result.to_record()
    assert record == {
        "id": "q",
        "results": [
            {"index": 1, "relevance_score": 0.5, "document_id": "d1"},
            {"index": 0, "relevance_score": 0.25},
        ],
    }
    assert RowResult.from_record(record, pairs=2) == result
