"""Building an `EvalTask` from a data set folder: its queries, and first-stage candidates
from a run file or the built-in BM25."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from openrerank.eval.bm25 import Bm25Settings, bm25_candidates
from openrerank.eval.datasets import BeirDataset, load_beir, load_run, with_candidates
from openrerank.eval.defaults import DEFAULT_EVAL_MEASURES
from openrerank.eval.runner import EvalTask, default_rel, judged_queries


def make_task(  # noqa: PLR0913 - each argument is one documented choice
    dataset_dir: Path,
    *,
    run: Path | None = None,
    k: int = 100,
    max_queries: int | None = None,
    rel: int | None = None,
    split: str = "test",
    language: str = "en",
    measures: Sequence[str] = DEFAULT_EVAL_MEASURES,
) -> EvalTask:
    """Read a BEIR-layout folder and fix what an evaluation measures.

    Args:
        dataset_dir: the folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/``).
        run: a run file (TSV with header, or TREC) with the candidates; ``None`` = the
            built-in BM25 (bm25s, Lucene BM25 k1 0.9 b 0.4) over ``corpus.jsonl``.
        k: candidates reranked per query.
        max_queries: evaluate only the first judged queries (``queries.jsonl`` order).
        rel: minimum grade binary measures count; ``None`` = 2 for graded judgments
            (TREC DL), else 1.
        split: the qrels file, ``qrels/<split>.tsv``.
        language: the built-in BM25's tokenizer language.
        measures: measures in ``ir_measures`` syntax.

    Raises:
        DatasetError: a missing or malformed file, candidates naming unknown ids.
        ValueError: ``k`` or ``max_queries`` below 1, no judged query.
    """
    if k < 1 or (max_queries is not None and max_queries < 1):
        raise ValueError("k and max_queries must be >= 1")
    dataset = load_beir(dataset_dir, split=split, run=None)
    queries = judged_queries(dataset, max_queries)
    if not queries:
        raise ValueError(f"{dataset_dir}: no judged query has a text in queries.jsonl")
    if run is not None:
        candidates, first_stage = load_run(run), f"run {run.name}"
    else:
        candidates = _bm25(dataset, queries, k=k, language=language)
        first_stage = f"BM25 (built-in bm25s, {language})"
    wanted = set(queries)
    dataset = with_candidates(dataset, {q: c for q, c in candidates.items() if q in wanted})
    return EvalTask(
        dataset=dataset,
        first_stage=first_stage,
        k=k,
        queries=queries,
        rel=rel if rel is not None else default_rel(dataset.qrels),
        measures=tuple(measures),
    )


def _bm25(
    dataset: BeirDataset, queries: Sequence[str], *, k: int, language: str
) -> dict[str, tuple[str, ...]]:
    corpus = {doc_id: doc.full_text for doc_id, doc in dataset.corpus.items()}
    texts = {q: dataset.queries[q] for q in queries}
    return bm25_candidates(corpus, texts, k=k, settings=Bm25Settings(language=language))
