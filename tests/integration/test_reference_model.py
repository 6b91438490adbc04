"""The real reference cross-encoder from ../shared: parity, int8, export cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from conftest import REFERENCE_MODEL
from openrerank import EngineConfig, ModelConfig, Reranker
from openrerank.eval.datasets import BeirDataset, load_beir
from openrerank.types import BackendName, Precision

N_QUERIES = 2  # x 100 BM25 candidates = 200 SciFact pairs


@pytest.fixture(scope="module")
def scifact_pairs(scifact_dir: Path) -> list[tuple[str, list[str]]]:
    dataset: BeirDataset = load_beir(scifact_dir)
    query_ids = [q for q in dataset.candidates if len(dataset.candidates[q]) == 100][:N_QUERIES]
    return [(dataset.queries[q], dataset.candidate_texts(q)) for q in query_ids]


@pytest.fixture(scope="module")
def transformers_logits(
    reference_model_dir: Path, scifact_pairs: list[tuple[str, list[str]]]
) -> list[np.ndarray]:
    tokenizer = AutoTokenizer.from_pretrained(reference_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(reference_model_dir).eval()
    outputs = []
    for query, documents in scifact_pairs:
        encoded = tokenizer(
            [query] * len(documents), documents, truncation=True, padding=True, return_tensors="pt"
        )
        with torch.inference_mode():
            outputs.append(model(**encoded).logits[:, 0].numpy())
    return outputs


def open_reference(backend: BackendName, precision: Precision, cache: Path) -> Reranker:
    model = ModelConfig(name=REFERENCE_MODEL, backend=backend, precision=precision, cache_dir=cache)
    return Reranker.from_config(EngineConfig(model=model))


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_reference_model_matches_transformers_on_200_scifact_pairs(
    backend: BackendName,
    scifact_pairs: list[tuple[str, list[str]]],
    transformers_logits: list[np.ndarray],
    reference_onnx_cache: Path,
) -> None:
    with open_reference(backend, "fp32", reference_onnx_cache) as reranker:
        assert reranker.info.max_length == 256 and reranker.info.activation == "sigmoid"
        for (query, documents), expected in zip(scifact_pairs, transformers_logits, strict=True):
            logits = reranker.score(query, documents, raw=True, max_chunks_per_doc=1)
            assert np.abs(logits - expected).max() <= 1e-4
            ranked = [r.index for r in reranker.rank(query, documents, max_chunks_per_doc=1)]
            assert ranked == np.argsort(-expected, kind="stable").tolist()


def test_reference_model_int8_stays_close_to_fp32(
    scifact_pairs: list[tuple[str, list[str]]],
    transformers_logits: list[np.ndarray],
    reference_onnx_cache: Path,
) -> None:
    with open_reference("onnx", "int8", reference_onnx_cache) as reranker:
        assert reranker.info.precision == "int8"
        for (query, documents), expected in zip(scifact_pairs, transformers_logits, strict=True):
            logits = reranker.score(query, documents, raw=True, max_chunks_per_doc=1)
            assert np.abs(logits - expected).max() > 1e-6, "int8 must not be the fp32 model"
            assert np.corrcoef(logits, expected)[0, 1] > 0.95


def test_reference_model_onnx_export_is_cached_per_revision(
    reference_model_dir: Path,
    scifact_pairs: list[tuple[str, list[str]]],
    reference_onnx_cache: Path,
) -> None:
    query, documents = scifact_pairs[0]
    with open_reference("onnx", "fp32", reference_onnx_cache) as reranker:
        exported = Path(reranker.info.model_file or "")
        first = reranker.score(query, documents[:5], max_chunks_per_doc=1)
    assert exported.parent.name == reference_model_dir.name
    assert exported.is_relative_to(reference_onnx_cache)
    stamp = exported.stat().st_mtime_ns
    with open_reference("onnx", "fp32", reference_onnx_cache) as reranker:
        np.testing.assert_array_equal(
            reranker.score(query, documents[:5], max_chunks_per_doc=1), first
        )
    assert exported.stat().st_mtime_ns == stamp
