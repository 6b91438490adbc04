from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from openrerank.config import BatchingConfig
from openrerank.engine.scheduling.policy import padded_cost, select_batch

budgets = st.builds(
    BatchingConfig, max_batch_tokens=st.integers(1, 4096), max_batch_size=st.integers(1, 64)
)


@given(st.lists(st.integers(1, 512), max_size=300), budgets)
def test_policy_drains_every_pair_exactly_once(
    lengths: list[int], batching: BatchingConfig
) -> None:
    waiting = list(range(len(lengths)))
    scheduled: list[int] = []
    while waiting:
        batch = select_batch([lengths[i] for i in waiting], batching)
        scheduled.extend(waiting[i] for i in batch)
        waiting = [w for i, w in enumerate(waiting) if i not in set(batch)]
    assert sorted(scheduled) == list(range(len(lengths)))


windows = st.lists(st.integers(1, 512), min_size=1, max_size=200)


@given(windows, budgets)
def test_policy_select_batch_takes_the_most_urgent_pair_within_budget(
    lengths: list[int], batching: BatchingConfig
) -> None:
    batch = select_batch(lengths, batching)
    assert batch[0] == 0
    assert len(set(batch)) == len(batch)
    assert all(0 <= i < len(lengths) for i in batch)
    assert len(batch) <= batching.max_batch_size
    padded = max(lengths[i] for i in batch) * len(batch)
    assert padded <= batching.max_batch_tokens or len(batch) == 1


@given(windows, budgets)
def test_policy_select_batch_leaves_no_pair_that_would_still_fit(
    lengths: list[int], batching: BatchingConfig
) -> None:
    batch = select_batch(lengths, batching)
    if len(batch) == batching.max_batch_size:
        return
    width = max(lengths[i] for i in batch)
    for index in set(range(len(lengths))) - set(batch):
        grown = max(width, lengths[index]) * (len(batch) + 1)
        assert grown > batching.max_batch_tokens


def test_policy_select_batch_prefers_similar_lengths() -> None:
    lengths = [100, 10, 98, 250, 103, 12]
    batch = select_batch(lengths, BatchingConfig(max_batch_tokens=10_000, max_batch_size=3))
    assert sorted(batch) == [0, 2, 4]


def test_policy_select_batch_of_an_empty_window_is_empty() -> None:
    assert select_batch([], BatchingConfig()) == []


def test_policy_counts_attention_so_long_pairs_batch_fewer() -> None:
    batching = BatchingConfig(max_batch_tokens=8_192, max_batch_size=32)
    lengths = [1_024] * 8
    assert len(select_batch(lengths, batching)) == 8  # 8 x 1024 padded tokens fit
    # with attention counted at 1024 tokens, each pair costs twice its length
    assert padded_cost(1_024, attention_tokens=1_024) == 2_048
    assert len(select_batch(lengths, batching, attention_tokens=1_024)) == 4


def test_policy_a_pair_over_the_whole_budget_still_runs_alone() -> None:
    batching = BatchingConfig(max_batch_tokens=1_024, max_batch_size=32)
    assert select_batch([32_768, 100, 100], batching, attention_tokens=7_680) == [0]
