"""Where batch results go, written once per id and resumable after a crash.

The output's extension picks its format: ``.jsonl`` (one row per line), ``.parquet``
(a table with ``id`` and ``results`` columns) or ``.trec``/``.run``/``.txt`` (a TREC
run, for BEIR input). A JSONL output is appended to row by row, each line flushed: a
rerun reads the ids already there, cuts a partly written last line, and skips them.
Parquet and TREC files cannot be appended to safely, so their rows go to a JSONL journal
beside them (``OUT.partial.jsonl``) that :meth:`ResultSink.finish` turns into the final
file (with the rows of a previous final file kept) in one atomic rename. No sink ever
writes an id twice.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from openrerank.batch.rows import RowError, RowId, RowResult, check_id

PARQUET_SUFFIXES = (".parquet", ".pq")
PARQUET_BATCH_ROWS = 1024
TREC_SUFFIXES = (".trec", ".run", ".txt")
JOURNAL_SUFFIX = ".partial.jsonl"
TREC_TAG = "openrerank"


class ResultSink(ABC):
    """An output being written; ``done`` holds every id already in it."""

    done: set[RowId]

    @abstractmethod
    def write(self, result: RowResult) -> bool:
        """Write one row; False (and nothing written) when its id is already there."""

    @abstractmethod
    def finish(self) -> None:
        """Every row is written: make the final file and release it."""

    @abstractmethod
    def close(self) -> None:
        """Stop without finishing: what was written stays, for a rerun to resume."""


def open_sink(path: Path) -> ResultSink:
    """The sink for ``path``'s format, holding the ids a previous run already wrote.

    Raises:
        RowError: the existing output is not one this command wrote.
        OSError: it cannot be read or written.
    """
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return JournalSink(path, ParquetFinal(path))
    if suffix in TREC_SUFFIXES:
        return JournalSink(path, TrecFinal(path))
    return JsonlSink(path)


class JsonlSink(ResultSink):
    """Appends one JSON line per row, flushed, after the rows a previous run wrote."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = set(_resume(path))
        self._handle: IO[str] | None = path.open("a", encoding="utf-8")

    def write(self, result: RowResult) -> bool:
        if result.id in self.done:
            return False
        handle = self._require()
        handle.write(json.dumps(result.to_record(), ensure_ascii=False) + "\n")
        handle.flush()
        self.done.add(result.id)
        return True

    def records(self) -> Iterator[dict[str, Any]]:
        """The rows written so far, as plain data."""
        self._require().flush()
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)

    def finish(self) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _require(self) -> IO[str]:
        if self._handle is None:
            raise ValueError(f"{self.path} is closed")
        return self._handle


