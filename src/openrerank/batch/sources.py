"""Where batch rows come from: a JSONL file, a Parquet file, or a BEIR folder plus a run.

Every source streams: a file is read a line (or a Parquet record batch) at a time, so
memory stays bounded whatever its size. A BEIR collection is read whole (its corpus is
needed to turn candidate ids into texts) and yields one row per query with candidates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from openrerank.batch.rows import BatchRow, RowError, parse_line, parse_row
from openrerank.batch.sinks import PARQUET_SUFFIXES

SourceKind = Literal["jsonl", "parquet", "beir"]
PARQUET_BATCH_ROWS = 256
ROW_COLUMNS = ("id", "query", "documents", "top_n", "document_ids")


@dataclass(frozen=True)
class FileSource:
    """A JSONL or Parquet file of rows (the kind is the file's extension)."""

    path: Path

    @property
    def kind(self) -> SourceKind:
        return "parquet" if self.path.suffix.lower() in PARQUET_SUFFIXES else "jsonl"

    def count(self) -> int:
        """The rows in the file (blank lines aside), for the progress bar's total."""
        if self.kind == "parquet":
            from pyarrow import parquet

            return int(parquet.ParquetFile(self.path).metadata.num_rows)
        with self.path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())

    def rows(self) -> Iterator[BatchRow]:
        """Each row, in file order.

        Raises:
            RowError: a line is not a valid row (the message names its line).
            OSError: the file cannot be read.
        """
        if self.kind == "parquet":
            yield from self._parquet_rows()
            return
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield parse_line(line, f"{self.path}:{number}")

    def parquet_columns(self) -> list[str]:
        """The file's columns a row reads (others, of any type, are never read)."""
        from pyarrow import parquet

        names = set(parquet.read_schema(self.path).names)
        return [name for name in ROW_COLUMNS if name in names]

    def _parquet_rows(self) -> Iterator[BatchRow]:
        from pyarrow import parquet

        number = 0
        table = parquet.ParquetFile(self.path)
        for batch in table.iter_batches(PARQUET_BATCH_ROWS, columns=self.parquet_columns()):
            for record in batch.to_pylist():
                number += 1
                yield parse_row(record, f"{self.path}:row {number}")


@dataclass(frozen=True)
class BeirSource:
    """A BEIR-layout folder and a run of first-stage candidates (TSV or TREC).

    Each query with candidates is one row whose id is the query id; its documents are
    the candidates' texts (``title text``) in run order, carried with their ids.
    """

    folder: Path
    run: Path
    split: str = "test"
    kind: SourceKind = "beir"

    def count(self) -> int:
        from openrerank.eval.datasets import DatasetError, load_run

        try:
            return sum(1 for doc_ids in load_run(self.run).values() if doc_ids)
        except DatasetError as exc:
            raise RowError(str(exc)) from None

    def rows(self) -> Iterator[BatchRow]:
        """Each query with candidates, in run order.

        Raises:
            RowError: the folder or run is missing or malformed, or names unknown ids.
        """
        from openrerank.eval.datasets import DatasetError, load_beir, load_run, with_candidates

        try:
            dataset = with_candidates(
                load_beir(self.folder, split=self.split, run=None),
                load_run(self.run),
                source=self.run,
            )
        except DatasetError as exc:
            raise RowError(str(exc)) from None
        for query_id, doc_ids in dataset.candidates.items():
            if doc_ids:
                yield BatchRow(
                    query_id,
                    dataset.queries[query_id],
                    dataset.candidate_texts(query_id),
                    where=f"{self.run} (query {query_id})",
                    document_ids=tuple(doc_ids),
                )


RowSource = FileSource | BeirSource
