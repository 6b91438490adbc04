"""Window scores to document scores (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openrerank.types import FloatArray


def aggregate_max(doc_indices: Sequence[int], scores: FloatArray, n_documents: int) -> FloatArray:
    """Each document's score is the maximum over its windows' scores.

    Args:
        doc_indices: the document each score belongs to.
        scores: one score per window.
        n_documents: how many documents there are; each must have a window.

    Raises:
        AssertionError: a document has no window (a bug upstream).
    """
    indices = np.asarray(doc_indices, dtype=np.int64)
    if np.unique(indices).size != n_documents:
        raise AssertionError("a document has no scored window; this is a bug")
    result = np.full(n_documents, -np.inf, dtype=np.float32)
    np.maximum.at(result, indices, scores)
    return result
