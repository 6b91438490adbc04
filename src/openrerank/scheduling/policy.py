"""Batch formation: a padded-token budget over length-sorted pairs (pure, no threads)."""

from __future__ import annotations

from collections.abc import Sequence

from openrerank.config import BatchingConfig


def plan_batches(lengths: Sequence[int], batching: BatchingConfig) -> list[list[int]]:
    """Split pairs into batches whose padded size fits the budget.

    Pairs are sorted longest first, so each batch pads to its first pair's length
    and similar lengths share a batch. A batch holds at most ``max_batch_size``
    pairs and at most ``max_batch_tokens`` padded tokens (longest x count); a pair
    longer than the budget on its own still gets a batch of one.

    Args:
        lengths: tokens of each pair, in input order.
        batching: the budget and size cap.

    Returns:
        Batches of indices into ``lengths``; every index appears exactly once.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = lengths[current[0]] if current else lengths[index]
        fits = (len(current) + 1) * width <= batching.max_batch_tokens
        if current and (not fits or len(current) >= batching.max_batch_size):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
