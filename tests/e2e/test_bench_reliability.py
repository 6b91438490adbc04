"""``openrerank bench reliability --mode load`` end to end, in seconds: its CI smoke.

It serves the tiny model (no ../shared needed) and runs every phase for about 2 s with
2 clients. Admission is made small on purpose (``--max-queued-pairs``: 3 requests of 8
documents), so 2 closed-loop clients always fit, and the open loop at 4x their rate
overflows it: the smoke sees the 429 path with its ``Retry-After`` header.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from openrerank.bench.process import openrerank_command

DOCUMENTS = [
    "the quick brown fox jumps over the lazy dog",
    "water boils at one hundred degrees at sea level",
    "the museum opened a new exhibition about ancient art",
    "vitamin d deficiency and the risk of bone fractures",
    "the train to the city leaves from the central station",
    "bone fractures in older adults",
    "the city council met on monday",
    "a new vaccine against the flu",
]
QUERIES = ["quick fox", "bone fractures", "museum art", "train station"]
PHASES = ["warm-up", "load", "overload", "recovery"]


def test_bench_reliability_smoke_runs_every_phase(tiny_model_dir: Path, tmp_path: Path) -> None:
    payloads = tmp_path / "payloads.json"
    bodies = [{"model": "rerank-v3.5", "query": q, "documents": DOCUMENTS} for q in QUERIES]
    payloads.write_text(json.dumps(bodies))
    out = tmp_path / "results"
    command = openrerank_command([
        "bench", "reliability", "--mode", "load", "--model", str(tiny_model_dir),
        "--payloads", str(payloads), "--shared", str(tmp_path), "--out", str(out),
        "--clients", "2", "--warmup", "0.5", "--load-duration", "2",
        "--overload-duration", "2", "--recovery-duration", "2", "--drain", "10",
        "--max-outstanding", "100", "--request-timeout", "20",
        "--server-arg=--max-documents 8 --max-queued-pairs 24",
    ])  # fmt: skip
    env = {**os.environ, "OPENRERANK_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "reliability-load.json").read_text())
    phases = {phase["name"]: phase for phase in report["phases"]}
    assert list(phases) == PHASES
    for phase in phases.values():
        assert phase["server_errors"] == 0, phase
        assert phase["alive_after"], phase
        assert phase["missing_retry_after"] == 0, phase
        assert phase["rss_mb"]["peak"] > 0, phase
    for name in ("load", "recovery"):
        assert phases[name]["ok"] == phases[name]["requests"] > 0, phases[name]
    overload = phases["overload"]
    assert overload["status_counts"].get("429", 0) > 0, overload
    assert set(overload["status_counts"]) <= {"200", "429"}, overload
    assert overload["retry_after"], overload
    assert report["passed"] is True
    assert report["findings"]["capacity_ok_per_s"] > 0
    assert "| overload |" in (out / "reliability-load.md").read_text()
