"""Tests for openrerank.eval.datasets on tiny BEIR folders built in tmp_path."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from openrerank.eval.datasets import (
    BeirDataset,
    DatasetError,
    Document,
    load_beir,
    load_run,
    read_run,
    read_trec_run,
    with_candidates,
)

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


TREC_RUN = (
    "1 Q0 12 2 3.5 bm25\n1 Q0 007 1 7.25 bm25\n02\tQ0\t12\t1\t1.0\tbm25\n1 Q0 d3 2 4.0 bm25\n"
)


def write_gzip(path: Path, text: str) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path


def test_read_trec_run_orders_by_rank_then_descending_score(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_text(TREC_RUN, encoding="utf-8")

    assert read_trec_run(path) == {"1": ("007", "d3", "12"), "02": ("12",)}


def test_read_trec_run_equal_rank_and_score_keep_file_order(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_text("q Q0 b 0 1.0 t\nq Q0 a 0 1.0 t\n\nq Q0 c 0 2 t\n", encoding="utf-8")

    assert read_trec_run(path) == {"q": ("c", "b", "a")}


def test_read_trec_run_reads_gzip(tmp_path: Path) -> None:
    path = write_gzip(tmp_path / "run.trec.gz", TREC_RUN)

    assert read_trec_run(path)["1"] == ("007", "d3", "12")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("1 Q0 007 1 7.25\n", "run.trec:1: expected 6 whitespace-separated fields"),
        ("1 Q0 007 1 7.25 a b\n", "run.trec:1: expected 6 whitespace-separated fields"),
        ("1 Q0 007 1 7 t\n1 Q0 12 two 3 t\n", "run.trec:2: rank must be an integer"),
        ("1 Q0 007 -1 7 t\n", "run.trec:1: rank must be >= 0, got -1"),
        ("1 Q0 007 1 high t\n", "run.trec:1: score must be a number, got 'high'"),
        ("1 Q0 007 1 nan t\n", "run.trec:1: score must be finite, got 'nan'"),
        ("1 Q0 007 1 7 t\n1 Q0 007 2 6 t\n", "run.trec:2: repeated candidate '007'"),
    ],
)
def test_read_trec_run_malformed_line_names_file_and_line(
    tmp_path: Path, lines: str, message: str
) -> None:
    path = tmp_path / "run.trec"
    path.write_text(lines, encoding="utf-8")

    with pytest.raises(DatasetError, match=message) as caught:
        read_trec_run(path)
    assert str(caught.value).startswith(f"{path}:")


def test_read_trec_run_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file not found"):
        read_trec_run(tmp_path / "absent.trec")


@pytest.mark.parametrize("name", ["run.tsv", "run.tsv.gz"])
def test_load_run_detects_tsv_by_its_header(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".gz"):
        write_gzip(path, RUN)
    else:
        path.write_text(RUN, encoding="utf-8")

    assert load_run(path) == read_run(path) == {"1": ("007", "12", "d3"), "02": ("12",)}


@pytest.mark.parametrize("name", ["run.trec", "run.txt.gz"])
def test_load_run_detects_trec_by_its_six_fields(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".gz"):
        write_gzip(path, "\n" + TREC_RUN)
    else:
        path.write_text(TREC_RUN, encoding="utf-8")

    assert load_run(path) == read_trec_run(path) == {"1": ("007", "d3", "12"), "02": ("12",)}


def test_load_run_accepts_a_string_path(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_text(TREC_RUN, encoding="utf-8")

    assert load_run(str(path)) == read_trec_run(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("\n\n", "empty file"),
        ("1\t007\t1\n", ":1: not a run file"),
        ("query-id\tcorpus-id\tscore\n", ":1: not a run file"),
        ("1 Q0 007 1 7.25\n", ":1: not a run file"),
    ],
)
def test_load_run_unknown_format_raises(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "run.txt"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(DatasetError, match=message) as caught:
        load_run(path)
    assert str(caught.value).startswith(str(path))


def test_load_run_malformed_trec_body_raises_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_text(TREC_RUN + "1 Q0 x\n", encoding="utf-8")

    with pytest.raises(DatasetError, match=r"run\.trec:5: expected 6"):
        load_run(path)


def test_load_run_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file not found"):
        load_run(tmp_path / "absent.tsv")


def test_load_beir_without_run_needs_no_run_folder(beir_dir: Path) -> None:
    (beir_dir / "run" / "bm25_top100.tsv").unlink()
    (beir_dir / "run").rmdir()

    dataset = load_beir(beir_dir, run=None)

    assert dict(dataset.candidates) == {}
    assert dataset.candidate_texts("1") == []
    assert len(dataset.corpus) == 3


def test_with_candidates_returns_a_new_checked_read_only_dataset(beir_dir: Path) -> None:
    dataset = load_beir(beir_dir, run=None)

    updated = with_candidates(dataset, {"1": ["d3", "007"], "02": ()})

    assert dict(updated.candidates) == {"1": ("d3", "007")}
    assert updated.candidate_texts("1") == [
        "Copper Copper conducts.",
        "Zinc Zinc helps wounds heal.",
    ]
    assert dict(dataset.candidates) == {}
    assert updated.corpus is dataset.corpus
    assert updated.qrels is dataset.qrels
    with pytest.raises(TypeError):
        updated.candidates["02"] = ("12",)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        updated.candidates = {}  # type: ignore[misc]


def test_with_candidates_replaces_the_loaded_run(beir_dir: Path) -> None:
    dataset = load_beir(beir_dir)

    assert dict(with_candidates(dataset, {"02": ("d3",)}).candidates) == {"02": ("d3",)}


@pytest.mark.parametrize(
    ("candidates", "message"),
    [
        ({"99": ("007",)}, "my.run: 1 query ids are not in queries.jsonl (first: '99')"),
        ({"1": ("007", "ghost")}, "my.run: candidate 'ghost' of query '1' is not in corpus.jsonl"),
        ({"1": ("007", "12", "007")}, "my.run: repeated candidate '007' for query '1'"),
    ],
)
def test_with_candidates_rejects_unknown_or_repeated_ids(
    beir_dir: Path, candidates: dict[str, tuple[str, ...]], message: str
) -> None:
    dataset = load_beir(beir_dir, run=None)

    with pytest.raises(DatasetError) as caught:
        with_candidates(dataset, candidates, source="my.run")
    assert str(caught.value) == message


def test_with_candidates_default_source_names_the_candidates(beir_dir: Path) -> None:
    dataset = load_beir(beir_dir, run=None)

    with pytest.raises(DatasetError, match=r"^candidates: candidate 'ghost'"):
        with_candidates(dataset, {"1": ("ghost",)})
