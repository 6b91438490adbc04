"""Reranking a judged collection's candidates with a Reranker, for quality figures."""

from __future__ import annotations

from openrerank.eval.datasets import BeirDataset
from openrerank.sync import Reranker


def rerank_candidates(reranker: Reranker, dataset: BeirDataset) -> dict[str, dict[str, float]]:
    """Score every query's first-stage candidates; returns query -> document -> score.

    Queries without candidates are left out (measures count them as 0).
    """
    run: dict[str, dict[str, float]] = {}
    for query_id, doc_ids in dataset.candidates.items():
        if not doc_ids:
            continue
        scores = reranker.score(dataset.queries[query_id], dataset.candidate_texts(query_id))
        run[query_id] = dict(zip(doc_ids, scores.astype(float).tolist(), strict=True))
    return run
