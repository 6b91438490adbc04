"""BatchScorer: rows in, rankings out, through one engine, with bounded work in flight.

Local batch jobs and each Ray Data actor use the same scorer, so both rank alike. Rows
are submitted to the engine's event loop while fewer than ``max_in_flight_documents``
documents are in flight, so its scheduler fills whole batches across rows; results come
back in input order.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future

from openrerank.batch.rows import BatchRow, RowFailure, RowResult, ScoredDocument
from openrerank.config import EngineConfig
from openrerank.errors import InvalidInputError, OverloadedError, ScoreError
from openrerank.sync import EngineHandle
from openrerank.types import DocumentOptions

MAX_IN_FLIGHT_DOCUMENTS = 2048
OVERLOAD_RETRY_S = 0.05
RowOutcome = RowResult | RowFailure


def batch_engine_config(config: EngineConfig) -> EngineConfig:
    """The engine settings a batch job runs with: queueing never refuses its own work."""
    return dataclasses.replace(config, max_queue_wait_s=None)


class BatchScorer(EngineHandle):
    """One engine, loaded once, ranking rows.

    Args:
        config: the engine; :func:`batch_engine_config` is applied to it.
        options: the document options every row is ranked with (``max_tokens_per_doc``...).
        max_in_flight_documents: documents submitted and not yet ranked, at most (a single
            larger row is still submitted alone).

    Raises:
        RerankError: the model cannot be loaded.
    """

    def __init__(
        self,
        config: EngineConfig,
        options: DocumentOptions | None = None,
        *,
        max_in_flight_documents: int = MAX_IN_FLIGHT_DOCUMENTS,
    ) -> None:
        self._options: DocumentOptions = options or {}
        self._budget = max_in_flight_documents
        self._open(batch_engine_config(config))

    def score(self, rows: Iterable[BatchRow]) -> Iterator[RowOutcome]:
        """Each row's ranking (or why it was refused), in input order.

        When reading ``rows`` raises, the rows already submitted are still yielded first.

        Raises:
            RerankError: the engine failed for a reason that is not the row's.
        """
        pending: deque[tuple[BatchRow, Future[RowResult]]] = deque()
        in_flight = 0
        source = iter(rows)
        while True:
            try:
                row = next(source)
            except StopIteration:
                break
            except Exception:
                yield from _drain(pending)
                raise
            while pending and in_flight + len(row.documents) > self._budget:
                done, future = pending.popleft()
                in_flight -= len(done.documents)
                yield _outcome(done, future)
            future = self._submit(self._rank(row))
            pending.append((row, future))
            in_flight += len(row.documents)
        yield from _drain(pending)

    async def _rank(self, row: BatchRow) -> RowResult:
        while True:
            try:
                outcome = await self._service.rerank(
                    row.query, row.documents, top_n=row.top_n, **self._options
                )
                break
            except OverloadedError:  # another job shares the engine: wait for room
                await asyncio.sleep(OVERLOAD_RETRY_S)
        ids = row.document_ids
        results = tuple(
            ScoredDocument(
                item.index, item.relevance_score, ids[item.index] if ids is not None else None
            )
            for item in outcome.results
        )
        return RowResult(row.id, results, pairs=len(row.documents))


def _drain(pending: deque[tuple[BatchRow, Future[RowResult]]]) -> Iterator[RowOutcome]:
    while pending:
        row, future = pending.popleft()
        yield _outcome(row, future)


def _outcome(row: BatchRow, future: Future[RowResult]) -> RowOutcome:
    try:
        return future.result()
    except (InvalidInputError, ScoreError) as exc:
        return RowFailure(row.id, f"{row.where} (id {row.id!r}): {exc}")
