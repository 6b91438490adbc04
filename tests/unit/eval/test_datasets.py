"""Tests for openrerank.eval.datasets on tiny BEIR folders built in tmp_path."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from openrerank.eval.datasets import BeirDataset, DatasetError, Document, load_beir

CORPUS: list[dict[str, Any]] = [
    {"_id": "007", "title": "Zinc", "text": "Zinc helps wounds heal."},
    {"_id": "12", "title": "", "text": "Iron is a metal."},
    {"_id": "d3", "title": "Copper", "text": "Copper conducts."},
]
QUERIES: list[dict[str, Any]] = [
    {"_id": "1", "text": "does zinc heal wounds"},
    {"_id": "02", "text": "what is iron"},
]
QRELS = "query-id\tcorpus-id\tscore\n1\t007\t2\n1\t12\t0\n02\t12\t1\n02\tnot-in-corpus\t1\n"
RUN = "query-id\tdoc-id\trank\n1\td3\t3\n1\t007\t1\n1\t12\t2\n02\t12\t1\n"


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def make_beir(root: Path, *, run: str = RUN, gzip_run: bool = False) -> Path:
    """Write a tiny, valid BEIR folder and return it."""
    (root / "qrels").mkdir(parents=True)
    (root / "run").mkdir()
    write_jsonl(root / "corpus.jsonl", CORPUS)
    write_jsonl(root / "queries.jsonl", QUERIES)
    (root / "qrels" / "test.tsv").write_text(QRELS, encoding="utf-8")
    if gzip_run:
        with gzip.open(root / "run" / "bm25_top100.tsv.gz", "wt", encoding="utf-8") as handle:
            handle.write(run)
    else:
        (root / "run" / "bm25_top100.tsv").write_text(run, encoding="utf-8")
    return root


@pytest.fixture
def beir_dir(tmp_path: Path) -> Path:
    return make_beir(tmp_path / "tiny")


def test_load_beir_reads_corpus_and_queries_with_string_ids(beir_dir: Path) -> None:
    dataset = load_beir(beir_dir)

    assert dataset.path == beir_dir
    assert list(dataset.corpus) == ["007", "12", "d3"]
    assert dataset.corpus["007"] == Document("007", "Zinc", "Zinc helps wounds heal.")
    assert dataset.queries == {"1": "does zinc heal wounds", "02": "what is iron"}


def test_load_beir_reads_graded_qrels_including_unknown_documents(beir_dir: Path) -> None:
    dataset = load_beir(beir_dir)

    assert {q: dict(docs) for q, docs in dataset.qrels.items()} == {
        "1": {"007": 2, "12": 0},
        "02": {"12": 1, "not-in-corpus": 1},
    }


def test_load_beir_orders_candidates_by_rank(beir_dir: Path) -> None:
    dataset = load_beir(beir_dir)

    assert dict(dataset.candidates) == {"1": ("007", "12", "d3"), "02": ("12",)}


def test_load_beir_reads_gzipped_run(tmp_path: Path) -> None:
    dataset = load_beir(make_beir(tmp_path / "gz", gzip_run=True))

    assert dataset.candidates["1"] == ("007", "12", "d3")


def test_load_beir_query_without_candidates_has_no_entry(tmp_path: Path) -> None:
    dataset = load_beir(make_beir(tmp_path / "d", run="query-id\tdoc-id\trank\n1\t12\t1\n"))

    assert "02" not in dataset.candidates
    assert dataset.candidate_texts("02") == []


def test_document_text_joins_title_and_text_with_one_space(beir_dir: Path) -> None:
    dataset = load_beir(beir_dir)

    assert dataset.document_text("007") == "Zinc Zinc helps wounds heal."
    assert dataset.document_text("12") == "Iron is a metal."


def test_candidate_texts_follow_rank_order(beir_dir: Path) -> None:
    dataset = load_beir(beir_dir)

    assert dataset.candidate_texts("1") == [
        "Zinc Zinc helps wounds heal.",
        "Iron is a metal.",
        "Copper Copper conducts.",
    ]


def test_load_beir_result_is_read_only(beir_dir: Path) -> None:
    dataset = load_beir(beir_dir)

    with pytest.raises(dataclasses.FrozenInstanceError):
        dataset.queries = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        dataset.qrels["1"]["12"] = 5  # type: ignore[index]
    assert isinstance(dataset, BeirDataset)


def test_load_beir_tolerates_missing_title_extra_fields_crlf_and_blank_lines(
    tmp_path: Path,
) -> None:
    root = make_beir(tmp_path / "x")
    (root / "corpus.jsonl").write_text(
        '{"_id": "007", "text": "Zinc.", "paragraph": "p1"}\r\n\r\n'
        '{"_id": "12", "title": "", "text": "Iron."}\n'
        '{"_id": "d3", "title": "Cu", "text": "Copper."}\n\n',
        encoding="utf-8",
    )

    dataset = load_beir(root)

    assert dataset.corpus["007"] == Document("007", "", "Zinc.")
    assert dataset.document_text("d3") == "Cu Copper."


def test_dataset_error_is_a_value_error() -> None:
    assert issubclass(DatasetError, ValueError)


def test_load_beir_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a directory"):
        load_beir(tmp_path / "absent")


@pytest.mark.parametrize(
    "relative",
    ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "run/bm25_top100.tsv"],
)
def test_load_beir_missing_file_names_it(beir_dir: Path, relative: str) -> None:
    (beir_dir / relative).unlink()

    with pytest.raises(DatasetError, match="file not found") as caught:
        load_beir(beir_dir)
    assert str(beir_dir / relative) in str(caught.value)


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ("{not json", "invalid JSON"),
        ('["a", "list"]', "expected a JSON object"),
        ('{"title": "t", "text": "x"}', "missing field '_id'"),
        ('{"_id": 5, "text": "x"}', "field '_id' must be a string, got int"),
        ('{"_id": "5"}', "missing field 'text'"),
        ('{"_id": "007", "text": "again"}', "repeated document id '007'"),
    ],
)
def test_load_beir_malformed_corpus_line_names_file_and_line(
    beir_dir: Path, second_line: str, message: str
) -> None:
    corpus = beir_dir / "corpus.jsonl"
    corpus.write_text(json.dumps(CORPUS[0]) + "\n" + second_line + "\n", encoding="utf-8")

    with pytest.raises(DatasetError, match=message) as caught:
        load_beir(beir_dir)
    assert str(caught.value).startswith(f"{corpus}:2: ")


def test_load_beir_repeated_query_id_raises(beir_dir: Path) -> None:
    write_jsonl(beir_dir / "queries.jsonl", [*QUERIES, QUERIES[0]])

    with pytest.raises(DatasetError, match=r"queries\.jsonl:3: repeated query id '1'"):
        load_beir(beir_dir)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("query-id\tdoc-id\tscore\n1\t007\t1\n", r"test\.tsv:1: expected header"),
        ("1\t007\t1\n", r"test\.tsv:1: expected header"),
        ("query-id\tcorpus-id\tscore\n1\t007\n", r"test\.tsv:2: expected 3 non-empty"),
        ("query-id\tcorpus-id\tscore\n1 007 1\n", r"test\.tsv:2: expected 3 non-empty"),
        ("query-id\tcorpus-id\tscore\n1\t007\thigh\n", "test.tsv:2: score must be an integer"),
        ("query-id\tcorpus-id\tscore\n1\t007\t1\n1\t007\t2\n", "test.tsv:3: repeated judgment"),
    ],
)
def test_load_beir_malformed_qrels_raise(beir_dir: Path, content: str, message: str) -> None:
    (beir_dir / "qrels" / "test.tsv").write_text(content, encoding="utf-8")

    with pytest.raises(DatasetError, match=message):
        load_beir(beir_dir)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("1\t007\tfirst\n", "bm25_top100.tsv:2: rank must be an integer"),
        ("1\t007\t0\n", "bm25_top100.tsv:2: rank must be >= 1"),
        ("1\t007\t1\n1\t12\t1\n", "bm25_top100.tsv:3: repeated rank 1"),
        ("1\t007\t1\n1\t007\t2\n", "bm25_top100.tsv:3: repeated candidate '007'"),
        ("1\tghost\t1\n", "candidate 'ghost' of query '1' is not in corpus.jsonl"),
        ("99\t007\t1\n", "1 query ids are not in queries.jsonl"),
    ],
)
def test_load_beir_malformed_run_raises(tmp_path: Path, rows: str, message: str) -> None:
    root = make_beir(tmp_path / "r", run="query-id\tdoc-id\trank\n" + rows)

    with pytest.raises(DatasetError, match=message):
        load_beir(root)


def test_load_beir_invalid_utf8_raises(beir_dir: Path) -> None:
    (beir_dir / "queries.jsonl").write_bytes(b'{"_id": "1", "text": "\xff"}\n')

    with pytest.raises(DatasetError, match="not valid UTF-8"):
        load_beir(beir_dir)


def test_load_beir_corrupt_gzip_raises(tmp_path: Path) -> None:
    root = make_beir(tmp_path / "bad", gzip_run=True)
    (root / "run" / "bm25_top100.tsv.gz").write_bytes(b"not gzip at all")

    with pytest.raises(DatasetError, match=r"bm25_top100\.tsv\.gz: cannot read"):
        load_beir(root)


def test_load_beir_reads_other_split_and_run_names(beir_dir: Path) -> None:
    (beir_dir / "qrels" / "dev.tsv").write_text(
        "query-id\tcorpus-id\tscore\n1\td3\t1\n", encoding="utf-8"
    )
    (beir_dir / "run" / "dense.tsv").write_text(
        "query-id\tdoc-id\trank\n02\td3\t1\n", encoding="utf-8"
    )

    dataset = load_beir(beir_dir, split="dev", run="dense")

    assert {q: dict(d) for q, d in dataset.qrels.items()} == {"1": {"d3": 1}}
    assert dict(dataset.candidates) == {"02": ("d3",)}
