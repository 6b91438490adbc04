"""Workloads are real queries with their BM25 top-k, the same every time."""

from __future__ import annotations

from pathlib import Path

import pytest

from openrerank.bench.workloads import WORKLOADS, load_workload
from openrerank.eval.datasets import load_beir


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_a_workload_is_the_first_queries_with_their_top_k_in_bm25_order(
    name: str, shared_data_dir: Path
) -> None:
    data = shared_data_dir
    workload = load_workload(name, data, queries=3)
    dataset = load_beir(data / WORKLOADS[name].dataset)
    assert len(workload.requests) == 3
    assert workload.documents == 3 * WORKLOADS[name].documents
    for request in workload.requests:
        assert request.query == dataset.queries[request.query_id]
        expected = dataset.candidate_texts(request.query_id)[: WORKLOADS[name].documents]
        assert list(request.documents) == expected
    assert load_workload(name, data, queries=3) == workload


def test_asking_for_more_queries_than_the_data_has_is_an_error(shared_data_dir: Path) -> None:
    with pytest.raises(ValueError, match="only"):
        load_workload("dl19-100", shared_data_dir, queries=10_000)
