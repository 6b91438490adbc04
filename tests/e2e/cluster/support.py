"""What the Ray tests share: the SciFact rows, comparing rankings, finding Ray workers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from openrerank import EngineConfig
from openrerank.types import DocumentOptions

OPTIONS: DocumentOptions = {"max_chunks_per_doc": 1}


@dataclass(frozen=True)
class Rows:
    """SciFact rows in a JSONL file and their ranking by a local job."""

    path: Path
    ids: list[str]
    local: dict[str, list[dict[str, object]]]
    engine: EngineConfig


def read_results(path: Path) -> dict[str, list[dict[str, object]]]:
    """id -> results of a JSONL output, failing on an id written twice."""
    rows: dict[str, list[dict[str, object]]] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        assert row["id"] not in rows, f"{row['id']} written twice"
        rows[row["id"]] = row["results"]
    return rows


def assert_same_rankings(
    got: dict[str, list[dict[str, object]]], want: dict[str, list[dict[str, object]]]
) -> None:
    """The same ids, each ranked in the same order with scores within 1e-5."""
    assert sorted(got) == sorted(want)
    for row_id, results in want.items():
        assert [r["index"] for r in got[row_id]] == [r["index"] for r in results], row_id
        for mine, theirs in zip(got[row_id], results, strict=True):
            assert abs(float(mine["relevance_score"]) - float(theirs["relevance_score"])) <= 1e-5  # type: ignore[arg-type]


def ray_processes(marker: str) -> list[psutil.Process]:
    """This test session's Ray workers whose title names ``marker`` (Ray sets a worker's
    title to its actor's class). The session's private Ray is started by this process, so
    its workers are this process's descendants: another Ray on the machine is never hit.
    """
    found = []
    for process in psutil.Process(os.getpid()).children(recursive=True):
        try:
            command = " ".join(process.cmdline())
        except psutil.Error:  # ended meanwhile
            continue
        if marker in command:
            found.append(process)
    return found
