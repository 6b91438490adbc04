"""InferenceWorker: owns a backend on one thread and runs batches of pairs on it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from openrerank.backends.base import Backend, collate
from openrerank.config import BatchingConfig
from openrerank.errors import BackendError
from openrerank.scheduling.policy import plan_batches
from openrerank.types import EncodedPair, FloatArray

logger = logging.getLogger(__name__)


class InferenceWorker:
    """Runs every model call of one backend on a single dedicated thread.

    Args:
        backend: the loaded model; touched only from the worker thread.
        batching: batch budget.
        pad_id: token id used for padding.
    """

    def __init__(self, backend: Backend, batching: BatchingConfig, *, pad_id: int) -> None:
        self.backend = backend
        self._batching = batching
        self._pad_id = pad_id
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openrerank-model")
        self._closing = False

    async def infer(self, pairs: Sequence[EncodedPair]) -> FloatArray:
        """Logits for every pair, rows in the order of ``pairs``.

        Raises:
            BackendError: the backend failed on one of the batches.
        """
        loop = asyncio.get_running_loop()
        plan = plan_batches([pair.n_tokens for pair in pairs], self._batching)
        calls = [
            loop.run_in_executor(self._thread, self._run, [pairs[i] for i in batch])
            for batch in plan
        ]
        outputs = await asyncio.gather(*calls)
        logits = np.empty((len(pairs), outputs[0].shape[1]), dtype=np.float32)
        for batch, output in zip(plan, outputs, strict=True):
            logits[batch] = output
        return logits

    def _run(self, pairs: list[EncodedPair]) -> FloatArray:
        try:
            return self.backend.run(collate(pairs, self._pad_id))
        except Exception as exc:
            logger.exception(
                "backend %s failed on a batch of %d", self.backend.info.name, len(pairs)
            )
            raise BackendError("the model failed on a batch; the server log has the cause") from exc

    @property
    def alive(self) -> bool:
        """The model thread accepts work (false once :meth:`close` began)."""
        return not self._closing

    async def close(self) -> None:
        """Wait for running batches, then release the backend on its own thread."""
        self._closing = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._thread, self.backend.close)
        except RuntimeError:  # the interpreter is exiting and executors are shut down
            self.backend.close()
        self._thread.shutdown(wait=True)
