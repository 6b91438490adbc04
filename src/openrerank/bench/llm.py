"""``openrerank bench llm``: an LLM reranker against sentence-transformers, side by side.

Every system runs in a process of its own (so each peak memory is its own run's) on the
same weights and the same pairs: one SciFact claim with its BM25 top-k abstracts, and
optionally one pair of exactly ``long_tokens`` tokens. openrerank runs the torch backend
at each precision; sentence-transformers runs ``CrossEncoder.predict`` with its defaults
(fp32, batches of 32), from its own venv. The first pass's scores of every system are
compared with openrerank fp32's, so a table never compares different work.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from openrerank.bench import st_baseline
from openrerank.bench.process import run_json_job
from openrerank.bench.venvs import ensure_venv
from openrerank.bench.workloads import load_query
from openrerank.engine.model.spec import read_spec
from openrerank.engine.tokenization.encoder import load_encoder
from openrerank.engine.tokenization.prompt import PromptTokenizer

RUN_TIMEOUT_S = 7_200.0
OURS = "openrerank"


@dataclass(frozen=True)
class LlmBenchConfig:
    """What ``openrerank bench llm`` runs.

    Attributes:
        model: an LLM reranker folder (e.g. from ``openrerank bench random-llm``).
        data: the folder holding ``beir-scifact/``.
        documents: candidates of the one SciFact claim scored per pass.
        repeats: timed passes per system.
        precisions: openrerank's torch precisions (fp32, bf16).
        baseline: also run sentence-transformers.
        long_tokens: also score one pair of this many tokens (0 = not).
        long_model: the model of the long pair (default ``model``; a model with fewer
            layers keeps a 32k-token pair within minutes on a small CPU).
        venv_dir: where the baseline's venv lives.
        logs: where each run's log goes.
    """

    model: str
    data: Path
    documents: int
    repeats: int
    precisions: tuple[str, ...]
    baseline: bool
    long_tokens: int
    long_model: str | None
    venv_dir: Path
    logs: Path


@dataclass(frozen=True)
class LlmRow:
    """One system's figures on one workload."""

    workload: str
    system: str
    precision: str
    pairs: int
    tokens: int | None
    seconds: float
    pairs_per_s: float
    peak_rss_mb: float | None
    max_abs_diff: float | None
    """Largest score difference from openrerank fp32 on the same pairs."""


@dataclass(frozen=True)
class _Work:
    name: str
    model: str
    query: str
    documents: tuple[str, ...]
    max_length: int | None


def run_llm_bench(config: LlmBenchConfig, echo: Callable[[str], None]) -> list[LlmRow]:
    """Run every system on every workload; rows in the order run."""
    _, query, candidates = load_query(config.data / "beir-scifact", None)
    works = [
        _Work(
            f"scifact-{config.documents}",
            config.model,
            query,
            tuple(candidates[: config.documents]),
            None,
        )
    ]
    if config.long_tokens:
        long_model = config.long_model or config.model
        text = _fit(long_model, query, " ".join(candidates), config.long_tokens)
        works.append(
            _Work(f"pair-{config.long_tokens}", long_model, query, (text,), config.long_tokens)
        )
    python = _baseline_python(config) if config.baseline else None
    rows: list[LlmRow] = []
    for work in works:
        reference: list[float] | None = None
        for precision in config.precisions:
            echo(f"{work.name}: openrerank torch {precision}")
            result = _ours(config, work, precision)
            reference = reference or result["first_scores"]
            rows.append(_row(work, OURS, precision, result, reference))
        if python is not None:
            echo(f"{work.name}: sentence-transformers fp32")
            result = _sentence_transformers(config, work, python)
            rows.append(_row(work, st_baseline.SYSTEM, "fp32", result, reference))
    return rows


