"""Window logits to document logits: max, mean and first (chunking/aggregate.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrerank.config import Aggregation
from openrerank.engine.documents.aggregate import aggregate
from openrerank.engine.model.activation import raw_logit

DETERMINISTIC = settings(max_examples=150, deadline=None, derandomize=True)


def run_aggregate(
    logits: Any,
    documents: list[int],
    method: Aggregation,
    *,
    chunks: list[int] | None = None,
    n_documents: int | None = None,
) -> np.ndarray[Any, Any]:
    rows = np.asarray(logits, dtype=np.float32).reshape(len(documents), -1)
    if chunks is None:
        seen: dict[int, int] = {}
        chunks = []
        for document in documents:
            chunks.append(seen.get(document, 0))
            seen[document] = chunks[-1] + 1
    return aggregate(
        rows,
        strength=raw_logit(rows, positive_index=rows.shape[1] - 1),
        doc_indices=documents,
        chunk_indices=chunks,
        n_documents=len(set(documents)) if n_documents is None else n_documents,
        method=method,
    )


def test_aggregate_max_takes_each_documents_strongest_window() -> None:
    result = run_aggregate([0.1, 0.7, 0.4, 0.2], [0, 0, 1, 0], "max")
    np.testing.assert_array_equal(result, np.array([[0.7], [0.4]], dtype=np.float32))
    assert result.dtype == np.float32 and result.shape == (2, 1)


def test_aggregate_max_keeps_the_whole_row_of_the_strongest_two_label_window() -> None:
    # window 0: log-odds 3 - (-1) = 4; window 1: 6 - 5 = 1. Window 0 is the more relevant,
    # although window 1 has the larger value in both columns: a column-wise max would give
    # [5, 6], a row that no window produced, with log-odds 1.
    rows = [[-1.0, 3.0], [5.0, 6.0]]
    result = run_aggregate(rows, [0, 0], "max")
    np.testing.assert_array_equal(result, np.array([[-1.0, 3.0]], dtype=np.float32))
    assert raw_logit(result, positive_index=1)[0] == pytest.approx(4.0)


def test_aggregate_max_reads_strength_not_the_first_column() -> None:
    rows = np.array([[0.0, 1.0], [-3.0, -1.0]], dtype=np.float32)  # log-odds 1 and 2
    result = aggregate(
        rows,
        strength=raw_logit(rows, positive_index=1),
        doc_indices=[0, 0],
        chunk_indices=[0, 1],
        n_documents=1,
        method="max",
    )
    np.testing.assert_array_equal(result, rows[1:])


def test_aggregate_mean_averages_each_documents_rows() -> None:
    rows = [[1.0, 2.0], [3.0, 6.0], [10.0, -10.0], [-1.0, 0.5]]
    result = run_aggregate(rows, [0, 0, 1, 0], "mean")
    expected = np.array([np.mean([rows[0], rows[1], rows[3]], axis=0), rows[2]], dtype=np.float32)
    np.testing.assert_allclose(result, expected, rtol=1e-6)


def test_aggregate_first_takes_chunk_zero_wherever_it_is_listed() -> None:
    rows = [[0.9], [0.1], [0.5], [0.3]]
    # the windows arrive out of order: document 0's chunk 0 is its second row
    result = run_aggregate(rows, [0, 0, 1, 1], "first", chunks=[1, 0, 0, 1])
    np.testing.assert_array_equal(result, np.array([[0.1], [0.5]], dtype=np.float32))


@pytest.mark.parametrize("method", ["max", "mean", "first"])
def test_aggregate_single_window_documents_keep_their_row(method: Aggregation) -> None:
    rows = np.array([[0.2, -0.4], [1.5, 2.5], [-3.0, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(run_aggregate(rows, [2, 0, 1], method), rows[[1, 2, 0]])


@pytest.mark.parametrize("method", ["max", "mean", "first"])
def test_aggregate_fails_loudly_when_a_document_has_no_window(method: Aggregation) -> None:
    with pytest.raises(AssertionError, match="bug"):
        run_aggregate([0.1, 0.2, 0.3], [0, 0, 2], method, n_documents=3)


def test_aggregate_fails_loudly_when_a_window_names_a_document_past_the_end() -> None:
    # document 1 has no window, and one window claims a document 2 that does not exist
    with pytest.raises(AssertionError, match="bug"):
        run_aggregate([0.1, 0.2], [0, 2], "max", n_documents=2)


def test_aggregate_first_fails_loudly_when_a_document_has_no_chunk_zero() -> None:
    # without chunk 0 there is no "first" window; the row must not be left uninitialised
    with pytest.raises(AssertionError, match="bug"):
        run_aggregate([0.1, 0.2, 0.3], [0, 1, 1], "first", chunks=[0, 1, 2])


def test_aggregate_refuses_a_logits_row_count_that_differs_from_the_windows() -> None:
    rows = np.zeros((3, 1), dtype=np.float32)
    with pytest.raises(AssertionError, match="bug"):
        aggregate(
            rows,
            strength=rows[:, 0],
            doc_indices=[0, 1],
            chunk_indices=[0, 0],
            n_documents=2,
            method="max",
        )


@st.composite
def windows(draw: st.DrawFn) -> tuple[np.ndarray[Any, Any], list[int], list[int], int]:
    """Rows of 1 or 2 logits for 1..5 documents, each with 1..4 windows, in any order."""
    n_documents = draw(st.integers(1, 5))
    labels = draw(st.sampled_from([1, 2]))
    counts = draw(st.lists(st.integers(1, 4), min_size=n_documents, max_size=n_documents))
    listed = [(doc, chunk) for doc, count in enumerate(counts) for chunk in range(count)]
    listed = draw(st.permutations(listed))
    values = st.floats(-8, 8, width=32, allow_subnormal=False)
    rows = draw(
        st.lists(
            st.lists(values, min_size=labels, max_size=labels),
            min_size=len(listed),
            max_size=len(listed),
        )
    )
    return (
        np.asarray(rows, dtype=np.float32),
        [doc for doc, _ in listed],
        [chunk for _, chunk in listed],
        n_documents,
    )


def call(
    rows: np.ndarray[Any, Any], documents: list[int], chunks: list[int], n: int, method: Aggregation
) -> np.ndarray[Any, Any]:
    return aggregate(
        rows,
        strength=raw_logit(rows, positive_index=rows.shape[1] - 1),
        doc_indices=documents,
        chunk_indices=chunks,
        n_documents=n,
        method=method,
    )


@DETERMINISTIC
@given(windows(), st.randoms(use_true_random=False))
def test_aggregate_is_independent_of_window_order(
    case: tuple[np.ndarray[Any, Any], list[int], list[int], int], rng: Any
) -> None:
    rows, documents, chunks, n = case
    order = list(range(len(documents)))
    rng.shuffle(order)
    shuffled = (rows[order], [documents[i] for i in order], [chunks[i] for i in order], n)
    positive = rows.shape[1] - 1
    for method in ("max", "first"):
        forward, backward = call(*case, method), call(*shuffled, method)
        # equal-strength windows may be picked either way; what is scored is identical
        np.testing.assert_array_equal(raw_logit(forward, positive), raw_logit(backward, positive))
    np.testing.assert_allclose(call(*case, "mean"), call(*shuffled, "mean"), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(call(*case, "first"), call(*shuffled, "first"))


@DETERMINISTIC
@given(windows())
def test_aggregate_matches_its_definition_per_document(
    case: tuple[np.ndarray[Any, Any], list[int], list[int], int],
) -> None:
    rows, documents, chunks, n = case
    positive = rows.shape[1] - 1
    strength = raw_logit(rows, positive)
    best, mean, first = (call(*case, method) for method in ("max", "mean", "first"))
    for doc in range(n):
        mine = [i for i, d in enumerate(documents) if d == doc]
        # max: a row of one of the document's windows, with the largest log-odds
        assert any(np.array_equal(best[doc], rows[i]) for i in mine)
        assert raw_logit(best[doc : doc + 1], positive)[0] == max(strength[i] for i in mine)
        np.testing.assert_allclose(mean[doc], rows[mine].mean(axis=0), rtol=1e-5, atol=1e-5)
        (zero,) = (i for i in mine if chunks[i] == 0)
        np.testing.assert_array_equal(first[doc], rows[zero])
