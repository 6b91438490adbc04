from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openrerank.chunking.aggregate import aggregate_max


def test_aggregate_max_takes_each_documents_best_window() -> None:
    scores = np.array([0.1, 0.7, 0.4, 0.2], dtype=np.float32)
    np.testing.assert_allclose(aggregate_max([0, 0, 1, 0], scores, 2), [0.7, 0.4])


def test_aggregate_max_fails_loudly_when_a_document_has_no_window() -> None:
    with pytest.raises(AssertionError, match="bug"):
        aggregate_max([0, 0], np.array([0.1, 0.2], dtype=np.float32), 2)


@given(st.lists(st.tuples(st.integers(0, 4), st.floats(-5, 5, width=32)), min_size=1))
def test_aggregate_max_is_independent_of_window_order(windows: list[tuple[int, float]]) -> None:
    present = sorted({doc for doc, _ in windows})
    remap = {doc: i for i, doc in enumerate(present)}
    docs = [remap[d] for d, _ in windows]
    scores = np.array([s for _, s in windows], dtype=np.float32)
    forward = aggregate_max(docs, scores, len(present))
    backward = aggregate_max(docs[::-1], scores[::-1], len(present))
    np.testing.assert_array_equal(forward, backward)
    for doc, value in enumerate(forward):
        assert value == max(s for d, s in zip(docs, scores, strict=True) if d == doc)
