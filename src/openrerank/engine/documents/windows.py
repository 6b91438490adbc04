"""Where a long document's windows start and end, in token positions (pure functions)."""

from __future__ import annotations

TokenRange = tuple[int, int]
"""``[start, end)`` in a document's tokens."""


def window_ranges(
    n_tokens: int, size: int, *, overlap: int, max_windows: int | None = None
) -> list[TokenRange]:
    """Overlapping windows that together cover ``n_tokens`` tokens.

    Consecutive windows share ``overlap`` tokens (capped at half a window). Every window
    holds ``size`` tokens except when the document is shorter; the last one is moved back
    to end on the document's last token, so no window is a short tail. A document that
    fits is one window, ``(0, n_tokens)``; an empty one is ``(0, 0)``.

    Args:
        n_tokens: the document's tokens (after ``max_tokens_per_doc``).
        size: tokens per window (what fits next to the query).
        overlap: tokens shared by consecutive windows.
        max_windows: keep only the first this many windows (Cohere's
            ``max_chunks_per_doc``); the tokens after them are not scored.

    Raises:
        ValueError: ``size`` or ``max_windows`` below 1.
    """
    if size < 1 or (max_windows is not None and max_windows < 1):
        raise ValueError("window size and max_windows must be >= 1")
    if n_tokens <= size:
        return [(0, n_tokens)]
    step = size - min(overlap, size // 2)
    ranges: list[TokenRange] = []
    start = 0
    while max_windows is None or len(ranges) < max_windows:
        if start + size >= n_tokens:
            ranges.append((max(n_tokens - size, 0), n_tokens))
            break
        ranges.append((start, start + size))
        start += step
    return ranges


def covered_tokens(ranges: list[TokenRange]) -> int:
    """How many leading tokens the windows cover (they are contiguous from 0)."""
    return max((end for _, end in ranges), default=0)
