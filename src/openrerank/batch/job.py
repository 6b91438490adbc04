"""A batch job on this machine: stream rows through one engine into a resumable output.

The same :class:`ResultWriter` takes the outcomes of a local job and of a Ray Data job,
so both skip the ids already written, never write one twice, and treat a refused row
alike: the job stops with a message naming the row, or, with an errors file, the row is
recorded there and the job goes on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from openrerank.batch.rows import BatchRow, RowError, RowFailure, RowId
from openrerank.batch.scorer import BatchScorer, RowOutcome
from openrerank.batch.sinks import ResultSink, open_sink
from openrerank.batch.sources import RowSource


class ProgressSink(Protocol):
    """What a job reports as it goes (the CLI draws a progress bar from it)."""

    def start(self, total: int, already_done: int) -> None:
        """``total`` rows in the input, ``already_done`` of them written by an earlier run."""

    def advance(self, rows: int, pairs: int) -> None:
        """``rows`` more rows finished, costing ``pairs`` query-document pairs."""


class NoProgress:
    """Reports nothing."""

    def start(self, total: int, already_done: int) -> None:
        return None

    def advance(self, rows: int, pairs: int) -> None:
        return None


@dataclass
class JobSummary:
    """What one run did.

    Attributes:
        written: rows written by this run.
        already_done: rows an earlier run had written (skipped by this one).
        failed: rows refused (recorded in the errors file).
        duplicates: outcomes dropped because their id was already written.
        pairs: query-document pairs scored.
        seconds: wall time of the scoring.
    """

    written: int = 0
    already_done: int = 0
    failed: int = 0
    duplicates: int = 0
    pairs: int = 0
    seconds: float = 0.0

    @property
    def pairs_per_s(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else 0.0


class ResultWriter:
    """Writes outcomes to the sink; refused rows stop the job or go to ``errors``.

    Args:
        sink: the output.
        errors: a JSONL file for refused rows (``{"id", "error"}``), truncated when
            opened; ``None`` = the first refused row raises :class:`RowError`.
        progress: told about every row written or refused.
    """

    def __init__(self, sink: ResultSink, errors: Path | None, progress: ProgressSink) -> None:
        self.sink = sink
        self.summary = JobSummary()
        self._progress = progress
        self._failed: set[RowId | None] = set()
        self._errors: IO[str] | None = errors.open("w", encoding="utf-8") if errors else None

    def take(self, outcome: RowOutcome) -> None:
        """Record one outcome.

        Raises:
            RowError: a refused row, without an errors file.
        """
        if isinstance(outcome, RowFailure):
            self._fail(outcome)
            return
        if self.sink.write(outcome):
            self.summary.written += 1
            self.summary.pairs += outcome.pairs
            self._progress.advance(1, outcome.pairs)
        else:
            self.summary.duplicates += 1

    def _fail(self, failure: RowFailure) -> None:
        if self._errors is None:
            raise RowError(failure.message)
        if failure.id is not None and failure.id in self._failed:
            return  # a block run again after its actor died refuses its rows again
        self._failed.add(failure.id)
        self._errors.write(json.dumps(failure.to_record(), ensure_ascii=False) + "\n")
        self._errors.flush()
        self.summary.failed += 1
        self._progress.advance(1, 0)

    def close(self) -> None:
        if self._errors is not None:
            self._errors.close()
            self._errors = None


def checked_count(source: RowSource) -> int:
    """The rows of ``source``, each read and checked as a local job would (for a Ray job,
    whose actors see one block each: a malformed row or a repeated id stops it here).

    Raises:
        RowError: a malformed row, or an id that repeats.
    """
    if source.kind == "beir":  # rows made from a loaded, checked collection: one per query
        return source.count()
    return sum(1 for _ in pending_rows(source.rows(), set()))


def pending_rows(rows: Iterable[BatchRow], done: set[RowId]) -> Iterator[BatchRow]:
    """The rows not yet written, checking that no id repeats in the input.

    Raises:
        RowError: an id appears twice in the input.
    """
    seen: set[RowId] = set()
    for row in rows:
        if row.id in seen:
            raise RowError(f"{row.where}: id {row.id!r} repeats an earlier row's")
        seen.add(row.id)
        if row.id not in done:
            yield row


def run_job(
    source: RowSource,
    output: Path,
    scorer: Callable[[], BatchScorer],
    *,
    errors: Path | None = None,
    progress: ProgressSink | None = None,
) -> JobSummary:
    """Rank every row of ``source`` not yet in ``output``, on this machine.

    Args:
        source: the rows.
        output: the result file (its extension picks the format); an existing one is
            resumed.
        scorer: makes the engine (called once, after the output is opened).
        errors: where refused rows go; ``None`` = stop at the first.
        progress: told the total and each row done.

    Raises:
        RowError: a malformed or refused row (naming it), or an output this command did
            not write. What was written stays; a rerun resumes after it.
        RerankError: the model cannot be loaded or the engine failed.
    """
    progress = progress or NoProgress()
    with writing(output, errors, progress) as writer, scorer() as engine:
        done = writer.sink.done
        progress.start(source.count(), len(done))
        started = time.monotonic()
        for outcome in engine.score(pending_rows(source.rows(), done)):
            writer.take(outcome)
        writer.summary.seconds = time.monotonic() - started
    return writer.summary


@contextmanager
def writing(output: Path, errors: Path | None, progress: ProgressSink) -> Iterator[ResultWriter]:
    """The writer of a job's output (an existing one resumed). When the block ends, the
    output is finished; when it raises, what was written is kept for a rerun.

    Raises:
        RowError: the existing output is not one this command wrote.
    """
    sink = open_sink(output)
    writer = ResultWriter(sink, errors, progress)
    writer.summary.already_done = len(sink.done)
    try:
        yield writer
    except BaseException:
        sink.close()
        raise
    finally:
        writer.close()
    sink.finish()
