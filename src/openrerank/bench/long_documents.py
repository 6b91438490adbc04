"""Long documents on judged data: truncation to one window vs scoring every window.

For each set (SciFact abstracts; TREC DL 2019 passages joined 4 at a time in hashed
order, see `openrerank.bench.long_document_sets`) and each model window, every query's
candidates are reranked with:

* ``truncate``: one window per document (``max_chunks_per_doc=1``), what every peer does;
* ``max`` / ``mean`` / ``first``: the document is split into overlapping windows and its
  score is the max / mean / first of the window scores.

Prints a markdown table: nDCG@10 and RR@10 (TREC DL counts grade >= 2 as relevant for RR),
pairs scored (windows, from the engine's usage), scoring seconds (model load excluded),
and for each window variant its per-query wins/losses against truncation with a paired
sign-flip p-value. Also reports how many candidate documents exceed each window.

``openrerank bench long-documents`` runs this; with ``parts`` it adds a DL19-only
diagnostic row: each passage scored alone, document = max over its passages (boundaries
a real caller does not know). Results: bench/LONG_DOCUMENTS.md.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from openrerank.bench.long_document_sets import (
    PassageGroups,
    build_passage_groups,
    build_top_k_set,
    relevant_part_positions,
)
from openrerank.config import ChunkingConfig, EngineConfig, ModelConfig
from openrerank.engine.model.resolve import resolve_model
from openrerank.engine.model.spec import read_spec
from openrerank.engine.service import RerankService
from openrerank.engine.tokenization.tokenizer import PairTokenizer
from openrerank.eval.datasets import BeirDataset, load_beir
from openrerank.eval.measures import evaluate, ranking_to_run
from openrerank.eval.stats import paired_sign_flip_p

MEASURES = ("nDCG@10", "RR@10")
Aggregation = Literal["max", "mean", "first"]


@dataclass(frozen=True)
class JudgedSet:
    """One benchmark set: its documents, and the grade counted relevant by RR.

    ``groups`` is set for grouped passages: their known boundaries allow the
    ``--parts`` diagnostic.
    """

    name: str
    dataset: BeirDataset
    rel: int
    notes: list[str] = field(default_factory=list)
    groups: PassageGroups | None = None
    source: BeirDataset | None = None


@dataclass
class Row:
    """One (set, window, system) measurement."""

    set: str
    window: int
    system: str
    figures: dict[str, float]
    pairs: int | None = None
    documents: int | None = None
    seconds: float | None = None
    versus_truncate: str = ""


@dataclass
class Scored:
    """The run of one system over a set, with what it cost."""

    run: dict[str, dict[str, float]]
    pairs: int
    documents: int
    seconds: float


@dataclass(frozen=True)
class LongDocumentsConfig:
    """What one run measures."""

    model: str
    data: Path
    """The folder with ``beir-scifact/`` and ``trec-dl-2019-passage/``."""
    sets: str = "dl19,scifact"
    windows: str = "256,128"
    """Model windows (``max_length``), comma-separated."""
    queries: int | None = None
    """The first N queries of each set (``None``: all)."""
    top_k: int = 10
    """SciFact BM25 candidates per query."""
    passages: int = 100
    """DL19 BM25 passages per query."""
    group: int = 4
    """DL19 passages per document."""
    aggregations: str = "max,mean"
    overlap: int = 32
    """Window overlap in tokens."""
    parts: bool = False
    """DL19 diagnostic: also score each passage alone, document = max over its passages."""
    json: Path | None = None
    """Also write the rows as JSON here."""


def load_sets(args: LongDocumentsConfig) -> list[JudgedSet]:
    """Build the requested sets from the shared data folder."""
    sets: list[JudgedSet] = []
    for name in args.sets.split(","):
        if name == "scifact":
            sets.append(_scifact(args))
        elif name == "dl19":
            sets.append(_dl19(args))
        else:
            raise ValueError(f"unknown set {name!r} (choose scifact, dl19)")
    return sets


def _scifact(args: LongDocumentsConfig) -> JudgedSet:
    source = load_beir(args.data / "beir-scifact")
    queries = _capped(args.queries, len(source.queries))
    dataset = build_top_k_set(source, queries=queries, top_k=args.top_k)
    return JudgedSet(f"SciFact top-{args.top_k}", dataset, rel=1)


def _dl19(args: LongDocumentsConfig) -> JudgedSet:
    source = load_beir(args.data / "trec-dl-2019-passage")
    queries = _capped(args.queries, len(source.queries))
    groups = build_passage_groups(
        source, queries=queries, passages=args.passages, group_size=args.group
    )
    positions = relevant_part_positions(groups)
    strong = relevant_part_positions(groups, min_grade=2)
    notes = [
        f"part holding the best grade (0 = first), grade >= 1: {dict(sorted(positions.items()))}",
        f"part holding the best grade (0 = first), grade >= 2: {dict(sorted(strong.items()))}",
    ]
    name = f"DL19 {args.group}-passage docs"
    return JudgedSet(name, groups.dataset, rel=2, notes=notes, groups=groups, source=source)


def _capped(queries: int | None, available: int) -> int | None:
    return None if queries is None else min(queries, available)


def open_tokenizer(model: str) -> PairTokenizer:
    """The model's own tokenizer, as the engine loads it (counts exclude special tokens)."""
    directory = resolve_model(model, weights=False).directory
    return PairTokenizer.from_directory(directory, max_length=read_spec(directory).max_length)


