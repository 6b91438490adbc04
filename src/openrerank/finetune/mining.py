"""Hard negatives for queries whose data names too few: the built-in BM25 over the passages.

For each such query the passages are ranked with BM25 (the settings of `eval.bm25`, the
same as the shared runs), every passage judged relevant to it is skipped, and the best
``depth`` remaining ones become its mined negatives. Where BM25 finds fewer than the
query needs (a small pool, or no shared term), passages drawn at random, seeded, fill
the gap, so every query can be trained on.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from openrerank.eval.bm25 import Bm25Settings, bm25_candidates
from openrerank.finetune.data import TrainingData, TrainingQuery


@dataclasses.dataclass(frozen=True)
class MiningReport:
    """What mining added: queries it served, BM25 negatives and random fill-ins."""

    queries: int
    bm25: int
    random: int


def mine_negatives(
    data: TrainingData,
    *,
    wanted: int,
    depth: int = 30,
    language: str = "en",
    seed: int = 0,
) -> tuple[TrainingData, MiningReport]:
    """Give every query with fewer than ``wanted`` given negatives up to ``depth`` mined ones.

    Args:
        data: the training data; it is not changed.
        wanted: negatives a query needs; queries with at least this many given are left
            as they are.
        depth: mined negatives kept per query (at least ``wanted``).
        language: the BM25 tokenizer's language.
        seed: the random fill-in's seed.

    Returns:
        The data with ``mined`` set, and counts of what was added.
    """
    depth = max(depth, wanted)
    needy = [q for q in data.queries if len(q.negatives) < wanted]
    if not needy:
        return data, MiningReport(0, 0, 0)
    deepest = max(len(q.judged) + len(q.negatives) for q in needy)
    ranked = bm25_candidates(
        data.passages,
        {q.query_id: q.text for q in needy},
        k=depth + deepest,
        settings=Bm25Settings(language=language),
    )
    rng = random.Random(seed)
    passage_ids = sorted(data.passages)
    mined: dict[str, tuple[str, ...]] = {}
    from_bm25 = from_random = 0
    for query in needy:
        hard = _unjudged(query, ranked.get(query.query_id, ()), depth)
        extra = _random_fill(query, hard, passage_ids, wanted - len(query.negatives), rng)
        mined[query.query_id] = hard + extra
        from_bm25 += len(hard)
        from_random += len(extra)
    queries = tuple(
        dataclasses.replace(q, mined=mined[q.query_id]) if q.query_id in mined else q
        for q in data.queries
    )
    report = MiningReport(len(needy), from_bm25, from_random)
    return dataclasses.replace(data, queries=queries), report


def _unjudged(query: TrainingQuery, ranked: Sequence[str], depth: int) -> tuple[str, ...]:
    skip = query.judged | set(query.positives) | set(query.negatives)
    return tuple(p for p in ranked if p not in skip)[:depth]


def _random_fill(
    query: TrainingQuery,
    hard: tuple[str, ...],
    passage_ids: Sequence[str],
    needed: int,
    rng: random.Random,
) -> tuple[str, ...]:
    missing = needed - len(hard)
    if missing <= 0:
        return ()
    skip = query.judged | set(query.positives) | set(query.negatives) | set(hard)
    free = [p for p in passage_ids if p not in skip]
    return tuple(rng.sample(free, min(missing, len(free))))
