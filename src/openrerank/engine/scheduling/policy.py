"""Batch formation: a padded-token budget over a length-sorted window (pure, no threads)."""

from __future__ import annotations

from collections.abc import Sequence

from openrerank.config import BatchingConfig


def padded_cost(width: int, attention_tokens: int = 0) -> int:
    """Token-equivalents of one pair padded to ``width``: ``width``, plus attention's
    quadratic share ``width**2 / attention_tokens`` when that is counted (LLM rerankers
    read pairs long enough for it to dominate: 32k tokens cost 5x their length for
    Qwen3-Reranker-0.6B)."""
    if attention_tokens <= 0:
        return width
    return width + width * width // attention_tokens


def select_batch(
    lengths: Sequence[int], batching: BatchingConfig, attention_tokens: int = 0
) -> list[int]:
    """Choose the next batch from a window of waiting pairs (pure; used by the scheduler).

    ``lengths[0]`` is the most urgent pair (highest priority, then oldest), and it is
    always chosen, so no pair waits behind later arrivals for ever. The batch then grows
    with the pairs closest to its length (least padding) while the padded size
    (count x :func:`padded_cost` of the longest) fits ``max_batch_tokens`` and the count
    fits ``max_batch_size``. When it stops, no other pair of the window would fit.

    Args:
        lengths: tokens of each waiting pair in the window, most urgent first.
        batching: the budget and size cap.
        attention_tokens: see :func:`padded_cost`; 0 counts padded tokens only.

    Returns:
        Indices into ``lengths``, ``0`` included, each at most once.
    """
    if not lengths:
        return []
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    head = order.index(0)
    chosen, width = [0], lengths[0]
    lo, hi = head - 1, head + 1
    right_open = True
    while len(chosen) < batching.max_batch_size and (lo >= 0 or (right_open and hi < len(order))):
        take_right = (
            right_open
            and hi < len(order)
            and (lo < 0 or lengths[order[hi]] - width <= width - lengths[order[lo]])
        )
        index = order[hi] if take_right else order[lo]
        new_width = max(width, lengths[index])
        if (len(chosen) + 1) * padded_cost(new_width, attention_tokens) > batching.max_batch_tokens:
            if not take_right:
                break  # a shorter pair does not fit, so nothing else does
            right_open = False
            continue
        chosen.append(index)
        width = new_width
        if take_right:
            hi += 1
        else:
            lo -= 1
    return chosen
