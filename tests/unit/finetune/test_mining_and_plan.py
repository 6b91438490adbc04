"""Mining BM25 negatives, holding out dev queries, and building each loss's rows."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from openrerank.finetune.data import TrainingData, TrainingQuery
from openrerank.finetune.mining import mine_negatives
from openrerank.finetune.plan import Loss, split_dev, training_rows

PASSAGES = {
    "gold": "aspirin lowers the risk of heart attack",
    "near": "aspirin and heart disease in older adults",
    "far": "aspirin dosage for children",
    "judged": "heart attack risk after aspirin use",
    "off1": "volcanoes erupt lava",
    "off2": "penguins live in antarctica",
}


def query(qid: str, positives: tuple[str, ...], **kwargs: object) -> TrainingQuery:
    return TrainingQuery(qid, "aspirin heart attack risk", positives, **kwargs)  # type: ignore[arg-type]


def data_of(*queries: TrainingQuery, passages: dict[str, str] = PASSAGES) -> TrainingData:
    return TrainingData(MappingProxyType(passages), queries, "test", "rows")


def test_mining_skips_every_judged_passage_and_keeps_bm25_order() -> None:
    judged = frozenset({"gold", "judged"})
    data, report = mine_negatives(data_of(query("q", ("gold",), judged=judged)), wanted=2, depth=3)
    mined = data.queries[0].mined
    assert mined[:2] == ("near", "far")
    assert not set(mined) & judged
    assert (report.queries, report.bm25) == (1, len(mined))


def test_a_copy_of_a_judged_passage_under_another_id_is_never_mined() -> None:
    passages = {**PASSAGES, "copy": "  Aspirin lowers the risk of HEART attack "}
    data, _ = mine_negatives(
        data_of(query("q", ("gold",), judged=frozenset({"gold"})), passages=passages),
        wanted=5,
        depth=6,
    )
    mined = data.queries[0].mined
    assert "copy" not in mined and "gold" not in mined and "near" in mined


def test_queries_with_enough_given_negatives_are_not_mined() -> None:
    given = query("q", ("gold",), negatives=("off1", "off2"), judged=frozenset({"gold"}))
    data, report = mine_negatives(data_of(given), wanted=2)
    assert data.queries[0] is given and report.queries == 0


def test_random_passages_fill_in_where_bm25_finds_too_few() -> None:
    lonely = TrainingQuery("q", "zebra", ("gold",), judged=frozenset({"gold"}))
    data, report = mine_negatives(data_of(lonely), wanted=3, seed=1)
    mined = data.queries[0].mined
    assert len(mined) == 3 and report.random == 3 and "gold" not in mined
    again, _ = mine_negatives(data_of(lonely), wanted=3, seed=1)
    assert again.queries[0].mined == mined


def many_queries(count: int) -> TrainingData:
    queries = tuple(
        TrainingQuery(f"q{i}", f"query {i}", ("gold",), negatives=("off1", "off2", "far"))
        for i in range(count)
    )
    return data_of(*queries)


def test_the_dev_split_is_by_query_disjoint_and_seeded() -> None:
    data = many_queries(20)
    train, dev = split_dev(data, dev=0.25, seed=3)
    assert len(dev) == 5 and len(train) == 15
    assert not {q.query_id for q in train} & {q.query_id for q in dev}
    assert split_dev(data, dev=0.25, seed=3) == (train, dev)
    assert split_dev(data, dev=0.25, seed=4) != (train, dev)
    assert split_dev(data, dev=0.0, seed=3) == (data.queries, ())
    with pytest.raises(ValueError, match="dev share"):
        split_dev(data, dev=1.0, seed=3)


def test_mnrl_rows_hold_each_positive_with_distinct_negatives_per_round() -> None:
    train = (
        TrainingQuery(
            "q", "the query", ("gold", "near"), negatives=("off1",), mined=("far", "off2", "judged")
        ),
    )
    columns = training_rows(train, PASSAGES, loss=Loss.mnrl, negatives=2, rounds=2, seed=0)
    assert list(columns) == ["query", "positive", "negative_1", "negative_2"]
    assert len(columns["query"]) == 4  # 2 positives x 2 rounds
    for j in range(4):
        negatives = {columns["negative_1"][j], columns["negative_2"][j]}
        assert len(negatives) == 2
        assert not negatives & {PASSAGES["gold"], PASSAGES["near"]}
    positives = sorted(columns["positive"])
    assert positives == sorted([PASSAGES["gold"]] * 2 + [PASSAGES["near"]] * 2)
    gold_rows = [j for j in range(4) if columns["positive"][j] == PASSAGES["gold"]]
    first, second = ({columns["negative_1"][j], columns["negative_2"][j]} for j in gold_rows)
    assert first != second  # the two rounds of one positive see other negatives


def test_bce_and_lambda_rows_label_the_positive_1_and_negatives_0() -> None:
    train = (TrainingQuery("q", "the query", ("gold",), negatives=("off1", "off2")),)
    bce = training_rows(train, PASSAGES, loss=Loss.bce, negatives=2)
    assert sorted(zip(bce["passage"], bce["label"], strict=True)) == sorted(
        [(PASSAGES["gold"], 1.0), (PASSAGES["off1"], 0.0), (PASSAGES["off2"], 0.0)]
    )
    listwise = training_rows(train, PASSAGES, loss=Loss.lambda_, negatives=2)
    assert listwise["labels"] == [[1.0, 0.0, 0.0]]
    assert listwise["docs"][0][0] == PASSAGES["gold"]


def test_a_query_without_any_negative_is_named() -> None:
    bare = (TrainingQuery("q", "the query", ("gold",), where="train.jsonl:4"),)
    with pytest.raises(ValueError, match=r"train.jsonl:4: query 'q' has no negative"):
        training_rows(bare, PASSAGES, loss=Loss.mnrl, negatives=1)
