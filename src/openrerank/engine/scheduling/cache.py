"""PairCache: a bounded LRU of logits by exact model input, for repeated (query, window) pairs.

One cache belongs to one loaded model (name, revision, backend and precision fixed), so
the key only needs the pair's token and segment ids; they are hashed (BLAKE2b, 16 bytes)
so that an entry costs a few dozen bytes whatever the pair's length.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

from openrerank.types import EncodedPair, FloatArray


def pair_key(pair: EncodedPair) -> bytes:
    """A digest of exactly what the model reads for this pair."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(pair.input_ids.tobytes())
    digest.update(pair.type_ids.tobytes())
    return digest.digest()


class PairCache:
    """Least-recently-used logits of at most ``max_entries`` pairs (not thread-safe).

    Args:
        max_entries: the bound; must be >= 1.
    """

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[bytes, FloatArray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def lookup(self, keys: Sequence[bytes]) -> list[FloatArray | None]:
        """The cached logits row of each key, or ``None``; counts hits and misses."""
        found: list[FloatArray | None] = []
        for key in keys:
            row = self._rows.get(key)
            if row is None:
                self.misses += 1
            else:
                self.hits += 1
                self._rows.move_to_end(key)
            found.append(row)
        return found

    def store(self, keys: Sequence[bytes], rows: FloatArray) -> None:
        """Remember one logits row per key, evicting the least recently used."""
        for key, row in zip(keys, rows, strict=True):
            self._rows[key] = row.copy()
            self._rows.move_to_end(key)
        while len(self._rows) > self.max_entries:
            self._rows.popitem(last=False)
