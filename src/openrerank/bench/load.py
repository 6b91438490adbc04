"""Bounded HTTP load generation against a rerank endpoint: closed and open loops.

Two shapes of load, both over an ``httpx.AsyncClient`` (a real server, or an
``httpx.MockTransport`` in tests):

* `closed_loop`: N clients, each sending its next request as soon as the previous one
  is answered, for a fixed time or a fixed number of requests each. The offered load
  adapts to the server's speed, so it measures capacity and latency at a given
  concurrency (`openrerank.bench.measure.time_concurrent` reads it as `Timings`).
* `open_loop`: requests fired on a fixed schedule (``rate_per_s``), each on its own task,
  never waiting for earlier ones, as independent users would. Offered beyond capacity it
  measures how the server sheds load (429 + ``Retry-After``).

Both are bounded: no request starts after the deadline (or, for a closed loop given
``requests_per_client``, after a client sent that many); requests still in flight are
awaited for at most ``drain_s`` and then cancelled; the open loop never has more than
``max_outstanding`` requests in flight (a request due while that many are outstanding is
skipped and counted). A request that ends in a transport error or a timeout is recorded
as a failure of its kind (`ERROR_KINDS`) and never stops the generator.

Example:
    >>> import asyncio, httpx
    >>> async def run() -> LoadResult:
    ...     async with httpx.AsyncClient(base_url="http://127.0.0.1:8000") as client:
    ...         body = {"model": "rerank-v3.5", "query": "q", "documents": ["a", "b"]}
    ...         return await closed_loop(client, [body], clients=4, duration_s=10)
    >>> asyncio.run(run()).summary()["ok_per_s"]  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import Counter
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass

import httpx

from openrerank.eval.client import RERANK_V2, retry_after_s

RERANK_PATH = RERANK_V2
DEFAULT_DRAIN_S = 10.0
ERROR_KINDS = ("timeout", "connect", "transport", "http", "cancelled")
"""Why a request got no HTTP answer: a timeout (any phase), a refused or failed connection,
another transport error (reset, protocol), another httpx error, or cancelled by the
generator after the drain time."""

Payload = Mapping[str, object]
"""One JSON request body (for ``/v2/rerank``: model, query, documents, ...)."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What happened to one request.

    Attributes:
        started_s: when it was sent, in seconds since the loop started.
        latency_s: seconds until the answer (or the error).
        documents: documents in its body (scored when the answer is 200).
        status: the HTTP status; ``None`` when there was no answer (see ``error``).
        error: one of `ERROR_KINDS` when there was no answer, else ``None``.
        retry_after: the answer's ``Retry-After`` header, if any.
    """

    started_s: float
    latency_s: float
    documents: int
    status: int | None = None
    error: str | None = None
    retry_after: str | None = None


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Every request of one loop, and the aggregates reports need.

    Attributes:
        records: one per request sent, in completion order.
        duration_s: seconds from the loop's start until its last request ended
            (the deadline plus any drain).
        skipped: requests an open loop had due but did not send, because
            ``max_outstanding`` were in flight or the generator could not keep up with its
            schedule before the deadline (always 0 for a closed loop).
    """

    records: tuple[RequestRecord, ...]
    duration_s: float
    skipped: int = 0

    @property
    def requests(self) -> int:
        """Requests sent."""
        return len(self.records)

    @property
    def ok(self) -> int:
        """Requests answered 200."""
        return sum(1 for r in self.records if r.status == httpx.codes.OK)

    @property
    def failures(self) -> int:
        """Requests not answered 200 (any other status, or no answer)."""
        return self.requests - self.ok

    @property
    def server_errors(self) -> int:
        """Requests answered 5xx."""
        return sum(1 for r in self.records if r.status is not None and r.status >= 500)

    @property
    def status_counts(self) -> dict[int, int]:
        """Answers per HTTP status, by ascending status."""
        counts = Counter(r.status for r in self.records if r.status is not None)
        return dict(sorted(counts.items()))

    @property
    def error_counts(self) -> dict[str, int]:
        """Requests without an answer, per error kind (see `ERROR_KINDS`)."""
        counts = Counter(r.error for r in self.records if r.error is not None)
        return dict(sorted(counts.items()))

    @property
    def documents_scored(self) -> int:
        """Documents in the requests answered 200."""
        return sum(r.documents for r in self.records if r.status == httpx.codes.OK)

    @property
    def retry_after_values(self) -> dict[str, int]:
        """How often each ``Retry-After`` value was seen on a 429, by ascending seconds."""
        counts = Counter(
            r.retry_after
            for r in self.records
            if r.status == httpx.codes.TOO_MANY_REQUESTS and r.retry_after is not None
        )
        return dict(
            sorted(counts.items(), key=lambda item: (retry_after_s(item[0], math.inf), item[0]))
        )

    @property
    def missing_retry_after(self) -> int:
        """429 answers without a ``Retry-After`` header."""
        return sum(
            1
            for r in self.records
            if r.status == httpx.codes.TOO_MANY_REQUESTS and r.retry_after is None
        )

    def latencies_s(self, status: int) -> list[float]:
        """The latencies of the answers with ``status``, ascending."""
        return sorted(r.latency_s for r in self.records if r.status == status)

    def between(self, start_s: float, end_s: float) -> LoadResult:
        """The requests sent in ``[start_s, end_s)``, as a result lasting ``end_s - start_s``."""
        chosen = tuple(r for r in self.records if start_s <= r.started_s < end_s)
        return LoadResult(chosen, max(end_s - start_s, 0.0))

    def summary(self) -> dict[str, object]:
        """The aggregates as a JSON-ready dict (latencies in milliseconds)."""
        per_s = 1.0 / self.duration_s if self.duration_s > 0 else 0.0
        return {
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "ok": self.ok,
            "failures": self.failures,
            "server_errors": self.server_errors,
            "status_counts": {str(code): n for code, n in self.status_counts.items()},
            "errors": self.error_counts,
            "skipped": self.skipped,
            "requests_per_s": round(self.requests * per_s, 3),
            "ok_per_s": round(self.ok * per_s, 3),
            "documents_per_s": round(self.documents_scored * per_s, 3),
            "latency_ok_ms": latency_summary_ms(self.latencies_s(httpx.codes.OK)),
            "latency_429_ms": latency_summary_ms(self.latencies_s(httpx.codes.TOO_MANY_REQUESTS)),
            "retry_after": self.retry_after_values,
            "missing_retry_after": self.missing_retry_after,
        }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation (numpy's default method).

    Raises:
        ValueError: ``values`` is empty or ``q`` is outside [0, 100].
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be in [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary_ms(latencies_s: Sequence[float]) -> dict[str, float | None]:
    """p50, p95, p99 and max of ``latencies_s`` in milliseconds; ``None`` each when empty."""
    keys = {"p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    if not latencies_s:
        return dict.fromkeys(keys)
    return {key: round(percentile(latencies_s, q) * 1000.0, 2) for key, q in keys.items()}


async def closed_loop(  # noqa: PLR0913 - each bound is one documented choice
    client: httpx.AsyncClient,
    payloads: Sequence[Payload],
    *,
    clients: int,
    duration_s: float = math.inf,
    requests_per_client: int | None = None,
    drain_s: float = DEFAULT_DRAIN_S,
    honor_retry_after: bool = False,
    path: str = RERANK_PATH,
) -> LoadResult:
    """``clients`` concurrent clients, each sending its next request once answered.

    Args:
        client: the HTTP client (its base URL, timeouts and connection limits apply).
        payloads: request bodies, sent in turn (cycling) across all clients, so the
            clients' first requests are the first ``clients`` payloads.
        clients: concurrent clients.
        duration_s: no request is sent after this many seconds.
        requests_per_client: each client stops after sending this many (``None``: no
            bound but the deadline; one of the two must be finite).
        drain_s: how long requests in flight at the deadline may still take before they
            are cancelled (and recorded as ``cancelled``).
        honor_retry_after: after a 429, a client waits the ``Retry-After`` seconds (at
            most until the deadline) before its next request, as a polite client does;
            ``False`` (default) sends the next one at once.
        path: where the payloads are POSTed (``/v2/rerank`` by default).

    Raises:
        ValueError: no payloads, ``clients`` or ``requests_per_client`` < 1, a negative
            time, or neither a deadline nor a request count.
    """
    if clients < 1:
        raise ValueError(f"clients must be >= 1, got {clients}")
    if requests_per_client is None and math.isinf(duration_s):
        raise ValueError("a closed loop needs a finite duration_s or requests_per_client")
    if requests_per_client is not None and requests_per_client < 1:
        raise ValueError(f"requests_per_client must be >= 1, got {requests_per_client}")
    bound = math.inf if requests_per_client is None else requests_per_client
    recorder = _Recorder(client, payloads, duration_s=duration_s, drain_s=drain_s, path=path)

    async def run_client() -> None:
        sent = 0
        while sent < bound and time.perf_counter() < recorder.deadline:
            record = await recorder.send()
            sent += 1
            if honor_retry_after and record.status == httpx.codes.TOO_MANY_REQUESTS:
                left_s = recorder.deadline - time.perf_counter()
                await asyncio.sleep(max(min(retry_after_s(record.retry_after), left_s), 0.0))

    try:
        for _ in range(clients):
            recorder.spawn(run_client())
        await recorder.finish()
    finally:
        recorder.cancel_all()  # when the caller cancels us, our tasks stop with us
    return recorder.result(skipped=0)


async def open_loop(
    client: httpx.AsyncClient,
    payloads: Sequence[Payload],
    *,
    rate_per_s: float,
    duration_s: float,
    max_outstanding: int,
    drain_s: float = DEFAULT_DRAIN_S,
) -> LoadResult:
    """Requests fired every ``1 / rate_per_s`` seconds, whether or not earlier ones ended.

    A request due while ``max_outstanding`` are in flight is not sent; it is counted in
    `LoadResult.skipped`. When the generator falls behind its schedule, it sends the
    overdue requests at once, but never after the deadline: requests still unsent then
    are counted as skipped too (so ``requests + skipped`` is what the schedule offered).

    Args:
        client: the HTTP client. Its connection pool should allow ``max_outstanding``
            connections, or requests queue inside the client (and their latency with them).
        payloads: request bodies, sent in turn (cycling).
        rate_per_s: requests per second to offer.
        duration_s: no request is sent after this many seconds.
        max_outstanding: most requests in flight at once.
        drain_s: how long requests in flight at the deadline may still take before they
            are cancelled (and recorded as ``cancelled``).

    Raises:
        ValueError: no payloads, a rate <= 0, ``max_outstanding`` < 1, or a negative time.
    """
    if rate_per_s <= 0 or not math.isfinite(rate_per_s):
        raise ValueError(f"rate_per_s must be a positive number, got {rate_per_s}")
    if max_outstanding < 1:
        raise ValueError(f"max_outstanding must be >= 1, got {max_outstanding}")
    if not math.isfinite(duration_s):
        raise ValueError(f"duration_s must be finite, got {duration_s}")
    recorder = _Recorder(client, payloads, duration_s=duration_s, drain_s=drain_s)
    skipped = 0
    due_count = math.ceil(duration_s * rate_per_s)
    try:
        for number in range(due_count):
            due = recorder.started + number / rate_per_s
            # Always yield, so that a generator behind its schedule still lets requests run.
            await asyncio.sleep(max(due - time.perf_counter(), 0.0))
            if time.perf_counter() >= recorder.deadline:
                skipped += due_count - number
                break
            if recorder.in_flight >= max_outstanding:
                skipped += 1
                continue
            recorder.spawn(recorder.send())
        await recorder.finish()
    finally:
        recorder.cancel_all()  # when the caller cancels us, our tasks stop with us
    return recorder.result(skipped=skipped)


class _Recorder:
    """The shared state of one loop: payload cycle, clock, tasks in flight and records."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        payloads: Sequence[Payload],
        *,
        duration_s: float,
        drain_s: float,
        path: str = RERANK_PATH,
    ) -> None:
        if not payloads:
            raise ValueError("no payloads to send")
        if duration_s < 0 or drain_s < 0:
            raise ValueError(f"times must be >= 0, got duration {duration_s}, drain {drain_s}")
        self._client = client
        self._path = path
        self._payloads = list(payloads)
        self._documents = [_documents(payload) for payload in self._payloads]
        self._next = itertools.count()
        self._drain_s = drain_s
        self._records: list[RequestRecord] = []
        self._tasks: set[asyncio.Task[object]] = set()
        self._crash: BaseException | None = None
        self.started = time.perf_counter()
        self.deadline = self.started + duration_s
        self.ended = self.started

    @property
    def in_flight(self) -> int:
        """Tasks spawned and not yet done."""
        return len(self._tasks)

    def spawn(self, work: Coroutine[object, object, object]) -> None:
        """Run ``work`` as a task that `finish` waits for (or cancels)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._crash is None:
            self._crash = task.exception()

    async def send(self) -> RequestRecord:
        """POST the next payload and record what happened (never raises for HTTP errors)."""
        index = next(self._next) % len(self._payloads)
        sent = time.perf_counter()
        try:
            response = await self._client.post(self._path, json=self._payloads[index])
        except asyncio.CancelledError:
            self._add(index, sent, error="cancelled")
            raise
        except httpx.HTTPError as exc:
            return self._add(index, sent, error=_error_kind(exc))
        return self._add(
            index,
            sent,
            status=response.status_code,
            retry_after=response.headers.get("Retry-After"),
        )

    def _add(
        self,
        index: int,
        sent: float,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: str | None = None,
    ) -> RequestRecord:
        record = RequestRecord(
            started_s=sent - self.started,
            latency_s=time.perf_counter() - sent,
            documents=self._documents[index],
            status=status,
            error=error,
            retry_after=retry_after,
        )
        self._records.append(record)
        return record

    async def finish(self) -> None:
        """Wait for the tasks until the deadline plus the drain time; cancel the rest.

        Raises:
            BaseException: the first unexpected exception a task raised (a bug: failed
                requests are recorded, never raised).
        """
        if self._tasks:
            wait_s = max(self.deadline - time.perf_counter(), 0.0) + self._drain_s
            timeout = None if math.isinf(wait_s) else wait_s  # bounded by request counts
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self.ended = time.perf_counter()
        if self._crash is not None:
            raise self._crash

    def cancel_all(self) -> None:
        """Cancel every task still running (none after `finish` returned)."""
        for task in list(self._tasks):
            task.cancel()

    def result(self, *, skipped: int) -> LoadResult:
        """The records as a `LoadResult` (call after `finish`)."""
        return LoadResult(tuple(self._records), self.ended - self.started, skipped)


def _documents(payload: Payload) -> int:
    documents = payload.get("documents")
    return len(documents) if isinstance(documents, list | tuple) else 0


def _error_kind(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    if isinstance(exc, httpx.TransportError):
        return "transport"
    return "http"