def count_over_window(tokenizer: PairTokenizer, judged: JudgedSet, window: int) -> tuple[int, int]:
    """(candidate pairs whose document does not fit next to its query, all pairs).

    A document fits when its tokens <= window - query tokens - 3 special tokens (BERT
    pair template); this ignores any query cap the engine may apply.
    """
    dataset = judged.dataset
    over = total = 0
    for query_id, doc_ids in dataset.candidates.items():
        query = tokenizer.count_tokens(dataset.queries[query_id])
        texts = [dataset.document_text(d) for d in doc_ids]
        lengths = [len(t.ids) for t in tokenizer.encode_texts(texts)]
        over += sum(n > window - query - 3 for n in lengths)
        total += len(lengths)
    return over, total


def engine_config(args: LongDocumentsConfig, window: int, aggregation: Aggregation) -> EngineConfig:
    """The engine for one window and aggregation; no score cache, so runs pay in full."""
    model = ModelConfig(name=args.model, max_length=window)
    chunking = ChunkingConfig(aggregation=aggregation, window_overlap=args.overlap)
    return EngineConfig(model=model, chunking=chunking, score_cache_size=0)


async def score_set(
    config: EngineConfig, dataset: BeirDataset, chunk_limits: Sequence[int | None]
) -> list[Scored]:
    """Rerank every query's candidates once per chunk limit, with one loaded engine."""
    async with RerankService(config) as service:
        return [await _score_all(service, dataset, limit) for limit in chunk_limits]


async def _score_all(service: RerankService, dataset: BeirDataset, limit: int | None) -> Scored:
    run: dict[str, dict[str, float]] = {}
    pairs = documents = 0
    started = time.perf_counter()
    for query_id, doc_ids in dataset.candidates.items():
        texts = dataset.candidate_texts(query_id)
        outcome = await service.rerank(
            dataset.queries[query_id], texts, max_chunks_per_doc=limit, structured=False
        )
        run[query_id] = {doc_ids[r.index]: float(r.relevance_score) for r in outcome.results}
        pairs += outcome.usage.pairs
        documents += outcome.usage.documents
    return Scored(run, pairs, documents, time.perf_counter() - started)


async def score_parts(config: EngineConfig, judged: JudgedSet) -> Scored:
    """Score every passage of every grouped document alone (one window); doc = max."""
    assert judged.groups is not None and judged.source is not None
    groups, source, dataset = judged.groups, judged.source, judged.dataset
    run: dict[str, dict[str, float]] = {}
    pairs = 0
    started = time.perf_counter()
    async with RerankService(config) as service:
        for query_id, doc_ids in dataset.candidates.items():
            parts = [p for d in doc_ids for p in groups.parts[d]]
            texts = [source.document_text(p) for p in parts]
            query = dataset.queries[query_id]
            scores = await service.score(query, texts, max_chunks_per_doc=1, structured=False)
            by_part = dict(zip(parts, scores.astype(float).tolist(), strict=True))
            run[query_id] = {d: max(by_part[p] for p in groups.parts[d]) for d in doc_ids}
            pairs += len(parts)
    return Scored(
        run, pairs, sum(map(len, dataset.candidates.values())), time.perf_counter() - started
    )


def per_query(judged: JudgedSet, run: dict[str, dict[str, float]]) -> dict[str, float]:
    """nDCG@10 of each judged query (0 for a query the run lacks)."""
    qrels = judged.dataset.qrels
    return {
        q: evaluate({q: qrels[q]}, {q: run[q]}, ("nDCG@10",))["nDCG@10"] if q in run else 0.0
        for q in qrels
    }


def compare(judged: JudgedSet, run: dict[str, dict[str, float]], base: dict[str, float]) -> str:
    """'wins/ties/losses, p' of a run's per-query nDCG@10 against truncation's."""
    ours = per_query(judged, run)
    deltas = [ours[q] - base[q] for q in base]
    wins = sum(d > 1e-9 for d in deltas)
    losses = sum(d < -1e-9 for d in deltas)
    p_value = paired_sign_flip_p(deltas)
    return f"{wins}/{len(deltas) - wins - losses}/{losses}, p={p_value:.3f}"


