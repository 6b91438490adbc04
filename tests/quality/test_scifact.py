"""The reference model reproduces its published SciFact nDCG@10 on each fp32 backend.

The published figure truncates each abstract to the model window (sentence-transformers),
so the run truncates too (``max_chunks_per_doc=1``); windows are measured in
``bench/LONG_DOCUMENTS.md``.
"""

from __future__ import annotations

import pytest

from conftest import REFERENCE_MODEL
from openrerank import Reranker
from openrerank.eval.datasets import BeirDataset
from openrerank.eval.measures import evaluate
from openrerank.eval.runner import rerank_candidates
from openrerank.types import BackendName

pytestmark = pytest.mark.quality


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_scifact_rerank_reproduces_the_published_ndcg(
    backend: BackendName, scifact: BeirDataset, published_scifact_ndcg: float
) -> None:
    assert len(scifact.candidates) == 300
    with Reranker(REFERENCE_MODEL, backend=backend) as reranker:
        run = rerank_candidates(reranker, scifact, max_chunks_per_doc=1)
    ndcg = evaluate(scifact.qrels, run, ("nDCG@10",))["nDCG@10"]
    print(f"\nSciFact nDCG@10 {backend} fp32: {ndcg:.4f} (published {published_scifact_ndcg})")
    assert abs(ndcg - published_scifact_ndcg) <= 0.002, (backend, ndcg)
