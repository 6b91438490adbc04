"""Window ranges over a document's tokens (chunking/windows.py), as properties."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrerank.engine.documents.windows import TokenRange, covered_tokens, window_ranges

DETERMINISTIC = settings(max_examples=300, deadline=None, derandomize=True)

n_tokens = st.integers(0, 2_000)
sizes = st.integers(1, 300)
overlaps = st.integers(0, 400)
caps = st.none() | st.integers(1, 50)


def token_set(ranges: list[TokenRange]) -> set[int]:
    return {token for start, end in ranges for token in range(start, end)}


@DETERMINISTIC
@given(n_tokens, sizes, overlaps, caps)
def test_windows_hold_at_most_size_tokens_inside_the_document(
    n: int, size: int, overlap: int, cap: int | None
) -> None:
    ranges = window_ranges(n, size, overlap=overlap, max_windows=cap)
    assert ranges, "every document gets at least one window"
    for start, end in ranges:
        assert 0 <= start <= end <= n
        assert end - start <= size
        assert end - start > 0 or n == 0


@DETERMINISTIC
@given(n_tokens, sizes, overlaps)
def test_windows_cover_every_token_without_a_cap(n: int, size: int, overlap: int) -> None:
    ranges = window_ranges(n, size, overlap=overlap)
    assert token_set(ranges) == set(range(n))
    assert covered_tokens(ranges) == n


@DETERMINISTIC
@given(n_tokens, sizes, overlaps, caps)
def test_windows_advance_and_overlap_by_the_requested_share(
    n: int, size: int, overlap: int, cap: int | None
) -> None:
    ranges = window_ranges(n, size, overlap=overlap, max_windows=cap)
    for (start, end), (next_start, next_end) in pairwise(ranges):
        assert start < next_start and end < next_end, "windows move forward, none repeats"
        assert end - next_start >= min(overlap, size // 2)


@DETERMINISTIC
@given(n_tokens, sizes, overlaps, caps)
def test_windows_of_a_long_document_are_full_size(
    n: int, size: int, overlap: int, cap: int | None
) -> None:
    ranges = window_ranges(n, size, overlap=overlap, max_windows=cap)
    if n > size:
        assert all(end - start == size for start, end in ranges), "no short tail window"


@DETERMINISTIC
@given(st.integers(0, 300), overlaps, caps, st.integers(0, 300))
def test_windows_a_document_that_fits_is_one_window(
    n: int, overlap: int, cap: int | None, spare: int
) -> None:
    size = max(n + spare, 1)
    assert window_ranges(n, size, overlap=overlap, max_windows=cap) == [(0, n)]


@DETERMINISTIC
@given(n_tokens, sizes, overlaps, st.integers(1, 50))
def test_windows_cap_keeps_the_first_windows_and_a_covered_prefix(
    n: int, size: int, overlap: int, cap: int
) -> None:
    every = window_ranges(n, size, overlap=overlap)
    capped = window_ranges(n, size, overlap=overlap, max_windows=cap)
    assert len(capped) == min(cap, len(every))
    assert capped == every[:cap]
    scored = covered_tokens(capped)
    assert token_set(capped) == set(range(scored)), "the scored tokens are a prefix"
    assert scored == n or len(capped) == cap


def test_windows_examples() -> None:
    assert window_ranges(0, 4, overlap=1) == [(0, 0)]
    assert window_ranges(10, 4, overlap=1) == [(0, 4), (3, 7), (6, 10)]
    # overlap is capped at half a window; the last window is moved back to end on token 9
    assert window_ranges(10, 4, overlap=9) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert window_ranges(10, 4, overlap=0) == [(0, 4), (4, 8), (6, 10)]
    assert window_ranges(10, 4, overlap=1, max_windows=2) == [(0, 4), (3, 7)]
    assert covered_tokens([(0, 4), (3, 7)]) == 7
    assert covered_tokens([]) == 0


@pytest.mark.parametrize(("size", "cap"), [(0, None), (-3, None), (4, 0), (4, -1)])
def test_windows_refuse_a_size_or_cap_below_one(size: int, cap: int | None) -> None:
    with pytest.raises(ValueError, match=">= 1"):
        window_ranges(10, size, overlap=1, max_windows=cap)
