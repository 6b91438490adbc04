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
from collections.abc import Mapping, Sequence

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
    same_text = _same_text(data.passages)
    for query in needy:
        skip = _skipped(query, same_text)
        hard = tuple(p for p in ranked.get(query.query_id, ()) if p not in skip)[:depth]
        missing = wanted - len(query.negatives) - len(hard)
        extra = _random_fill(skip | set(hard), passage_ids, missing, rng)
        mined[query.query_id] = hard + extra
        from_bm25 += len(hard)
        from_random += len(extra)
    queries = tuple(
        dataclasses.replace(q, mined=mined[q.query_id]) if q.query_id in mined else q
        for q in data.queries
    )
    report = MiningReport(len(needy), from_bm25, from_random)
    return dataclasses.replace(data, queries=queries), report


def _same_text(passages: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Passage id to every passage id with the same text, case and spacing aside."""
    groups: dict[str, list[str]] = {}
    for passage_id, text in passages.items():
        groups.setdefault(_normal(text), []).append(passage_id)
    return {p: tuple(group) for group in groups.values() for p in group}


def _skipped(query: TrainingQuery, same_text: Mapping[str, tuple[str, ...]]) -> set[str]:
    """Passages never to mine for ``query``: judged or given ones, and any passage with
    the same text as a judged one (corpora repeat texts under other ids)."""
    judged = set(query.judged) | set(query.positives)
    same = {other for p in judged for other in same_text.get(p, (p,))}
    return judged | same | set(query.negatives)


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _random_fill(
    skip: set[str], passage_ids: Sequence[str], missing: int, rng: random.Random
) -> tuple[str, ...]:
    if missing <= 0:
        return ()
    free = [p for p in passage_ids if p not in skip]
    return tuple(rng.sample(free, min(missing, len(free))))
