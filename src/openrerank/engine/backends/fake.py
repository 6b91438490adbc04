"""FakeBackend: deterministic scores without a model, for tests above the backend.

A pair's logit grows with the share of document tokens that also occur in the
query (segments come from ``token_type_ids``), so rankings are meaningful and
reproducible. Latency, failures and the batches seen can be injected and inspected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from openrerank.config import ModelConfig
from openrerank.engine.backends.base import MODEL_INPUTS, BackendInfo, Batch
from openrerank.engine.model.resolve import ModelFiles
from openrerank.engine.model.spec import ModelSpec
from openrerank.types import FloatArray


class FakeBackend:
    """A stand-in model.

    Args:
        num_labels: 1 (one logit) or 2 (the second column is the relevant class).
        delay_s: seconds each :meth:`run` sleeps, to simulate a slow model.
        fail_when: a predicate; when it returns true for a batch, :meth:`run` raises.
        logit_fn: replaces the default overlap logit, e.g. to produce NaN.
    """

    def __init__(
        self,
        *,
        num_labels: int = 1,
        delay_s: float = 0.0,
        fail_when: Callable[[Batch], bool] | None = None,
        logit_fn: Callable[[Batch], FloatArray] | None = None,
    ) -> None:
        self.num_labels = num_labels
        self.delay_s = delay_s
        self.fail_when = fail_when
        self.logit_fn = logit_fn or overlap_logits
        self.batches: list[Batch] = []
        self.closed = False
        self._lock = threading.Lock()

    @property
    def info(self) -> BackendInfo:
        """Describes the fake as a backend."""
        return BackendInfo(name="fake", precision="fp32", device="cpu", inputs=MODEL_INPUTS)

    def run(self, batch: Batch) -> FloatArray:
        """Score a batch after the configured delay, or raise when told to."""
        with self._lock:
            self.batches.append(batch)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_when is not None and self.fail_when(batch):
            raise RuntimeError("FakeBackend failure injected by the test")
        logit = self.logit_fn(batch)
        if self.num_labels == 1:
            return logit.reshape(-1, 1).astype(np.float32)
        return np.stack([-logit, logit], axis=1).astype(np.float32)

    def close(self) -> None:
        """Mark the fake closed."""
        self.closed = True


def overlap_logits(batch: Batch) -> FloatArray:
    """Logit in [-4, 4]: 8 x (share of document tokens found in the query) - 4."""
    rows = []
    for ids, mask, types in zip(
        batch.input_ids, batch.attention_mask, batch.token_type_ids, strict=True
    ):
        query = set(ids[(mask == 1) & (types == 0)].tolist())
        document = ids[(mask == 1) & (types == 1)]
        share = float(np.isin(document, list(query)).mean()) if document.size else 0.0
        rows.append(8.0 * share - 4.0)
    return np.asarray(rows, dtype=np.float32)


def load(files: ModelFiles, spec: ModelSpec, config: ModelConfig) -> FakeBackend:
    """Registry entry: a :class:`FakeBackend` with the model's number of labels."""
    del files, config
    return FakeBackend(num_labels=spec.num_labels)
