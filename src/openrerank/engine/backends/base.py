"""The Backend protocol and the padded Batch every backend consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from openrerank.types import EncodedPair, FloatArray, IntArray

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True, eq=False)
class Batch:
    """Right-padded int64 arrays of shape ``[pairs, longest pair]``."""

    input_ids: IntArray
    attention_mask: IntArray
    token_type_ids: IntArray

    @property
    def size(self) -> int:
        """Number of pairs in the batch."""
        return int(self.input_ids.shape[0])

    def inputs(self, names: Sequence[str], *, segments: bool) -> dict[str, IntArray]:
        """The arrays a model declares as inputs, by name.

        Args:
            names: the model's input names (a subset of :data:`MODEL_INPUTS`).
            segments: feed the tokenizer's segment ids; when false, a model that
                still takes ``token_type_ids`` gets zeros (what transformers does when
                the tokenizer does not produce them).
        """
        arrays = {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "token_type_ids": (
                self.token_type_ids if segments else np.zeros_like(self.token_type_ids)
            ),
        }
        return {name: arrays[name] for name in names}


def collate(pairs: Sequence[EncodedPair], pad_id: int) -> Batch:
    """Pad pairs on the right into one :class:`Batch`."""
    width = max(pair.n_tokens for pair in pairs)
    ids = np.full((len(pairs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(pairs), width), dtype=np.int64)
    types = np.zeros((len(pairs), width), dtype=np.int64)
    for row, pair in enumerate(pairs):
        n = pair.n_tokens
        ids[row, :n] = pair.input_ids
        mask[row, :n] = 1
        types[row, :n] = pair.type_ids
    return Batch(ids, mask, types)


@dataclass(frozen=True)
class BackendInfo:
    """What a loaded backend runs: for logs, ``/v1/models`` and benchmarks."""

    name: str
    precision: str
    device: str
    inputs: tuple[str, ...]
    model_file: str | None = None


class Backend(Protocol):
    """A loaded model that scores batches; called from one worker thread only."""

    @property
    def info(self) -> BackendInfo:
        """What this backend runs."""
        ...

    def run(self, batch: Batch) -> FloatArray:
        """Return float32 logits of shape ``[batch.size, num_labels]``."""
        ...

    def close(self) -> None:
        """Release the model's memory; the backend is unusable afterwards."""
        ...
