"""``batch --ray``: the Ray Data pipeline ranks as a local job does, resumes, and survives
a killed actor with every id written exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from e2e.cluster.support import OPTIONS, Rows, assert_same_rankings, ray_processes, read_results
from openrerank.batch.sources import FileSource
from openrerank.cluster.data import RayPlan, run_on_ray

ACTOR = "RerankActor"


def plan(address: str, actors: int) -> RayPlan:
    return RayPlan(address, actors=actors, cpus_per_actor=1.0, rows_per_batch=2)


def test_two_actors_rank_real_scifact_rows_as_the_local_job(
    ray_address: str, scifact_rows: Rows, tmp_path: Path
) -> None:
    out = tmp_path / "ray.jsonl"
    summary = run_on_ray(
        FileSource(scifact_rows.path), out, scifact_rows.engine, OPTIONS, plan(ray_address, 2)
    )
    assert summary.written == len(scifact_rows.ids) and summary.duplicates == 0
    assert_same_rankings(read_results(out), scifact_rows.local)


def test_a_rerun_on_ray_scores_only_the_rows_not_yet_written(
    ray_address: str, scifact_rows: Rows, tmp_path: Path
) -> None:
    out = tmp_path / "ray.jsonl"
    lines = scifact_rows.path.read_text().splitlines(keepends=True)
    first = tmp_path / "first.jsonl"
    first.write_text("".join(lines[:5]))
    run_on_ray(FileSource(first), out, scifact_rows.engine, OPTIONS, plan(ray_address, 1))
    summary = run_on_ray(
        FileSource(scifact_rows.path), out, scifact_rows.engine, OPTIONS, plan(ray_address, 1)
    )
    assert (summary.already_done, summary.written) == (5, len(lines) - 5)
    assert summary.pairs == sum(len(json.loads(line)["documents"]) for line in lines[5:])
    assert_same_rankings(read_results(out), scifact_rows.local)


class KillAnActor:
    """Progress that SIGKILLs one pipeline actor once ``after`` rows are written, and
    notes every actor process it sees.

    With 8 blocks of 2 rows over 2 actors, after 3 rows at most 2 blocks are done, so
    the killed actor still holds blocks in flight that must be run again elsewhere.
    """

    def __init__(self, after: int) -> None:
        self.after = after
        self.rows = 0
        self.killed: list[int] = []
        self.seen: set[int] = set()

    def start(self, total: int, already_done: int) -> None:
        return None

    def advance(self, rows: int, pairs: int) -> None:
        self.rows += rows
        self.seen |= {process.pid for process in ray_processes(ACTOR)}
        if self.rows >= self.after and not self.killed:
            victims = ray_processes(ACTOR)
            assert victims, "no pipeline actor found to kill"
            victims[0].send_signal(signal.SIGKILL)
            self.killed.append(victims[0].pid)
            self.before = set(self.seen)


def test_an_actor_killed_mid_run_loses_no_row_and_repeats_none(
    ray_address: str, scifact_rows: Rows, tmp_path: Path
) -> None:
    out = tmp_path / "ray.jsonl"
    progress = KillAnActor(after=3)
    summary = run_on_ray(
        FileSource(scifact_rows.path),
        out,
        scifact_rows.engine,
        OPTIONS,
        plan(ray_address, 2),
        progress=progress,
    )
    assert len(progress.killed) == 1 and not psutil.pid_exists(progress.killed[0])
    assert progress.seen - progress.before, "Ray never started an actor in the killed one's place"
    assert summary.written == len(scifact_rows.ids)
    assert_same_rankings(read_results(out), scifact_rows.local)


def test_the_command_joins_a_cluster_by_address(
    ray_address: str, scifact_rows: Rows, tmp_path: Path
) -> None:
    out = tmp_path / "cli.jsonl"
    command = [
        sys.executable,
        "-c",
        "from openrerank.cli.main import main; main()",
        "batch",
        "--model",
        scifact_rows.engine.model.name,
        "--input",
        str(scifact_rows.path),
        "--output",
        str(out),
        "--max-chunks-per-doc",
        "1",
        "--ray",
        ray_address,
        "--actors",
        "2",
        "--cpus-per-actor",
        "1",
        "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"wrote {len(scifact_rows.ids)} rows" in done.stderr
    assert_same_rankings(read_results(out), scifact_rows.local)
