"""The SciFact query and candidates the client tests send, and the library oracle.

Every wire test compares a server's answer with the in-process library on the same
input: both run the same ONNX export, so scores agree to float noise.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from openrerank import RankResult, Reranker

QUERY_ID = "3"  # "1,000 genomes project enables mapping of genetic sequence variation ..."
CANDIDATES = 20
SCORE_TOLERANCE = 1e-6
# The disconnect test of test_server_clients sends this much of the corpus at once.
ABANDONED_DOCUMENTS = 2_000

Ranking = list[tuple[int, float]]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


class SciFact:
    """A SciFact query, its BM25 candidates, and the start of the corpus."""

    def __init__(self, folder: Path) -> None:
        queries = {row["_id"]: row["text"] for row in _read_jsonl(folder / "queries.jsonl")}
        self.query: str = queries[QUERY_ID]
        ranked: list[tuple[int, str]] = []
        with (folder / "run" / "bm25_top100.tsv").open(encoding="utf-8") as run:
            next(run)
            for line in run:
                query_id, doc_id, rank = line.rstrip("\n").split("\t")
                if query_id == QUERY_ID:
                    ranked.append((int(rank), doc_id))
        wanted = [doc_id for _, doc_id in sorted(ranked)[:CANDIDATES]]
        corpus = _read_jsonl(folder / "corpus.jsonl")
        self.corpus = corpus[:ABANDONED_DOCUMENTS]
        by_id = {row["_id"]: row for row in corpus}
        self.candidates: list[dict[str, Any]] = [by_id[doc_id] for doc_id in wanted]
        self.texts: list[str] = [row["text"] for row in self.candidates]
        assert len(set(self.texts)) == CANDIDATES, "candidate texts must be distinct"


class Library:
    """``Reranker.rank`` and ``Reranker.score``, each input scored once per module."""

    def __init__(self, reranker: Reranker) -> None:
        self.reranker = reranker
        self._ranked: dict[tuple[str, tuple[str, ...], bool], list[RankResult]] = {}

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        *,
        truncated: bool = False,
    ) -> Ranking:
        """Windows (Cohere routes), or one window per document (the TEI route)."""
        key = (query, tuple(documents), truncated)
        if key not in self._ranked:
            chunks = 1 if truncated else None
            ranked = self.reranker.rank(query, list(documents), max_chunks_per_doc=chunks)
            self._ranked[key] = ranked
        return [(r.index, r.relevance_score) for r in self._ranked[key][:top_n]]

    def raw_scores(self, query: str, documents: Sequence[str]) -> list[float]:
        """Truncated raw logits, as the TEI route scores."""
        scores = self.reranker.score(query, list(documents), raw=True, max_chunks_per_doc=1)
        return [float(s) for s in scores]


def assert_same_ranking(got: Ranking, expected: Ranking) -> None:
    assert [index for index, _ in got] == [index for index, _ in expected]
    assert [score for _, score in got] == pytest.approx(
        [score for _, score in expected], abs=SCORE_TOLERANCE
    )
