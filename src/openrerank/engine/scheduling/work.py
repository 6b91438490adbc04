"""WorkItem: one (query, window) pair waiting for the model, with its own future."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from openrerank.types import EncodedPair, FloatArray


@dataclass(eq=False)
class WorkItem:
    """A pair queued for scoring.

    Attributes:
        pair: the encoded pair.
        future: resolves to the pair's logits row, or to the batch's error; cancelled
            when its request is.
        priority: lower is served first (Cohere v2 ``priority``).
        seq: arrival order, the tie-breaker within a priority.
    """

    pair: EncodedPair
    future: asyncio.Future[FloatArray] = field(repr=False)
    priority: int
    seq: int

    @property
    def key(self) -> tuple[int, int]:
        """Urgency: priority first, then arrival."""
        return (self.priority, self.seq)

    @property
    def n_tokens(self) -> int:
        """Tokens the model reads for this pair."""
        return self.pair.n_tokens

    @property
    def waiting(self) -> bool:
        """Nobody has resolved or cancelled this item yet."""
        return not self.future.done()

    def __lt__(self, other: WorkItem) -> bool:
        return self.key < other.key
