"""Base vs fine-tuned on the held-out dev queries, through the engine that serves them.

The dev queries become an `EvalTask` over the training passages: their candidates are
the built-in BM25's top ``k`` (as on any first stage), their positives the judgments.
Both models rank the same candidates through `openrerank.sync.Reranker` (what ``serve``,
``rank``, ``eval`` and ``batch`` run), and `eval.compare.compare_reports` pairs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from openrerank.config import EngineConfig, ModelConfig
from openrerank.eval.bm25 import Bm25Settings, bm25_candidates
from openrerank.eval.compare import Comparison, compare_reports
from openrerank.eval.datasets import BeirDataset, Document
from openrerank.eval.runner import EvalReport, EvalTask, build_report, rerank_task
from openrerank.eval.scorers import LibraryScorer
from openrerank.finetune.data import TrainingQuery
from openrerank.sync import Reranker

DEV_MEASURES = ("nDCG@10", "RR@10", "R@10")


def dev_task(
    passages: Mapping[str, str],
    dev: Sequence[TrainingQuery],
    *,
    k: int,
    language: str = "en",
) -> EvalTask | None:
    """The dev queries as an evaluation over the passages; ``None`` when there are none
    or BM25 finds no candidate for any of them."""
    if not dev:
        return None
    texts = {q.query_id: q.text for q in dev}
    candidates = bm25_candidates(passages, texts, k=k, settings=Bm25Settings(language=language))
    if not candidates:
        return None
    dataset = BeirDataset(
        path=Path("dev"),
        corpus=MappingProxyType({p: Document(p, "", text) for p, text in passages.items()}),
        queries=MappingProxyType(texts),
        qrels=MappingProxyType(
            {q.query_id: MappingProxyType(dict.fromkeys(q.positives, 1)) for q in dev}
        ),
        candidates=MappingProxyType(candidates),
    )
    first_stage = f"BM25 top-{k} over the training passages"
    return EvalTask(dataset, first_stage, k, tuple(texts), rel=1, measures=DEV_MEASURES)


def compare_models(
    task: EvalTask,
    base: ModelConfig,
    tuned: ModelConfig,
    *,
    progress: Callable[[str], Callable[[int], None] | None] = lambda _: None,
) -> Comparison:
    """Rank ``task`` with both models and pair the reports (base is the baseline)."""
    return compare_reports(
        _report(task, base, progress("base")), _report(task, tuned, progress("fine-tuned"))
    )


def _report(
    task: EvalTask, model: ModelConfig, progress: Callable[[int], None] | None
) -> EvalReport:
    with Reranker.from_config(EngineConfig(model=model)) as reranker:
        run = rerank_task(task, LibraryScorer(reranker), progress=progress)
    return build_report(task, run)
