"""Times openrerank on one LLM-reranker job, in a process of its own.

Executed as ``python -m openrerank.bench.llm_runner JOB OUT`` so that the peak memory
it reports (``VmHWM``) is this one run's. JOB is a JSON file ``{"model", "precision",
"repeats", "warmup", "max_length", "max_tokens_per_doc", "query", "documents"}``; OUT
receives the latencies, the tokens scored, the first pass's scores and the peak memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from openrerank.bench.process import peak_rss_mb
from openrerank.config import EngineConfig, ModelConfig
from openrerank.engine.service import RerankService


async def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Load the model, warm up on a few documents, then time ``repeats`` full passes."""
    model = ModelConfig(
        name=job["model"], backend="torch", precision=job["precision"], max_length=job["max_length"]
    )
    query, documents = job["query"], job["documents"]
    tokens = job["max_tokens_per_doc"]
    latencies: list[float] = []
    scores: list[float] = []
    used = 0
    async with RerankService(EngineConfig(model=model)) as service:
        if job["warmup"]:
            await service.score(query, documents[: job["warmup"]], max_tokens_per_doc=tokens)
        for _ in range(job["repeats"]):
            started = time.perf_counter()
            outcome = await service.rerank(
                query, documents, max_chunks_per_doc=1, max_tokens_per_doc=tokens
            )
            latencies.append(time.perf_counter() - started)
            used = outcome.usage.tokens
            scores = [r.relevance_score for r in sorted(outcome.results, key=lambda r: r.index)]
    return {
        "latencies_s": latencies,
        "documents": len(documents),
        "tokens_per_pass": used,
        "first_scores": scores,
        "peak_rss_mb": peak_rss_mb(os.getpid()),
    }


def main(job_path: str, out_path: str) -> None:
    """Run the job in ``job_path``; write the results to ``out_path``."""
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    Path(out_path).write_text(json.dumps(asyncio.run(run_job(job))), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
