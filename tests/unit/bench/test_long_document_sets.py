"""Long-document sets built from tiny BEIR folders: grades come only from official qrels."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from openrerank.bench.long_document_sets import (
    PASSAGE_SEPARATOR,
    build_passage_groups,
    build_top_k_set,
    group_grade,
    group_id,
    group_passages,
    passage_order,
    relevant_part_positions,
    select_queries,
)
from openrerank.eval.datasets import BeirDataset, load_beir
from openrerank.eval.measures import evaluate, ranking_to_run

PASSAGES = [f"p{i}" for i in range(10)]  # BM25 rank order for both queries


def write_beir(root: Path, *, qrels: str, run: str, queries: list[dict[str, Any]]) -> Path:
    """Write a BEIR folder holding passages p0..p9 (text "passage N")."""
    (root / "qrels").mkdir(parents=True)
    (root / "run").mkdir()
    corpus = [{"_id": p, "title": "", "text": f"passage {p}"} for p in PASSAGES]
    for name, records in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        text = "".join(json.dumps(r) + "\n" for r in records)
        (root / name).write_text(text, encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels, "utf-8")
    (root / "run" / "bm25_top100.tsv").write_text("query-id\tdoc-id\trank\n" + run, "utf-8")
    return root


@pytest.fixture
def passages(tmp_path: Path) -> BeirDataset:
    """Two queries over p0..p9; q1 judges p2=3, p5=1, p7=0; q2 judges p9=2 (outside p3..)."""
    queries = [{"_id": "q1", "text": "first"}, {"_id": "q2", "text": "second"}]
    qrels = "q1\tp2\t3\nq1\tp5\t1\nq1\tp7\t0\nq1\tunseen\t2\nq2\tp9\t2\n"
    run = "".join(f"q1\t{p}\t{i + 1}\n" for i, p in enumerate(PASSAGES))
    run += "".join(f"q2\t{p}\t{i + 1}\n" for i, p in enumerate(reversed(PASSAGES)))
    return load_beir(write_beir(tmp_path / "passages", qrels=qrels, run=run, queries=queries))


def test_group_grade_is_the_maximum_official_grade_of_the_parts() -> None:
    assert group_grade(("a", "b", "c"), {"a": 1, "b": 3, "c": 2}) == 3
    assert group_grade(("a", "b"), {"a": 0, "b": 1}) == 1


def test_group_grade_counts_unjudged_parts_as_zero() -> None:
    assert group_grade(("x", "y"), {}) == 0
    assert group_grade(("x", "a"), {"a": 2}) == 2


def test_every_passage_lands_in_exactly_one_group() -> None:
    groups = group_passages("q1", PASSAGES, group_size=4)

    assert [len(g) for g in groups] == [4, 4, 2]
    assert Counter(p for g in groups for p in g) == Counter(PASSAGES)


def test_passage_order_is_deterministic_and_ignores_input_order() -> None:
    first = passage_order("q1", PASSAGES)

    assert passage_order("q1", list(reversed(PASSAGES))) == first
    assert passage_order("q1", PASSAGES) == first
    assert sorted(first) == sorted(PASSAGES)


def test_passage_order_does_not_follow_bm25_rank_and_depends_on_the_query() -> None:
    ranked = [f"d{i}" for i in range(50)]

    assert passage_order("q1", ranked) != ranked
    assert passage_order("q1", ranked) != passage_order("q2", ranked)


def test_passage_order_is_a_sha256_of_query_and_passage_ids() -> None:
    # Not Python's per-process salted hash(): this order must never change between runs.
    def key(passage_id: str) -> str:
        return hashlib.sha256(f"q1\t{passage_id}".encode()).hexdigest()

    assert passage_order("q1", PASSAGES) == sorted(PASSAGES, key=key)
    assert group_passages("q1", PASSAGES, group_size=4) == [
        ("p6", "p1", "p5", "p0"),
        ("p4", "p9", "p2", "p3"),
        ("p8", "p7"),
    ]


def test_group_passages_rejects_a_repeated_passage_and_a_bad_size() -> None:
    with pytest.raises(ValueError, match="repeated"):
        group_passages("q1", ["a", "a"], group_size=2)
    with pytest.raises(ValueError, match="group_size"):
        group_passages("q1", ["a"], group_size=0)


def test_grouped_qrels_are_derived_only_from_official_ones(passages: BeirDataset) -> None:
    groups = build_passage_groups(passages, group_size=4)

    # q1: g000 holds p5 (1), g001 holds p2 (3), g002 holds p7 (0) and p8 (unjudged).
    # The judged "unseen" passage is not a candidate, so it is in no document.
    assert groups.dataset.qrels == {
        "q1": {"q1/g000": 1, "q1/g001": 3, "q1/g002": 0},
        "q2": {"q2/g000": 0, "q2/g001": 2, "q2/g002": 0},
    }
    for query_id, graded in groups.dataset.qrels.items():
        official = passages.qrels[query_id]
        for doc_id, grade in graded.items():
            assert grade == max(official.get(p, 0) for p in groups.parts[doc_id])


def test_grouped_documents_join_their_parts_in_hash_order(passages: BeirDataset) -> None:
    groups = build_passage_groups(passages, group_size=4)

    for doc_id, parts in groups.parts.items():
        expected = PASSAGE_SEPARATOR.join(f"passage {p}" for p in parts)
        assert groups.dataset.document_text(doc_id) == expected
    assert [groups.parts[group_id("q1", i)] for i in range(3)] == group_passages(
        "q1", PASSAGES, group_size=4
    )


def test_grouped_ids_are_unique_and_every_passage_is_used_once_per_query(
    passages: BeirDataset,
) -> None:
    groups = build_passage_groups(passages, group_size=3)
    dataset = groups.dataset

    all_ids = [d for docs in dataset.candidates.values() for d in docs]
    assert len(all_ids) == len(set(all_ids)) == len(dataset.corpus) == 8
    for query_id, doc_ids in dataset.candidates.items():
        used = [p for d in doc_ids for p in groups.parts[d]]
        assert sorted(used) == sorted(passages.candidates[query_id])
        assert set(dataset.qrels[query_id]) == set(doc_ids)


def test_grouping_does_not_depend_on_bm25_rank(passages: BeirDataset) -> None:
    # q2 ranks the same passages in reverse: its groups follow the hash, not the rank.
    groups = build_passage_groups(passages, group_size=4)

    q1 = [set(groups.parts[group_id("q1", i)]) for i in range(3)]
    q2 = [set(groups.parts[group_id("q2", i)]) for i in range(3)]
    assert q2 == [set(g) for g in group_passages("q2", PASSAGES, group_size=4)]
    assert q1 != [set(PASSAGES[i : i + 4]) for i in range(0, 10, 4)]


def test_grouped_candidates_follow_the_best_bm25_rank_of_their_parts(
    passages: BeirDataset,
) -> None:
    groups = build_passage_groups(passages, group_size=4)

    # q2 ranks p9 first (in g001), then p8 (g001), p7 (g000) ... p6 (g002).
    assert groups.dataset.candidates == {
        "q1": ("q1/g000", "q1/g001", "q1/g002"),
        "q2": ("q2/g001", "q2/g000", "q2/g002"),
    }
    for query_id, doc_ids in groups.dataset.candidates.items():
        rank = {p: i for i, p in enumerate(passages.candidates[query_id])}
        best = [min(rank[p] for p in groups.parts[d]) for d in doc_ids]
        assert best == sorted(best)


def test_building_twice_gives_the_same_set(passages: BeirDataset) -> None:
    assert build_passage_groups(passages) == build_passage_groups(passages)


def test_passages_limits_the_source_candidates(passages: BeirDataset) -> None:
    groups = build_passage_groups(passages, passages=5, group_size=2)

    assert sorted(p for d in groups.dataset.candidates["q1"] for p in groups.parts[d]) == [
        "p0",
        "p1",
        "p2",
        "p3",
        "p4",
    ]


def test_grouped_set_evaluates_with_the_eval_measures(passages: BeirDataset) -> None:
    dataset = build_passage_groups(passages, group_size=4).dataset

    figures = evaluate(dataset.qrels, ranking_to_run(dataset.candidates), ("nDCG@10",))

    assert 0.0 < figures["nDCG@10"] <= 1.0


def test_relevant_part_positions_counts_where_the_best_part_sits(passages: BeirDataset) -> None:
    groups = build_passage_groups(passages, group_size=4)

    # q1: p5 is third in g000, p2 third in g001; q2: p9 is first in g001.
    assert relevant_part_positions(groups) == Counter({2: 2, 0: 1})
    assert relevant_part_positions(groups, min_grade=2) == Counter({2: 1, 0: 1})


def test_select_queries_keeps_file_order_and_checks_the_count(passages: BeirDataset) -> None:
    assert select_queries(passages) == ["q1", "q2"]
    assert select_queries(passages, 1) == ["q1"]
    with pytest.raises(ValueError, match="queries"):
        select_queries(passages, 3)


def test_select_queries_skips_queries_without_candidates_or_judgments(tmp_path: Path) -> None:
    queries = [{"_id": i, "text": i} for i in ("a", "b", "c")]
    root = write_beir(
        tmp_path / "s", qrels="a\tp0\t1\nb\tp1\t1\n", run="b\tp1\t1\nc\tp2\t1\n", queries=queries
    )

    assert select_queries(load_beir(root)) == ["b"]


def test_top_k_set_keeps_documents_and_cuts_candidates(passages: BeirDataset) -> None:
    dataset = build_top_k_set(passages, queries=1, top_k=3)

    assert dict(dataset.candidates) == {"q1": ("p0", "p1", "p2")}
    assert dict(dataset.queries) == {"q1": "first"}
    assert sorted(dataset.corpus) == ["p0", "p1", "p2"]
    assert dataset.document_text("p2") == passages.document_text("p2")


def test_top_k_set_keeps_the_whole_official_qrels_of_kept_queries(passages: BeirDataset) -> None:
    dataset = build_top_k_set(passages, queries=1, top_k=3)

    assert {q: dict(d) for q, d in dataset.qrels.items()} == {
        "q1": {"p2": 3, "p5": 1, "p7": 0, "unseen": 2}
    }


def test_top_k_set_rejects_a_bad_top_k(passages: BeirDataset) -> None:
    with pytest.raises(ValueError, match="top_k"):
        build_top_k_set(passages, top_k=0)
