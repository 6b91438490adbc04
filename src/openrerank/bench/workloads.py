"""Benchmark workloads built from the judged data sets in ``../shared/data``.

A workload is a list of rerank requests: each is one query of a BEIR-layout data set
with its first-stage (BM25) top-k candidates, in rank order, exactly as a RAG system
would send them. Queries are taken in the file's order, skipping those with fewer than
k candidates, so the same arguments always give the same requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openrerank.eval.datasets import load_beir


@dataclass(frozen=True)
class WorkloadSpec:
    """A named workload: which data set, and how many candidates per request."""

    name: str
    dataset: str
    documents: int
    description: str


WORKLOADS: dict[str, WorkloadSpec] = {
    spec.name: spec
    for spec in (
        WorkloadSpec(
            "scifact-100",
            "beir-scifact",
            100,
            "a SciFact claim with its BM25 top-100 abstracts (long pairs, ~360 tokens)",
        ),
        WorkloadSpec(
            "dl19-100",
            "trec-dl-2019-passage",
            100,
            "a TREC DL 2019 question with its BM25 top-100 passages (short pairs, ~90 tokens)",
        ),
    )
}


@dataclass(frozen=True)
class Request:
    """One rerank request: a query and its candidates in first-stage order."""

    query_id: str
    query: str
    documents: tuple[str, ...]


@dataclass(frozen=True)
class Workload:
    """The requests of one workload."""

    spec: WorkloadSpec
    requests: tuple[Request, ...]

    @property
    def name(self) -> str:
        """The workload's name, e.g. ``scifact-100``."""
        return self.spec.name

    @property
    def documents(self) -> int:
        """Documents over all requests."""
        return sum(len(request.documents) for request in self.requests)


def load_workload(name: str, data_dir: Path, *, queries: int) -> Workload:
    """The first ``queries`` requests of workload ``name`` from ``data_dir``.

    Raises:
        KeyError: ``name`` is not a known workload.
        ValueError: the data set has fewer than ``queries`` queries with enough candidates.
    """
    spec = WORKLOADS[name]
    dataset = load_beir(data_dir / spec.dataset)
    requests: list[Request] = []
    for query_id, text in dataset.queries.items():
        candidates = dataset.candidate_texts(query_id)
        if len(candidates) >= spec.documents:
            requests.append(Request(query_id, text, tuple(candidates[: spec.documents])))
        if len(requests) == queries:
            return Workload(spec, tuple(requests))
    raise ValueError(
        f"{spec.dataset} has only {len(requests)} queries with {spec.documents} candidates"
    )


def load_query(dataset_dir: Path, query_id: str | None) -> tuple[str, str, list[str]]:
    """One query of a BEIR folder: (query id, query text, candidate texts in BM25 order).

    Without ``query_id``, the first query (file order) with at least 100 candidates, or
    else the first with any.

    Raises:
        ValueError: the query is unknown or has no candidates.
    """
    dataset = load_beir(dataset_dir)
    if query_id is None:
        ranked = (q for q in dataset.queries if len(dataset.candidates.get(q, ())) >= 100)
        query_id = next(ranked, None) or next(iter(dataset.candidates))
    if query_id not in dataset.queries or not dataset.candidates.get(query_id):
        raise ValueError(f"query {query_id!r} is unknown or has no candidates in {dataset_dir}")
    return query_id, dataset.queries[query_id], dataset.candidate_texts(query_id)
