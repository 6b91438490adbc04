"""What is trained on: the dev queries held out, and the rows each loss takes.

The dev split is by query (a query's passages never straddle it), by the seeded hash of
`eval.fitting.split_queries`, so it depends only on the query ids and the seed.

Each positive of a training query becomes ``rounds`` rows, each with its own
``negatives`` passages drawn from the query's negative pool (given negatives first, then
mined ones, cycled when the pool is short), in a seeded order. The row shapes are the
ones sentence-transformers' cross-encoder losses take:

* ``mnrl`` (MultipleNegativesRankingLoss): ``query, positive, negative_1..n``;
* ``bce`` (BinaryCrossEntropyLoss): ``query, passage, label`` with label 1.0 or 0.0;
* ``lambda`` (LambdaLoss): ``query, docs, labels``, the positive and its negatives.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from openrerank.eval.fitting import split_queries
from openrerank.finetune.data import TrainingData, TrainingDataError, TrainingQuery

Columns = dict[str, list[Any]]


class Loss(StrEnum):
    """The losses ``openrerank finetune`` trains with."""

    mnrl = "mnrl"
    bce = "bce"
    lambda_ = "lambda"


def split_dev(
    data: TrainingData, *, dev: float, seed: int
) -> tuple[tuple[TrainingQuery, ...], tuple[TrainingQuery, ...]]:
    """Hold out a share ``dev`` of the queries (0 = none); returns (train, dev) in file order.

    Raises:
        ValueError: ``dev`` outside [0, 1), or a split with fewer than 2 queries.
    """
    if not 0.0 <= dev < 1.0:
        raise ValueError(f"the dev share must be in [0, 1), got {dev}")
    if dev == 0.0:
        return data.queries, ()
    _, held = split_queries([q.query_id for q in data.queries], held_out=dev, seed=seed)
    train = tuple(q for q in data.queries if q.query_id not in held)
    return train, tuple(q for q in data.queries if q.query_id in held)


def training_rows(
    queries: Sequence[TrainingQuery],
    passages: Mapping[str, str],
    *,
    loss: Loss,
    negatives: int,
    rounds: int = 1,
    seed: int = 0,
) -> Columns:
    """The training rows of ``queries`` in the columns ``loss`` takes (module docstring).

    Raises:
        ValueError: ``negatives`` or ``rounds`` below 1.
        TrainingDataError: a query without any negative (naming its row).
    """
    if negatives < 1 or rounds < 1:
        raise ValueError("negatives and rounds must be >= 1")
    rng = random.Random(seed)
    groups: list[tuple[str, str, list[str]]] = []
    for query in queries:
        pool = _shuffled_pool(query, rng)
        for index, positive in enumerate(query.positives):
            for round_ in range(rounds):
                start = (index * rounds + round_) * negatives
                chosen = [pool[(start + j) % len(pool)] for j in range(negatives)]
                groups.append((query.text, positive, chosen))
    rng.shuffle(groups)
    return _columns(groups, passages, loss)


def _shuffled_pool(query: TrainingQuery, rng: random.Random) -> list[str]:
    """Given negatives first (shuffled), then mined ones (shuffled)."""
    given, mined = list(query.negatives), list(query.mined)
    if not given and not mined:
        raise TrainingDataError(
            f"{query.where}: query {query.query_id!r} has no negative to train on"
        )
    rng.shuffle(given)
    rng.shuffle(mined)
    return given + mined


def _columns(
    groups: list[tuple[str, str, list[str]]], passages: Mapping[str, str], loss: Loss
) -> Columns:
    if loss is Loss.mnrl:
        columns: Columns = {"query": [], "positive": []}
        count = len(groups[0][2]) if groups else 0
        columns.update({f"negative_{j + 1}": [] for j in range(count)})
        for query, positive, chosen in groups:
            columns["query"].append(query)
            columns["positive"].append(passages[positive])
            for j, negative in enumerate(chosen):
                columns[f"negative_{j + 1}"].append(passages[negative])
        return columns
    if loss is Loss.bce:
        columns = {"query": [], "passage": [], "label": []}
        for query, positive, chosen in groups:
            for passage, label in [(positive, 1.0)] + [(n, 0.0) for n in chosen]:
                columns["query"].append(query)
                columns["passage"].append(passages[passage])
                columns["label"].append(label)
        return columns
    columns = {"query": [], "docs": [], "labels": []}
    for query, positive, chosen in groups:
        columns["query"].append(query)
        columns["docs"].append([passages[positive]] + [passages[n] for n in chosen])
        columns["labels"].append([1.0] + [0.0] * len(chosen))
    return columns