def markdown(rows: Sequence[LlmRow]) -> str:
    """The rows as a markdown table, with each system's speed over sentence-transformers'."""
    baseline = {r.workload: r.pairs_per_s for r in rows if r.system == st_baseline.SYSTEM}
    lines = [
        "| workload | system | precision | pairs | tokens | seconds | pairs/s | vs ST "
        "| peak RSS MiB | max abs diff |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        ratio = r.pairs_per_s / baseline[r.workload] if r.workload in baseline else None
        lines.append(
            f"| {r.workload} | {r.system} | {r.precision} | {r.pairs} | {_num(r.tokens, 0)} | "
            f"{r.seconds:.1f} | {r.pairs_per_s:.2f} | {_num(ratio, 2, 'x')} | "
            f"{_num(r.peak_rss_mb, 0)} | {_num(r.max_abs_diff, 6)} |"
        )
    return "\n".join(lines)


def write_json(rows: Sequence[LlmRow], path: Path) -> None:
    """The rows as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n", encoding="utf-8")


def _fit(model: str, query: str, text: str, total: int) -> str:
    """The start of ``text`` (repeated as needed) whose pair with ``query`` is exactly
    ``total`` tokens."""
    spec = read_spec(Path(model), max_length=total)
    encoder = load_encoder(Path(model), spec)
    if not isinstance(encoder, PromptTokenizer):
        raise ValueError(f"{model} is not an LLM reranker")
    window = encoder.document_window(
        encoder.encode_query(query, spec.recipe.default_instruction if spec.recipe else None)
    )
    tokens = encoder.encode_texts([text])[0]
    while tokens.n_tokens < window:  # the abstracts again: length is what is measured
        text = f"{text} {text}"
        tokens = encoder.encode_texts([text])[0]
    return text[: int(tokens.offsets[window - 1][1])]


def _ours(config: LlmBenchConfig, work: _Work, precision: str) -> dict[str, Any]:
    job = {
        "model": work.model,
        "precision": precision,
        "repeats": config.repeats,
        "warmup": 0,
        "max_length": work.max_length,
        "max_tokens_per_doc": 1_000_000,
        "query": work.query,
        "documents": list(work.documents),
    }
    log = config.logs / f"{work.name}-openrerank-{precision}.log"
    command = [sys.executable, "-m", "openrerank.bench.llm_runner"]
    return run_json_job(command, job, log, timeout_s=RUN_TIMEOUT_S)


def _sentence_transformers(config: LlmBenchConfig, work: _Work, python: Path) -> dict[str, Any]:
    job = {
        "model": work.model,
        "repeats": config.repeats,
        "warmup": 0,
        "workloads": [
            {
                "name": work.name,
                "requests": [{"query": work.query, "documents": list(work.documents)}],
            }
        ],
    }
    log = config.logs / f"{work.name}-sentence-transformers.log"
    command = [str(python), str(st_baseline.RUNNER)]
    out = run_json_job(command, job, log, timeout_s=RUN_TIMEOUT_S)
    result = out["results"][work.name]
    return {
        "latencies_s": result["latencies_s"],
        "documents": len(work.documents),
        "tokens_per_pass": None,
        "first_scores": result["first_scores"],
        "peak_rss_mb": out.get("peak_rss_mb"),
    }


def _baseline_python(config: LlmBenchConfig) -> Path:
    log = config.logs / "st-pip.log"
    return ensure_venv(config.venv_dir, "sentence-transformers", st_baseline.REQUIREMENTS, log=log)


def _row(
    work: _Work, system: str, precision: str, result: dict[str, Any], reference: list[float] | None
) -> LlmRow:
    latencies = [float(x) for x in result["latencies_s"]]
    seconds = sum(latencies) / len(latencies)
    scores = [float(x) for x in result["first_scores"]]
    diff = max(abs(a - b) for a, b in zip(scores, reference, strict=True)) if reference else None
    tokens = result.get("tokens_per_pass")
    return LlmRow(
        workload=work.name,
        system=system,
        precision=precision,
        pairs=len(work.documents),
        tokens=int(tokens) if tokens is not None else None,
        seconds=seconds,
        pairs_per_s=len(work.documents) / seconds,
        peak_rss_mb=result.get("peak_rss_mb"),
        max_abs_diff=diff,
    )


def _num(value: float | None, digits: int, suffix: str = "") -> str:
    return "-" if value is None else f"{value:,.{digits}f}{suffix}"
