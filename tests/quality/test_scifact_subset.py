"""A fixed SciFact subset reranked by openrerank and by transformers: same scores, same figures.

The cheap counterpart of ``test_scifact.py`` (full collection, marked ``quality``, run by
``make quality``), part of the default suite. The subset is the first ``SUBSET_QUERIES``
judged test queries in ``queries.jsonl`` order, each with its shared BM25 top-100.

openrerank reranks them through the library on the default backend (onnx fp32), truncating
each abstract to the model window (``max_chunks_per_doc=1``) as the published figures do.
The independent reference is plain transformers on the same weights: the sentence-transformers
``CrossEncoder`` recipe (truncation to the tokenizer's ``model_max_length``, the sigmoid that
``config_sentence_transformers.json`` declares applied to the single logit). Both runs are
evaluated with the same measures; nothing is compared with a stored number.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import REFERENCE_MODEL
from openrerank import EngineConfig, ModelConfig, Reranker
from openrerank.eval.datasets import BeirDataset, with_candidates
from openrerank.eval.measures import evaluate
from openrerank.eval.runner import rerank_candidates
from tiny_models import transformers_logits

SUBSET_QUERIES = 10  # x 100 BM25 candidates = 1,000 pairs
# sentence-transformers' CrossEncoder.predict default; also ~2x faster here than one batch of 100
REFERENCE_BATCH = 32
SCORE_TOLERANCE = 1e-4
MEASURES = ("nDCG@10", "RR@10", "R@10")
# Scores agree within ~1e-6 here (measured 9.5e-7), while the closest two of any subset
# query's top 11 are >= 1.3e-4 apart, so the top-10 rankings are identical, not just close.
MEASURE_TOLERANCE = 1e-9

Run = dict[str, dict[str, float]]


@pytest.fixture(scope="module")
def subset(scifact: BeirDataset) -> BeirDataset:
    """SciFact test restricted to its first judged queries with BM25 candidates."""
    judged = [q for q in scifact.queries if q in scifact.qrels and scifact.candidates.get(q)]
    chosen = judged[:SUBSET_QUERIES]
    return with_candidates(scifact, {q: scifact.candidates[q] for q in chosen})


@pytest.fixture(scope="module")
def subset_qrels(subset: BeirDataset) -> dict[str, dict[str, int]]:
    """The judgments of the subset's queries only (others would count 0)."""
    return {q: dict(subset.qrels[q]) for q in subset.candidates}


@pytest.fixture(scope="module")
def max_length(reference_model_dir: Path) -> int:
    """The window the model card's tokenizer truncates to."""
    config = json.loads((reference_model_dir / "tokenizer_config.json").read_text("utf-8"))
    window = config["model_max_length"]
    assert isinstance(window, int)
    return window


@pytest.fixture(scope="module")
def openrerank_run(subset: BeirDataset, max_length: int, reference_onnx_cache: Path) -> Run:
    model = ModelConfig(name=REFERENCE_MODEL, cache_dir=reference_onnx_cache)
    with Reranker.from_config(EngineConfig(model=model)) as reranker:
        info = reranker.info
        assert (info.backend, info.precision, info.max_length) == ("onnx", "fp32", max_length)
        return rerank_candidates(reranker, subset, max_chunks_per_doc=1)


@pytest.fixture(scope="module")
def transformers_run(reference_model_dir: Path, subset: BeirDataset, max_length: int) -> Run:
    st_config = reference_model_dir / "config_sentence_transformers.json"
    activation = json.loads(st_config.read_text("utf-8"))["activation_fn"]
    assert activation == "torch.nn.modules.activation.Sigmoid"
    run: Run = {}
    for query_id, doc_ids in subset.candidates.items():
        query, texts = subset.queries[query_id], subset.candidate_texts(query_id)
        scores = transformers_scores(reference_model_dir, query, texts, max_length)
        run[query_id] = dict(zip(doc_ids, scores.tolist(), strict=True))
    return run


def transformers_scores(folder: Path, query: str, texts: list[str], max_length: int) -> np.ndarray:
    """The sigmoid of transformers' single logit per pair, in batches of REFERENCE_BATCH."""
    batches = [
        transformers_logits(
            folder,
            query,
            texts[i : i + REFERENCE_BATCH],
            max_length=max_length,
            truncation="longest_first",
        )
        for i in range(0, len(texts), REFERENCE_BATCH)
    ]
    logits = np.concatenate(batches)
    assert logits.shape == (len(texts), 1)
    scores: np.ndarray = 1.0 / (1.0 + np.exp(-logits[:, 0].astype(np.float64)))
    return scores


def ranked(scores: dict[str, float]) -> list[str]:
    return sorted(scores, key=lambda doc_id: -scores[doc_id])


def test_subset_is_the_first_judged_queries_with_their_bm25_top100(subset: BeirDataset) -> None:
    assert len(subset.candidates) == SUBSET_QUERIES
    assert sum(len(doc_ids) for doc_ids in subset.candidates.values()) == SUBSET_QUERIES * 100
    assert (
        list(subset.candidates) == [q for q in subset.queries if q in subset.qrels][:SUBSET_QUERIES]
    )


def test_openrerank_scores_match_transformers_on_every_subset_pair(
    openrerank_run: Run, transformers_run: Run
) -> None:
    assert openrerank_run.keys() == transformers_run.keys()
    worst = 0.0
    for query_id, expected in transformers_run.items():
        mine = openrerank_run[query_id]
        assert mine.keys() == expected.keys(), query_id
        worst = max(worst, *(abs(mine[d] - expected[d]) for d in expected))
    print(f"\nSciFact subset: max |openrerank - transformers| score difference {worst:.2e}")
    assert worst <= SCORE_TOLERANCE


def test_openrerank_measures_equal_transformers_on_the_subset(
    subset_qrels: dict[str, dict[str, int]], openrerank_run: Run, transformers_run: Run
) -> None:
    mine = evaluate(subset_qrels, openrerank_run, MEASURES)
    reference = evaluate(subset_qrels, transformers_run, MEASURES)

    print(f"\nSciFact subset: openrerank {mine}, transformers {reference}")
    assert mine == pytest.approx(reference, abs=MEASURE_TOLERANCE)
    for query_id, expected in transformers_run.items():
        assert ranked(openrerank_run[query_id])[:10] == ranked(expected)[:10], query_id


def test_subset_reranking_reorders_every_bm25_list(
    subset: BeirDataset, openrerank_run: Run
) -> None:
    for query_id, doc_ids in subset.candidates.items():
        assert ranked(openrerank_run[query_id]) != list(doc_ids), query_id
    scores = [s for run in openrerank_run.values() for s in run.values()]
    assert len(set(scores)) > len(scores) // 2, "scores must not be constant"
