"""Reading training data: Cohere's fine-tune JSONL, (query, positive, negatives) rows and
BEIR splits, and the errors that name the row at fault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openrerank.finetune.data import TrainingDataError, read_beir, read_jsonl


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def texts(data_passages: dict[str, str] | object, ids: tuple[str, ...]) -> list[str]:
    return [data_passages[i] for i in ids]  # type: ignore[index]


def test_cohere_rows_keep_passages_once_and_their_roles(tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "train.jsonl",
        [
            {"query": "q one", "relevant_passages": ["a", "b"], "hard_negatives": ["c"]},
            {"query": "q two", "relevant_passages": ["c"]},
        ],
    )
    data = read_jsonl(source)
    assert data.format == "cohere"
    assert sorted(data.passages.values()) == ["a", "b", "c"]
    first, second = data.queries
    assert (first.query_id, first.text, first.where) == ("line-1", "q one", f"{source}:1")
    assert texts(data.passages, first.positives) == ["a", "b"]
    assert texts(data.passages, first.negatives) == ["c"]
    assert texts(data.passages, second.positives) == ["c"] and second.negatives == ()
    assert data.counts() == {
        "queries": 2,
        "positives": 3,
        "given_negatives": 1,
        "mined_negatives": 0,
        "passages": 3,
    }


def test_rows_of_one_query_are_merged_into_one_query(tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "rows.jsonl",
        [
            {"query": "q", "positive": "p1", "negatives": ["n1"]},
            {"query": "other", "positive": "p3"},
            {"query": "q", "positive": "p2", "negatives": ["n1", "n2"]},
        ],
    )
    data = read_jsonl(source)
    assert data.format == "rows"
    merged = data.queries[0]
    assert len(data.queries) == 2 and merged.query_id == "line-1"
    assert texts(data.passages, merged.positives) == ["p1", "p2"]
    assert texts(data.passages, merged.negatives) == ["n1", "n2"]
    assert merged.judged == frozenset(merged.positives)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"query": "  ", "relevant_passages": ["a"]}, "empty query"),
        ({"query": "q", "relevant_passages": []}, "no positive"),
        ({"query": "q", "hard_negatives": ["a"]}, "no positive"),
        ({"query": "q", "relevant_passages": ["a"], "hard_negatives": ["a"]}, "also a negative"),
        ({"query": "q", "positive": "a", "negatives": ["a"]}, "also a negative"),
        ({"query": "q", "relevant_passages": ["a"], "hard_negative": ["b"]}, "'hard_negative'"),
        ({"query": "q", "relevant_passages": ["a", 3]}, "list of strings"),
        ({"query": "q", "relevant_passages": ["a", " "]}, "passage 2 of 'relevant_passages'"),
        ({"query": 7, "positive": "a"}, "'query' must be a string"),
        ({"query": "q", "positive": ""}, "'positive' is empty"),
    ],
)
def test_a_bad_row_is_named_by_file_and_line(
    tmp_path: Path, row: dict[str, object], message: str
) -> None:
    good = {"query": "fine", "relevant_passages": ["x"]}
    source = write_jsonl(tmp_path / "train.jsonl", [good, row])
    with pytest.raises(TrainingDataError) as caught:
        read_jsonl(source)
    assert str(caught.value).startswith(f"{source}:2: ")
    assert message in str(caught.value)


def test_a_positive_given_as_negative_on_a_later_row_names_both_rows(tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "rows.jsonl",
        [{"query": "q", "positive": "a"}, {"query": "q", "positive": "b", "negatives": ["a"]}],
    )
    with pytest.raises(TrainingDataError, match=r":2: a positive is also a negative .*:1\)"):
        read_jsonl(source)


def test_bad_json_and_an_empty_file_are_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"query": "q", "positive": "a"}\n{not json\n', encoding="utf-8")
    with pytest.raises(TrainingDataError, match=r"broken.jsonl:2: invalid JSON"):
        read_jsonl(broken)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match="no training rows"):
        read_jsonl(empty)


def write_beir(folder: Path, qrels: list[tuple[str, str, int]]) -> Path:
    folder.mkdir()
    corpus = [{"_id": f"d{i}", "title": f"T{i}", "text": f"text {i}"} for i in range(4)]
    write_jsonl(folder / "corpus.jsonl", corpus)
    write_jsonl(
        folder / "queries.jsonl", [{"_id": "1", "text": "one"}, {"_id": "2", "text": "two"}]
    )
    (folder / "qrels").mkdir()
    lines = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{g}" for q, d, g in qrels)]
    (folder / "qrels" / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_a_beir_split_gives_positives_judged_negatives_and_corpus_texts(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "set", [("1", "d0", 1), ("1", "d1", 0), ("2", "d2", 1)])
    data = read_beir(folder, split="train")
    assert data.format == "beir" and "qrels/train.tsv" in data.source
    assert data.passages["d0"] == "T0 text 0" and len(data.passages) == 4
    one, two = data.queries
    assert (one.query_id, one.positives, one.negatives) == ("1", ("d0",), ("d1",))
    assert (two.query_id, two.positives, two.negatives) == ("2", ("d2",), ())


def test_graded_beir_positives_start_at_grade_2_unless_told(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "set", [("1", "d0", 3), ("1", "d1", 1), ("2", "d2", 2)])
    one = read_beir(folder).queries[0]
    assert one.positives == ("d0",) and one.judged == frozenset({"d0", "d1"})
    assert read_beir(folder, rel=1).queries[0].positives == ("d0", "d1")


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ([("1", "d0", 1), ("1", "d9", 1)], r"train.tsv:3: document id 'd9' is not in corpus"),
        ([("1", "d0", 1), ("7", "d1", 1)], r"train.tsv:3: query id '7' is not in queries"),
        ([("1", "d0", 1), ("1", "d0", 0)], r"train.tsv:3: \('1', 'd0'\) is judged twice"),
        ([("1", "d0", 0), ("2", "d1", 0)], r"train.tsv: no query has a judgment of grade >= 1"),
    ],
)
def test_beir_ids_not_in_the_collection_are_named_by_line(
    tmp_path: Path, qrels: list[tuple[str, str, int]], message: str
) -> None:
    folder = write_beir(tmp_path / "set", qrels)
    with pytest.raises(TrainingDataError, match=message):
        read_beir(folder)


def test_a_missing_split_names_the_file(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "set", [("1", "d0", 1)])
    with pytest.raises(TrainingDataError, match=r"qrels/dev.tsv"):
        read_beir(folder, split="dev")


def test_judged_queries_without_a_positive_are_left_out_and_counted(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "set", [("1", "d0", 1), ("2", "d1", 0)])
    data = read_beir(folder)
    assert [q.query_id for q in data.queries] == ["1"]
    assert "1 judged queries without a positive left out" in data.source


def test_an_empty_qrels_file_is_refused(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "set", [])
    with pytest.raises(TrainingDataError, match=r"train.tsv: no judgments"):
        read_beir(folder)
