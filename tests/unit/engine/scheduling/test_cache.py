from __future__ import annotations

import numpy as np
import pytest

from openrerank.engine.scheduling.cache import PairCache, pair_key
from openrerank.types import EncodedPair


def pair(ids: list[int], types: list[int] | None = None) -> EncodedPair:
    return EncodedPair(
        np.asarray(ids, np.int64), np.asarray(types or [0] * len(ids), np.int64), doc_index=0
    )


def test_cache_key_is_the_exact_model_input() -> None:
    assert pair_key(pair([1, 2, 3])) == pair_key(pair([1, 2, 3]))
    assert pair_key(pair([1, 2, 3])) != pair_key(pair([1, 2, 4]))
    assert pair_key(pair([1, 2, 3], [0, 0, 1])) != pair_key(pair([1, 2, 3], [0, 1, 1]))
    assert len(pair_key(pair(list(range(512))))) == 16


def test_cache_counts_hits_and_misses_and_evicts_the_least_recent() -> None:
    cache = PairCache(max_entries=2)
    a, b, c = b"a" * 16, b"b" * 16, b"c" * 16
    cache.store([a, b], np.asarray([[1.0], [2.0]], np.float32))
    assert [r is None for r in cache.lookup([a, c])] == [False, True]
    cache.store([c], np.asarray([[3.0]], np.float32))  # evicts b: a was used more recently
    found = cache.lookup([a, b, c])
    assert [None if r is None else float(r[0]) for r in found] == [1.0, None, 3.0]
    assert (cache.hits, cache.misses, len(cache)) == (3, 2, 2)


def test_cache_keeps_copies_not_views_of_the_batch() -> None:
    cache = PairCache(max_entries=4)
    rows = np.asarray([[1.0], [2.0]], np.float32)
    cache.store([b"x" * 16, b"y" * 16], rows)
    rows[:] = 0
    found = cache.lookup([b"x" * 16])[0]
    assert found is not None and float(found[0]) == 1.0


def test_cache_needs_room_for_one_entry() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        PairCache(0)
