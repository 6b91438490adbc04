"""``openrerank batch --ray``: the batch job as a Ray Data pipeline.

The input is read as a stream (JSONL as text lines, Parquet as record batches, a BEIR
folder as one row per query, made on the driver), cut into blocks of
``rows_per_batch`` rows, and ranked by ``map_batches`` on a pool of :class:`RerankActor`,
each holding one :class:`~openrerank.batch.scorer.BatchScorer` (the model is loaded
once per actor). The driver streams the outcomes into the same resumable
:class:`~openrerank.batch.job.ResultWriter` a local job uses, so ids already written are
skipped (they are dropped in the actors too) and none is written twice, even when a
killed actor's block is run again. Rows may be written in another order than read.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openrerank.batch.job import JobSummary, NoProgress, ProgressSink, checked_count, writing
from openrerank.batch.rows import (
    BatchRow,
    RowError,
    RowFailure,
    RowId,
    RowResult,
    parse_line,
    row_record,
)
from openrerank.batch.scorer import BatchScorer, RowOutcome
from openrerank.batch.sources import FileSource, RowSource
from openrerank.cluster.runtime import LOCAL, cluster_error, connected
from openrerank.config import EngineConfig
from openrerank.engine.model.resolve import resolve_model
from openrerank.types import DocumentOptions

if TYPE_CHECKING:
    import pyarrow
    from ray.data import Dataset

TEXT = "text"
OUTCOME = "outcome"


@dataclass(frozen=True)
class RayPlan:
    """How the job runs on Ray.

    Attributes:
        address: ``local`` or a cluster's address.
        actors: engines (actors) in the pool.
        cpus_per_actor: logical CPUs each actor reserves; its model threads, unless
            ``--threads`` is given.
        gpus_per_actor: GPUs each actor reserves (0 = none).
        rows_per_batch: rows per block and per ``map_batches`` call.
    """

    address: str = "local"
    actors: int = 1
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    rows_per_batch: int = 16

    def actor_engine(self, config: EngineConfig) -> EngineConfig:
        """The engine an actor runs: model threads match its CPUs unless set."""
        if config.model.threads is not None:
            return config
        threads = max(1, math.floor(self.cpus_per_actor))
        return dataclasses.replace(config, model=dataclasses.replace(config.model, threads=threads))


class RerankActor:
    """A Ray Data actor: one engine, ranking the rows of each batch it is given.

    Args:
        config: the engine.
        options: the document options of every row.
        skip: ids already written by an earlier run, dropped unscored.
    """

    def __init__(
        self, config: EngineConfig, options: DocumentOptions, skip: frozenset[RowId]
    ) -> None:
        self._scorer = BatchScorer(config, options)
        self._skip = skip

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        rows: list[BatchRow] = []
        outcomes: list[str] = []
        for line in batch[TEXT]:
            try:
                row = parse_line(str(line), "an input row")
            except RowError as exc:
                outcomes.append(encode(RowFailure(None, str(exc))))
                continue
            if row.id not in self._skip:
                rows.append(row)
        outcomes.extend(encode(outcome) for outcome in self._scorer.score(rows))
        return {OUTCOME: outcomes}


def encode(outcome: RowOutcome) -> str:
    """An outcome as one JSON string (the pipeline's only column)."""
    if isinstance(outcome, RowFailure):
        return json.dumps({"failure": outcome.to_record()}, ensure_ascii=False)
    return json.dumps({"result": outcome.to_record(), "pairs": outcome.pairs}, ensure_ascii=False)


def decode(text: str) -> RowOutcome:
    record = json.loads(text)
    if "failure" in record:
        return RowFailure(record["failure"]["id"], record["failure"]["error"])
    return RowResult.from_record(record["result"], record["pairs"])


def _parquet_lines(batch: pyarrow.Table) -> dict[str, list[str]]:
    return {TEXT: [json.dumps(record, ensure_ascii=False) for record in batch.to_pylist()]}


def read_dataset(source: RowSource) -> Dataset:
    """The source's rows as a dataset of JSON text lines, read as a stream."""
    import ray.data

    if isinstance(source, FileSource) and source.kind == "jsonl":
        return ray.data.read_text(str(source.path))
    if isinstance(source, FileSource):
        columns = source.parquet_columns()
        return ray.data.read_parquet(str(source.path), columns=columns).map_batches(
            _parquet_lines, batch_format="pyarrow"
        )
    lines = [{TEXT: json.dumps(row_record(row), ensure_ascii=False)} for row in source.rows()]
    return ray.data.from_items(lines)


def pipeline(
    source: RowSource,
    config: EngineConfig,
    options: DocumentOptions,
    plan: RayPlan,
    skip: frozenset[RowId],
) -> Dataset:
    """The Ray Data pipeline: read, cut into blocks, rank on the actor pool."""
    import ray.data

    return (
        read_dataset(source)
        .repartition(target_num_rows_per_block=plan.rows_per_batch)
        .map_batches(
            RerankActor,
            batch_size=plan.rows_per_batch,
            compute=ray.data.ActorPoolStrategy(size=plan.actors),
            fn_constructor_args=(plan.actor_engine(config), options, skip),
            num_cpus=plan.cpus_per_actor,
            num_gpus=plan.gpus_per_actor or None,
        )
    )


def outcomes(dataset: Dataset) -> Iterator[RowOutcome]:
    """The pipeline's outcomes, as they stream in to the driver."""
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for text in batch[OUTCOME]:
            yield decode(str(text))


def run_on_ray(
    source: RowSource,
    output: Path,
    config: EngineConfig,
    options: DocumentOptions,
    plan: RayPlan,
    *,
    errors: Path | None = None,
    progress: ProgressSink | None = None,
) -> JobSummary:
    """Rank every row of ``source`` not yet in ``output`` on Ray (see the module).

    Raises:
        RowError: a malformed or refused row, without ``errors``; an output this
            command did not write. What was written stays for a rerun.
        ModelNotFoundError: with ``local``, the model is nowhere to be found.
        ConnectionError: the cluster cannot be reached.
        ClusterError: the pipeline failed (an actor that cannot load the model, say).
    """
    import ray.exceptions

    progress = progress or NoProgress()
    if plan.address == LOCAL:  # a cluster's nodes may hold models this machine does not
        resolve_model(config.model.name, revision=config.model.revision, weights=False)
    with writing(output, errors, progress) as writer:
        done = writer.sink.done
        total = checked_count(source)
        requested = plan.actors * plan.cpus_per_actor
        try:
            with connected(plan.address, cpus=requested, gpus=plan.actors * plan.gpus_per_actor):
                _quiet_progress_bars()
                dataset = pipeline(source, config, options, plan, frozenset(done))
                progress.start(total, len(done))
                started = time.monotonic()
                for outcome in outcomes(dataset):
                    writer.take(outcome)
                writer.summary.seconds = time.monotonic() - started
        except ray.exceptions.RayError as exc:
            raise cluster_error(exc) from exc
    return writer.summary


def _quiet_progress_bars() -> None:
    """The command draws its own progress bar; Ray Data's would draw over it."""
    from ray.data import DataContext

    data_logger = logging.getLogger("ray.data")
    level = data_logger.level
    data_logger.setLevel(logging.ERROR)  # it warns that its bars are off, as asked
    try:
        context = DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
    finally:
        data_logger.setLevel(level)
