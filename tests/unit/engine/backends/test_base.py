from __future__ import annotations

import numpy as np

from openrerank.engine.backends.base import collate
from openrerank.types import EncodedPair


def pair(ids: list[int], types: list[int], index: int) -> EncodedPair:
    return EncodedPair(np.array(ids, dtype=np.int64), np.array(types, dtype=np.int64), index)


def test_collate_pads_right_with_the_pad_id_and_masks_padding() -> None:
    batch = collate([pair([5, 6, 7], [0, 0, 1], 0), pair([8], [0], 1)], pad_id=1)
    np.testing.assert_array_equal(batch.input_ids, [[5, 6, 7], [8, 1, 1]])
    np.testing.assert_array_equal(batch.attention_mask, [[1, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(batch.token_type_ids, [[0, 0, 1], [0, 0, 0]])
    assert batch.input_ids.dtype == np.int64 and batch.size == 2


def test_batch_inputs_feed_zero_segments_when_the_tokenizer_has_none() -> None:
    batch = collate([pair([5, 6], [0, 1], 0)], pad_id=0)
    fed = batch.inputs(("input_ids", "token_type_ids"), segments=False)
    assert list(fed) == ["input_ids", "token_type_ids"]
    np.testing.assert_array_equal(fed["token_type_ids"], [[0, 0]])
    np.testing.assert_array_equal(
        batch.inputs(("token_type_ids",), segments=True)["token_type_ids"], [[0, 1]]
    )