def parse_aggregations(text: str) -> list[Aggregation]:
    """``"max,mean"`` to its aggregations, checked."""
    known: dict[str, Aggregation] = {"max": "max", "mean": "mean", "first": "first"}
    unknown = [a for a in text.split(",") if a not in known]
    if unknown or not text:
        raise ValueError(f"unknown aggregation {unknown[:1]} (choose from {sorted(known)})")
    return [known[a] for a in text.split(",")]


def measure_window(args: LongDocumentsConfig, judged: JudgedSet, window: int) -> list[Row]:
    """Truncation and every requested aggregation for one set and window."""
    aggregations = parse_aggregations(args.aggregations)
    truncate, first = asyncio.run(
        score_set(engine_config(args, window, aggregations[0]), judged.dataset, [1, None])
    )
    runs = {"truncate (1 window)": truncate, f"windows + {aggregations[0]}": first}
    for aggregation in aggregations[1:]:
        config = engine_config(args, window, aggregation)
        (runs[f"windows + {aggregation}"],) = asyncio.run(score_set(config, judged.dataset, [None]))
    if args.parts and judged.groups is not None:
        parts = asyncio.run(score_parts(engine_config(args, window, "max"), judged))
        runs["passages + max (boundaries known)"] = parts
    base = per_query(judged, truncate.run)
    return [_row(judged, window, name, scored, base) for name, scored in runs.items()]


def _row(judged: JudgedSet, window: int, name: str, scored: Scored, base: dict[str, float]) -> Row:
    """A measured system's row, compared with truncation's per-query nDCG@10."""
    figures = evaluate(judged.dataset.qrels, scored.run, MEASURES, rel=judged.rel)
    versus = "" if name.startswith("truncate") else compare(judged, scored.run, base)
    return Row(
        judged.name, window, name, figures, scored.pairs, scored.documents, scored.seconds, versus
    )


def bm25_row(judged: JudgedSet) -> Row:
    """The first-stage order itself (for DL19: best BM25 rank of any part)."""
    run = ranking_to_run(judged.dataset.candidates)
    figures = evaluate(judged.dataset.qrels, run, MEASURES, rel=judged.rel)
    return Row(judged.name, 0, "BM25 order", figures)


def format_row(row: Row) -> str:
    """One markdown table line."""
    figures = " | ".join(f"{row.figures[m]:.4f}" for m in MEASURES)
    window = str(row.window) if row.window else "-"
    pairs = "-" if row.pairs is None else f"{row.pairs:,}"
    per_doc = "-" if not row.documents else f"{(row.pairs or 0) / row.documents:.2f}"
    seconds = "-" if row.seconds is None else f"{row.seconds:.0f}"
    cells = [row.set, window, row.system, figures, pairs, per_doc, seconds, row.versus_truncate]
    return "| " + " | ".join(cells) + " |"


def header() -> list[str]:
    """The markdown table header."""
    columns = ["set", "window", "system", *MEASURES, "pairs", "pairs/doc", "seconds"]
    columns.append("vs truncate: nDCG@10 wins/ties/losses, p")
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def describe(judged: JudgedSet, tokenizer: PairTokenizer, windows: Sequence[int]) -> list[str]:
    """Lines on a set's size and how many documents exceed each window."""
    dataset = judged.dataset
    pairs = sum(len(d) for d in dataset.candidates.values())
    lines = [f"{judged.name}: {len(dataset.candidates)} queries, {pairs} candidate documents"]
    for window in windows:
        over, total = count_over_window(tokenizer, judged, window)
        lines.append(f"  window {window}: {over} of {total} ({over / total:.0%}) exceed it")
    return lines + [f"  {note}" for note in judged.notes]


def run_long_documents(args: LongDocumentsConfig, emit: Callable[[str], None]) -> list[Row]:
    """Run every set and window; ``emit`` gets the set descriptions, then each table line
    as soon as it is measured.

    Raises:
        ValueError: an unknown set or aggregation.
    """
    windows = [int(w) for w in args.windows.split(",")]
    sets = load_sets(args)
    tokenizer = open_tokenizer(args.model)
    notes = [line for judged in sets for line in describe(judged, tokenizer, windows)]
    emit("\n".join(notes) + "\n")
    for line in header():
        emit(line)
    rows: list[Row] = []
    for judged in sets:
        rows.append(bm25_row(judged))
        emit(format_row(rows[-1]))
        for window in windows:
            for row in measure_window(args, judged, window):
                rows.append(row)
                emit(format_row(row))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return rows
