"""Rerank the SciFact BM25 top-100 with each backend/precision and report quality.

Run: .venv/bin/python bench/scifact_quality.py [--configs onnx-fp32,torch-fp32,onnx-int8]
Prints nDCG@10, RR@10 and R@10 per configuration, with the wall time of each run.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_CACHE", str(SHARED / "hf-cache"))

from openrerank import Reranker  # noqa: E402
from openrerank.eval.datasets import load_beir  # noqa: E402
from openrerank.eval.measures import evaluate, ranking_to_run  # noqa: E402
from openrerank.eval.runner import rerank_candidates  # noqa: E402

MEASURES = ("nDCG@10", "RR@10", "R@10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="openrerank/minilm-l6-scifact-ce")
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "beir-scifact")
    parser.add_argument("--configs", default="onnx-fp32,torch-fp32,onnx-int8")
    args = parser.parse_args()
    dataset = load_beir(args.data)
    bm25 = evaluate(dataset.qrels, ranking_to_run(dataset.candidates), MEASURES)
    print("| system | " + " | ".join(MEASURES) + " | seconds |")
    print("|---|" + "---|" * (len(MEASURES) + 1))
    print("| BM25 order | " + " | ".join(f"{bm25[m]:.4f}" for m in MEASURES) + " | - |")
    for config in args.configs.split(","):
        backend, precision = config.split("-")
        started = time.perf_counter()
        with Reranker(args.model, backend=backend, precision=precision) as reranker:  # type: ignore[arg-type]
            run = rerank_candidates(reranker, dataset, max_chunks_per_doc=1)
        seconds = time.perf_counter() - started
        figures = evaluate(dataset.qrels, run, MEASURES)
        row = " | ".join(f"{figures[m]:.4f}" for m in MEASURES)
        print(f"| {config} | {row} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
