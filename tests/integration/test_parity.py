"""Our scores equal transformers' on the same weights, per architecture and backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from openrerank import EngineConfig, ModelConfig, Reranker
from openrerank.types import BackendName
from tiny_models import ARCHITECTURES, transformers_logits

QUERY = "does a cross encoder read the query"
DOCUMENTS = [
    "A cross-encoder reads the query and the document together and returns a score.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Vitamin D deficiency is associated with a higher risk of bone fractures. " * 8,
    "Search engines first retrieve documents with a fast index, then rerank them.",
    "",
    "Python is a programming language that lets you work quickly.",
    "The patient was treated with antibiotics and recovered within two weeks.",
    "Climate change increases the frequency of heat waves and droughts.",
]
MAX_LENGTH = 48  # the query stays under half of it, so truncation is document-only


def reference_logits(folder: Path) -> np.ndarray:
    return transformers_logits(folder, QUERY, DOCUMENTS, max_length=MAX_LENGTH)


def log_odds(logits: np.ndarray) -> np.ndarray:
    return logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]


def relevance(logits: np.ndarray) -> np.ndarray:
    wide = logits.astype(np.float64)
    if wide.shape[1] == 1:
        return 1 / (1 + np.exp(-wide[:, 0]))
    exp = np.exp(wide - wide.max(axis=1, keepdims=True))
    return exp[:, 1] / exp.sum(axis=1)


@pytest.mark.parametrize("num_labels", [1, 2])
@pytest.mark.parametrize("backend", ["onnx", "openvino", "torch"])
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_parity_with_transformers_fp32(
    arch: str,
    backend: BackendName,
    num_labels: int,
    tiny_model_factory: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tiny_model_factory(arch, num_labels)
    expected = reference_logits(folder)
    model = ModelConfig(
        name=str(folder),
        backend=backend,
        max_length=MAX_LENGTH,
        cache_dir=tmp_path_factory.mktemp("onnx-cache"),
    )
    with Reranker.from_config(EngineConfig(model=model)) as reranker:
        raw = reranker.score(QUERY, DOCUMENTS, raw=True, max_chunks_per_doc=1)
        scores = reranker.score(QUERY, DOCUMENTS, max_chunks_per_doc=1)
        ranked = [r.index for r in reranker.rank(QUERY, DOCUMENTS, max_chunks_per_doc=1)]
        assert reranker.info.backend == backend
    assert np.abs(raw - log_odds(expected)).max() <= 1e-4
    assert np.abs(scores - relevance(expected)).max() <= 1e-4
    assert np.ptp(log_odds(expected)) > 1e-2, "the tiny model must separate the documents"
    assert ranked == np.argsort(-relevance(expected), kind="stable").tolist()
