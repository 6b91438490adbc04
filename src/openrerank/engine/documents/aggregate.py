"""Window logits to document logits (pure functions).

A document's windows are combined on the logits, before the activation, so that raw
and relevance scores always rank documents the same way: ``max`` and ``first`` pick
one window's row (the best by its log-odds, or the first window), ``mean`` averages
the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openrerank.config import Aggregation
from openrerank.types import FloatArray


def aggregate(
    logits: FloatArray,
    *,
    strength: FloatArray,
    doc_indices: Sequence[int],
    chunk_indices: Sequence[int],
    n_documents: int,
    method: Aggregation,
) -> FloatArray:
    """One logits row per document, from its windows' rows.

    Args:
        logits: ``(windows, labels)`` rows.
        strength: one relevance log-odds per window; ``max`` keeps the strongest.
        doc_indices: the document each window belongs to.
        chunk_indices: each window's position in its document.
        n_documents: how many documents there are; each must have a window.
        method: ``max``, ``mean`` or ``first``.

    Raises:
        AssertionError: a document has no window (a bug upstream).
    """
    documents = np.asarray(doc_indices, dtype=np.int64)
    in_range = documents.size == 0 or (documents.min() >= 0 and documents.max() < n_documents)
    if not in_range or np.unique(documents).size != n_documents:
        raise AssertionError("a document has no scored window; this is a bug")
    if documents.size != logits.shape[0]:
        raise AssertionError("windows and logits rows differ in number; this is a bug")
    if method == "mean":
        sums = np.zeros((n_documents, logits.shape[1]), dtype=np.float64)
        np.add.at(sums, documents, logits)
        counts = np.bincount(documents, minlength=n_documents)[:, None]
        return (sums / counts).astype(np.float32)
    if method == "first":
        chosen = np.flatnonzero(np.asarray(chunk_indices, dtype=np.int64) == 0)
        if np.unique(documents[chosen]).size != n_documents or chosen.size != n_documents:
            raise AssertionError("a document has no first window; this is a bug")
    else:
        order = np.lexsort((-np.asarray(strength, dtype=np.float64), documents))
        starts = np.flatnonzero(np.r_[True, np.diff(documents[order]) != 0])
        chosen = order[starts]
    result = np.empty((n_documents, logits.shape[1]), dtype=np.float32)
    result[documents[chosen]] = logits[chosen]
    return result
