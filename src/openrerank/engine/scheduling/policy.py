"""Batch formation: a padded-token budget over a length-sorted window (pure, no threads)."""

from __future__ import annotations

from collections.abc import Sequence

from openrerank.config import BatchingConfig


def select_batch(lengths: Sequence[int], batching: BatchingConfig) -> list[int]:
    """Choose the next batch from a window of waiting pairs (pure; used by the scheduler).

    ``lengths[0]`` is the most urgent pair (highest priority, then oldest), and it is
    always chosen, so no pair waits behind later arrivals for ever. The batch then grows
    with the pairs closest to its length (least padding) while the padded size
    (longest x count) fits ``max_batch_tokens`` and the count fits ``max_batch_size``.
    When it stops, no other pair of the window would fit.

    Args:
        lengths: tokens of each waiting pair in the window, most urgent first.
        batching: the budget and size cap.

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
        if (len(chosen) + 1) * new_width > batching.max_batch_tokens:
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
