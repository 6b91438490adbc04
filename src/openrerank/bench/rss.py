"""The resident memory of a server under test, sampled in a background thread."""

from __future__ import annotations

import threading
import time

import psutil  # type: ignore[import-untyped, unused-ignore]

MB = 1024 * 1024


class RssSampler:
    """Samples the RSS of a process and its descendants every ``interval_s`` (a thread)."""

    def __init__(self, pid: int, interval_s: float) -> None:
        self._process = psutil.Process(pid)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.samples: list[tuple[float, float]] = []
        """(time.perf_counter(), MiB) pairs."""

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                processes = [self._process, *self._process.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in processes)
            except psutil.Error:
                return  # the server is gone; the liveness checks report it
            self.samples.append((time.perf_counter(), rss / MB))
            self._stop.wait(self._interval_s)

    def between(self, start: float, end: float) -> list[float]:
        """The MiB sampled in ``[start, end]``."""
        return [mb for t, mb in self.samples if start <= t <= end]
