"""Reranking a judged collection's candidates with a Reranker, for quality figures."""

from __future__ import annotations

from typing import Unpack

from openrerank.eval.datasets import BeirDataset
from openrerank.sync import Reranker
from openrerank.types import DocumentOptions


def rerank_candidates(
    reranker: Reranker, dataset: BeirDataset, **options: Unpack[DocumentOptions]
) -> dict[str, dict[str, float]]:
    """Score every query's first-stage candidates; returns query -> document -> score.

    ``options`` are passed to :meth:`Reranker.score` (e.g. ``max_chunks_per_doc=1`` to
    truncate long documents instead of scoring their best window). Queries without
    candidates are left out (measures count them as 0).
    """
    run: dict[str, dict[str, float]] = {}
    for query_id, doc_ids in dataset.candidates.items():
        if not doc_ids:
            continue
        texts = dataset.candidate_texts(query_id)
        scores = reranker.score(dataset.queries[query_id], texts, **options)
        run[query_id] = dict(zip(doc_ids, scores.astype(float).tolist(), strict=True))
    return run
