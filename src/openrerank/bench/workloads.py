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
