"""Times sentence-transformers ``CrossEncoder.predict`` with its defaults; runs in its own venv.

This file is executed by the baseline's interpreter (``python st_runner.py JOB OUT``),
never imported by openrerank: it needs only the standard library and
sentence-transformers. JOB is a JSON file ``{"model", "repeats", "warmup", "workloads":
[{"name", "requests": [{"query", "documents"}]}]}``; OUT receives per-workload latencies,
the scores of the first request (to check the baseline runs the same weights) and the
process's peak memory.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def _peak_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _time_workload(
    model: Any, workload: dict[str, Any], repeats: int, warmup: int
) -> dict[str, Any]:
    requests = workload["requests"]
    for index in range(warmup):
        request = requests[index % len(requests)]
        model.predict([(request["query"], doc) for doc in request["documents"]])
    latencies: list[float] = []
    documents = 0
    first_scores: list[float] | None = None
    for _ in range(repeats):
        for request in requests:
            pairs = [(request["query"], doc) for doc in request["documents"]]
            started = time.perf_counter()
            scores = model.predict(pairs)
            latencies.append(time.perf_counter() - started)
            documents += len(pairs)
            if first_scores is None:  # the first request's, from its first timed pass
                first_scores = scores.tolist()
    return {"latencies_s": latencies, "documents": documents, "first_scores": first_scores}


def main(job_path: str, out_path: str) -> None:
    """Run the job in ``job_path``; write the results to ``out_path``."""
    import sentence_transformers  # type: ignore[import-not-found, unused-ignore]
    import torch
    from sentence_transformers import CrossEncoder  # type: ignore[import-not-found, unused-ignore]

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    model = CrossEncoder(job["model"], device="cpu")
    results = {
        workload["name"]: _time_workload(model, workload, job["repeats"], job["warmup"])
        for workload in job["workloads"]
    }
    out = {
        "version": sentence_transformers.__version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "peak_rss_mb": _peak_rss_mb(),
        "results": results,
    }
    Path(out_path).write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
