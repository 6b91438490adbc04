"""The blocking Reranker facade on a real ONNX backend (tiny model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openrerank import (
    DocumentTypeError,
    EmptyQueryError,
    EngineClosedError,
    EngineConfig,
    ModelConfig,
    RankResult,
    Reranker,
    UnsupportedModelError,
)

DOCUMENTS = ["a cross encoder reads pairs", "the quick brown fox", "vitamin d and bone fractures"]


@pytest.fixture(scope="module")
def reranker(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Reranker:
    model = ModelConfig(name=str(tiny_model_dir), cache_dir=tmp_path_factory.mktemp("cache"))
    with Reranker.from_config(EngineConfig(model=model)) as opened:
        yield opened


def test_reranker_auto_backend_on_cpu_is_onnx(reranker: Reranker) -> None:
    assert (reranker.info.backend, reranker.info.precision, reranker.info.device) == (
        "onnx",
        "fp32",
        "cpu",
    )


def test_reranker_rank_returns_rank_results_consistent_with_score(reranker: Reranker) -> None:
    scores = reranker.score("cross encoder", DOCUMENTS)
    results = reranker.rank("cross encoder", DOCUMENTS, top_n=2, return_documents=True)
    assert all(isinstance(r, RankResult) for r in results) and len(results) == 2
    assert [r.index for r in results] == np.argsort(-scores, kind="stable")[:2].tolist()
    assert [r.document for r in results] == [DOCUMENTS[r.index] for r in results]
    assert results[0].relevance_score == pytest.approx(float(scores.max()))


def test_reranker_does_not_mutate_inputs(reranker: Reranker) -> None:
    documents = list(DOCUMENTS)
    reranker.rank("query", documents)
    reranker.score("query", documents)
    assert documents == DOCUMENTS


def test_reranker_raises_documented_errors(reranker: Reranker) -> None:
    with pytest.raises(EmptyQueryError):
        reranker.rank(" ", DOCUMENTS)
    with pytest.raises(DocumentTypeError, match=r"documents\[0\]"):
        reranker.score("query", [None])  # type: ignore[list-item]
    assert reranker.score("query", DOCUMENTS[:1]).shape == (1,)


def test_reranker_close_is_idempotent_and_final(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = ModelConfig(name=str(tiny_model_dir), backend="torch", cache_dir=tmp_path)
    reranker = Reranker.from_config(EngineConfig(model=model))
    reranker.close()
    reranker.close()
    with pytest.raises(EngineClosedError, match="closed"):
        reranker.score("query", DOCUMENTS)


def test_reranker_refuses_precision_the_backend_cannot_run(tiny_model_dir: Path) -> None:
    with pytest.raises(UnsupportedModelError, match="does not run precision 'int8'"):
        Reranker(str(tiny_model_dir), backend="torch", precision="int8")