def _resume(path: Path) -> Iterator[RowId]:
    """The ids of a JSONL output a previous run wrote, after cutting a partial last line."""
    if not path.exists():
        return
    _cut_partial_line(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise RowError(f"{where}: not an output row; refusing to append to it") from None
            if not isinstance(record, dict) or "results" not in record:
                raise RowError(f"{where}: not an output row; refusing to append to it")
            yield check_id(record.get("id"), where)


def _cut_partial_line(path: Path) -> None:
    """Drop what follows the last newline: a row a killed run was writing."""
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        position = size
        while position > 0:
            step = min(65536, position)
            handle.seek(position - step)
            chunk = handle.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                position = position - step + newline + 1
                break
            position -= step
        if position < size:
            handle.truncate(position)


class FinalFile(ABC):
    """A format written whole at the end: the ids it holds and how to extend it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @abstractmethod
    def ids(self) -> set[RowId]:
        """The ids of a final file a previous run finished (empty when there is none)."""

    @abstractmethod
    def write(self, target: Path, new: Iterator[dict[str, Any]]) -> None:
        """Write the previous final file's rows, then ``new``, to ``target``, streaming."""

    def check(self, result: RowResult) -> None:  # noqa: B027 - most formats hold any row
        """Refuse a row this format cannot hold, before it is journaled."""


class JournalSink(ResultSink):
    """Rows go to a JSONL journal; :meth:`finish` makes the final file from it."""

    def __init__(self, path: Path, final: FinalFile) -> None:
        self.path = path
        self._final = final
        self._finished_ids = final.ids()
        self._journal = JsonlSink(path.with_name(path.name + JOURNAL_SUFFIX))
        self.done = self._finished_ids | self._journal.done

    def write(self, result: RowResult) -> bool:
        if result.id in self.done:
            return False
        self._final.check(result)
        self.done.add(result.id)
        return self._journal.write(result)

    def finish(self) -> None:
        new = (row for row in self._journal.records() if row["id"] not in self._finished_ids)
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            self._final.write(temporary, new)
        except (TypeError, ValueError) as exc:  # pyarrow's: a previous file of another shape
            raise RowError(f"{self.path}: cannot write the results ({exc})") from None
        finally:
            self._journal.close()
        os.replace(temporary, self.path)
        self._journal.path.unlink()

    def close(self) -> None:
        self._journal.close()


class ParquetFinal(FinalFile):
    """A Parquet table: ``id`` (string or integer, one type per file) and ``results``, a
    list of ``{index, relevance_score, document_id}`` (``document_id`` null without ids).
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._id_type: type | None = None

    def ids(self) -> set[RowId]:
        if not self.path.exists():
            return set()
        from pyarrow import parquet

        try:
            column = parquet.read_table(self.path, columns=["id"]).column("id")
        except (OSError, KeyError, ValueError) as exc:
            message = f"{self.path}: not an output table ({exc}); refusing to extend it"
            raise RowError(message) from None
        self._id_type = int if column.type == _arrow_type(int) else str
        return set(column.to_pylist())

    def check(self, result: RowResult) -> None:
        kind = type(result.id)
        if self._id_type is None:
            self._id_type = kind
        elif kind is not self._id_type:
            raise RowError(
                f"{self.path}: a Parquet column holds one type, and ids so far were "
                f"{self._id_type.__name__}s; row {result.id!r} is not"
            )

    def write(self, target: Path, new: Iterator[dict[str, Any]]) -> None:
        from pyarrow import parquet

        schema = _parquet_schema(self._id_type or str)
        with parquet.ParquetWriter(target, schema) as writer:
            if self.path.exists():
                for batch in parquet.ParquetFile(self.path).iter_batches(PARQUET_BATCH_ROWS):
                    writer.write_batch(batch)
            for chunk in _chunks(new, PARQUET_BATCH_ROWS):
                writer.write_batch(_parquet_batch(chunk, schema))


def _arrow_type(kind: type) -> Any:
    import pyarrow

    return pyarrow.int64() if kind is int else pyarrow.string()


def _parquet_schema(id_type: type) -> Any:
    import pyarrow

    result = pyarrow.struct(
        [
            ("index", pyarrow.int64()),
            ("relevance_score", pyarrow.float64()),
            ("document_id", pyarrow.string()),
        ]
    )
    return pyarrow.schema([("id", _arrow_type(id_type)), ("results", pyarrow.list_(result))])


def _parquet_batch(rows: list[dict[str, Any]], schema: Any) -> Any:
    import pyarrow

    for row in rows:
        row["results"] = [{"document_id": None, **item} for item in row["results"]]
    return pyarrow.RecordBatch.from_pylist(rows, schema=schema)


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class TrecFinal(FinalFile):
    """A TREC run, ``qid Q0 docid rank score tag``: string ids without spaces, and each
    result's document id."""

    def ids(self) -> set[RowId]:
        if not self.path.exists():
            return set()
        with self.path.open(encoding="utf-8") as handle:
            return {line.split(maxsplit=1)[0] for line in handle if line.strip()}

    def check(self, result: RowResult) -> None:
        if not isinstance(result.id, str) or _has_space(result.id):
            raise RowError(
                f"{self.path}: a TREC run's query ids are strings without spaces; "
                f"row {result.id!r} is not"
            )
        if any(item.document_id is None or _has_space(item.document_id) for item in result.results):
            raise RowError(
                f"{self.path}: a TREC run needs document ids without spaces (--beir FOLDER "
                f"--run FILE, or 'document_ids' in each row); row {result.id!r} has none"
            )

    def write(self, target: Path, new: Iterator[dict[str, Any]]) -> None:
        with target.open("w", encoding="utf-8") as out:
            if self.path.exists():
                with self.path.open(encoding="utf-8") as previous:
                    out.writelines(previous)
            for row in new:
                out.writelines(trec_lines(row))


def _has_space(text: str) -> bool:
    return not text or any(character.isspace() for character in text)


def trec_lines(row: dict[str, Any]) -> Iterator[str]:
    """A row's TREC run lines, best first (its results carry document ids)."""
    for rank, result in enumerate(row["results"], start=1):
        score = result["relevance_score"]
        yield f"{row['id']} Q0 {result['document_id']} {rank} {score:.6f} {TREC_TAG}\n"
