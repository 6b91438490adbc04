"""InferenceWorker: the one thread that owns a backend and runs batches on it."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from openrerank.engine.backends.base import Backend, Batch
from openrerank.errors import BackendError
from openrerank.types import FloatArray

logger = logging.getLogger(__name__)


class InferenceWorker:
    """Runs every model call of one backend on a single dedicated thread.

    Args:
        backend: the loaded model; touched only from the worker thread.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openrerank-model")
        self._closing = False

    async def run(self, batch: Batch) -> FloatArray:
        """The batch's logits, computed on the model thread.

        Raises:
            BackendError: the backend failed; the cause is logged, not returned.
        """
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._run, batch)

    def _run(self, batch: Batch) -> FloatArray:
        try:
            return self.backend.run(batch)
        except Exception as exc:
            logger.exception(
                "backend %s failed on a batch of %d", self.backend.info.name, batch.size
            )
            raise BackendError("the model failed on a batch; the server log has the cause") from exc

    @property
    def alive(self) -> bool:
        """The model thread accepts work (false once :meth:`close` began)."""
        return not self._closing

    async def close(self) -> None:
        """Wait for the running batch, then release the backend on its own thread."""
        self._closing = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._thread, self.backend.close)
        except RuntimeError:  # the interpreter is exiting and executors are shut down
            self.backend.close()
        self._thread.shutdown(wait=True)
