"""Tests for openrerank.eval.tasks.make_task on tiny BEIR-layout folders built in tmp_path."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from openrerank.eval.bm25 import bm25_candidates
from openrerank.eval.datasets import DatasetError
from openrerank.eval.tasks import make_task

CORPUS = {
    "d1": ("Cats", "A cat sat on the mat in the sun."),
    "d2": ("", "Dogs bark loudly at night."),
    "d3": ("Weather", "Rain is expected tomorrow in the north."),
    "d4": ("", "A cat and a dog became friends."),
    "d5": ("Mats", "The mat was woven from wool."),
    "d6": ("Trains", "The train leaves the station every hour."),
}
# queries.jsonl order; q9 has a text but no judgments.
QUERIES = {"q2": "dog barking at night", "q9": "trains", "q1": "cat on a mat", "q3": "rain"}
QRELS = {"q1": {"d1": 2, "d5": 1}, "q2": {"d2": 3, "d4": 1}, "q3": {"d3": 1}}
# Candidates best first (q3 has none in the run files).
RUN = {"q1": ("d5", "d1", "d4", "d2"), "q2": ("d2", "d4", "d6"), "q9": ("d6", "d1")}


def write_beir(
    root: Path,
    *,
    qrels: Mapping[str, Mapping[str, int]] = QRELS,
    queries: Mapping[str, str] = QUERIES,
    split: str = "test",
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "corpus.jsonl").open("w") as corpus:
        for doc_id, (title, text) in CORPUS.items():
            corpus.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (root / "queries.jsonl").open("w") as handle:
        for query_id, text in queries.items():
            handle.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    (root / "qrels").mkdir(exist_ok=True)
    lines = [f"{q}\t{d}\t{g}" for q, docs in qrels.items() for d, g in docs.items()]
    (root / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(lines))
    return root


def write_tsv_run(path: Path, run: Mapping[str, tuple[str, ...]] = RUN) -> Path:
    rows = [f"{q}\t{d}\t{rank}" for q, docs in run.items() for rank, d in enumerate(docs, 1)]
    path.write_text("query-id\tdoc-id\trank\n" + "\n".join(rows) + "\n")
    return path


def write_trec_run(path: Path, run: Mapping[str, tuple[str, ...]] = RUN) -> Path:
    rows = [
        f"{q} Q0 {d} {rank} {10.0 - rank:.3f} bm25"
        for q, docs in run.items()
        for rank, d in enumerate(docs, 1)
    ]
    path.write_text("\n".join(reversed(rows)) + "\n")  # lines out of rank order on purpose
    return path


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    return write_beir(tmp_path / "toy")


@pytest.mark.parametrize("writer", [write_tsv_run, write_trec_run], ids=["tsv", "trec"])
def test_make_task_reads_a_run_file_and_cuts_its_candidates_to_k(
    dataset_dir: Path, tmp_path: Path, writer: Callable[[Path], Path]
) -> None:
    run = writer(tmp_path / "first.run")
    task = make_task(dataset_dir, run=run, k=2)
    assert task.first_stage == "run first.run"
    assert task.k == 2
    assert task.queries == ("q2", "q1", "q3"), "judged queries in queries.jsonl order"
    assert task.candidates("q1") == ("d5", "d1")
    assert task.candidates("q2") == ("d2", "d4")
    assert task.candidates("q3") == ()
    assert task.pairs == 4
    # Only the evaluated queries keep candidates (q9 is in the run but not judged).
    assert dict(task.dataset.candidates) == {"q1": RUN["q1"], "q2": RUN["q2"]}
    assert task.dataset.path == dataset_dir


def test_make_task_reads_tsv_and_trec_runs_alike(dataset_dir: Path, tmp_path: Path) -> None:
    tsv = make_task(dataset_dir, run=write_tsv_run(tmp_path / "run.tsv"), k=10)
    trec = make_task(dataset_dir, run=write_trec_run(tmp_path / "run.trec"), k=10)
    assert dict(tsv.dataset.candidates) == dict(trec.dataset.candidates)
    assert tsv.queries == trec.queries


def test_make_task_max_queries_keeps_the_first_judged_queries(
    dataset_dir: Path, tmp_path: Path
) -> None:
    task = make_task(dataset_dir, run=write_tsv_run(tmp_path / "run.tsv"), max_queries=1)
    assert task.queries == ("q2",)
    assert dict(task.dataset.candidates) == {"q2": RUN["q2"]}
    assert task.qrels() == {"q2": QRELS["q2"]}


def test_make_task_rel_defaults_from_the_grades_and_can_be_given(
    dataset_dir: Path, tmp_path: Path
) -> None:
    run = write_tsv_run(tmp_path / "run.tsv")
    assert make_task(dataset_dir, run=run).rel == 2, "graded judgments: TREC DL convention"
    assert make_task(dataset_dir, run=run, rel=3).rel == 3
    binary = {q: {d: min(g, 1) for d, g in docs.items()} for q, docs in QRELS.items()}
    binary_dir = write_beir(tmp_path / "binary", qrels=binary)
    assert make_task(binary_dir, run=run).rel == 1


def test_make_task_keeps_the_split_and_the_measures(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "toy", qrels={"q3": {"d3": 1}}, split="dev")
    task = make_task(
        root, run=write_tsv_run(tmp_path / "run.tsv"), split="dev", measures=["nDCG@5", "AP"]
    )
    assert task.queries == ("q3",)
    assert task.measures == ("nDCG@5", "AP")
    with pytest.raises(DatasetError, match=re.escape("qrels/test.tsv")):
        make_task(root, run=tmp_path / "run.tsv")


def test_make_task_without_a_run_takes_bm25_candidates_over_the_corpus(dataset_dir: Path) -> None:
    task = make_task(dataset_dir, k=3)
    assert task.first_stage == "BM25 (built-in bm25s, en)"
    assert task.queries == ("q2", "q1", "q3")
    full_text = {d: f"{title} {text}" if title else text for d, (title, text) in CORPUS.items()}
    expected = bm25_candidates(full_text, {q: QUERIES[q] for q in task.queries}, k=3)
    assert dict(task.dataset.candidates) == {q: c for q, c in expected.items() if c}
    # What BM25 must find on this corpus: the matching documents first, nothing unrelated.
    assert task.candidates("q1")[0] == "d1"
    assert set(task.candidates("q1")) <= {"d1", "d4", "d5"}
    assert task.candidates("q2")[0] == "d2"
    assert task.candidates("q3") == ("d3",)
    assert "d6" not in {d for q in task.queries for d in task.candidates(q)}


def test_make_task_bm25_reads_titles(dataset_dir: Path) -> None:
    # "weather" is only in d3's title.
    queries = {**QUERIES, "q4": "weather"}
    root = write_beir(dataset_dir, queries=queries, qrels={**QRELS, "q4": {"d3": 1}})
    task = make_task(root, k=5)
    assert task.queries[-1] == "q4"
    assert task.candidates("q4") == ("d3",)


@pytest.mark.parametrize(("k", "max_queries"), [(0, None), (10, 0)])
def test_make_task_refuses_k_or_max_queries_below_1(
    dataset_dir: Path, k: int, max_queries: int | None
) -> None:
    with pytest.raises(ValueError, match=">= 1"):
        make_task(dataset_dir, k=k, max_queries=max_queries)


def test_make_task_refuses_a_collection_without_a_judged_query(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "toy", qrels={"q-ghost": {"d1": 1}})
    with pytest.raises(ValueError, match="no judged query") as info:
        make_task(root)
    assert not isinstance(info.value, DatasetError)


def test_make_task_refuses_a_run_naming_an_unknown_document(
    dataset_dir: Path, tmp_path: Path
) -> None:
    run = write_tsv_run(tmp_path / "run.tsv", {"q1": ("d1", "d-missing")})
    with pytest.raises(
        DatasetError, match=re.escape("'d-missing' of query 'q1' is not in corpus.jsonl")
    ):
        make_task(dataset_dir, run=run)


def test_make_task_refuses_a_missing_folder_or_run(tmp_path: Path, dataset_dir: Path) -> None:
    with pytest.raises(DatasetError, match="not a directory"):
        make_task(tmp_path / "missing")
    with pytest.raises(DatasetError, match="file not found"):
        make_task(dataset_dir, run=tmp_path / "no-such-run.tsv")
