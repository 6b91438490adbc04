from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from openrerank.config import BatchingConfig
from openrerank.scheduling.policy import plan_batches

budgets = st.builds(
    BatchingConfig, max_batch_tokens=st.integers(1, 4096), max_batch_size=st.integers(1, 64)
)


@given(st.lists(st.integers(1, 512), max_size=300), budgets)
def test_policy_schedules_every_pair_exactly_once(
    lengths: list[int], batching: BatchingConfig
) -> None:
    batches = plan_batches(lengths, batching)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))


@given(st.lists(st.integers(1, 512), max_size=300), budgets)
def test_policy_respects_padded_token_budget(lengths: list[int], batching: BatchingConfig) -> None:
    for batch in plan_batches(lengths, batching):
        assert len(batch) <= batching.max_batch_size
        padded = max(lengths[i] for i in batch) * len(batch)
        assert padded <= batching.max_batch_tokens or len(batch) == 1


def test_policy_groups_similar_lengths_longest_first() -> None:
    lengths = [10, 200, 12, 190, 11]
    batches = plan_batches(lengths, BatchingConfig(max_batch_tokens=400, max_batch_size=8))
    assert batches == [[1, 3], [2, 4, 0]]
