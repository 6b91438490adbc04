"""How far from the machine's limit: model FLOPs per workload and the measured matmul peak.

The FLOPs count is the encoder's matrix multiplications on the real (unpadded) tokens of
every pair, as the model's tokenizer and window produce them (one window per document,
what the timed runs score; `windowed_cost` counts every window instead): per layer and token,
``2 (4 h^2 + 2 h i)`` for the projections and feed-forward, plus ``4 n h`` for the
attention scores and values over a pair of ``n`` tokens. Embeddings, norms, softmax and
the classifier head are left out (they are a few percent on these models). The peak is
a large float32 matrix product timed on this machine with every core.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openrerank.bench.workloads import Workload
from openrerank.config import EngineConfig, ModelConfig
from openrerank.engine.documents.prepare import prepare
from openrerank.engine.model.resolve import resolve_model
from openrerank.engine.model.spec import read_spec
from openrerank.engine.service import prepare_options_for
from openrerank.engine.tokenization.tokenizer import PairTokenizer
from openrerank.types import FloatArray, ScoringOptions


@dataclass(frozen=True)
class EncoderShape:
    """The dimensions that decide an encoder's FLOPs."""

    layers: int
    hidden: int
    intermediate: int

    def pair_flops(self, tokens: int) -> float:
        """Matmul FLOPs of one forward pass over a pair of ``tokens`` tokens."""
        h, i, n = self.hidden, self.intermediate, tokens
        per_token = 2 * (4 * h * h + 2 * h * i) + 4 * n * h
        return float(self.layers * n * per_token)


@dataclass(frozen=True)
class WorkloadCost:
    """The real tokens and matmul FLOPs of one pass over a workload's requests."""

    pairs: int
    tokens: int
    flops: float


def encoder_shape(directory: Path) -> EncoderShape:
    """Read the encoder's dimensions from its ``config.json``."""
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    return EncoderShape(
        layers=int(config["num_hidden_layers"]),
        hidden=int(config["hidden_size"]),
        intermediate=int(config["intermediate_size"]),
    )


def workload_cost(model: str, workload: Workload) -> WorkloadCost:
    """Tokenize every pair of the workload as the engine does and count its FLOPs.

    Each document is one pair, cut to the model window (``max_chunks_per_doc=1``).
    """
    return _prepared_cost(model, workload, {"max_chunks_per_doc": 1})


def windowed_cost(model: str, workload: Workload) -> WorkloadCost:
    """The pairs and FLOPs when every window of each document is scored.

    The documents are split as the engine's default chunking splits them
    (`openrerank.engine.documents.prepare` with the options `RerankService` uses for a
    request that sets none, under the `EngineConfig` defaults): this is the work of a
    ``Reranker.score`` call without ``max_chunks_per_doc``.
    """
    return _prepared_cost(model, workload, {})


def _prepared_cost(model: str, workload: Workload, scoring: ScoringOptions) -> WorkloadCost:
    tokenizer, shape = _tokenizer(model)
    options = prepare_options_for(EngineConfig(ModelConfig(name=model)), scoring)
    lengths = [
        pair.n_tokens
        for request in workload.requests
        for pair in prepare(tokenizer, request.query, request.documents, options).pairs
    ]
    return _cost(shape, lengths)


def _tokenizer(model: str) -> tuple[PairTokenizer, EncoderShape]:
    files = resolve_model(model, weights=False)
    spec = read_spec(files.directory)
    tokenizer = PairTokenizer.from_directory(files.directory, max_length=spec.max_length)
    return tokenizer, encoder_shape(files.directory)


def _cost(shape: EncoderShape, lengths: list[int]) -> WorkloadCost:
    return WorkloadCost(len(lengths), sum(lengths), sum(shape.pair_flops(n) for n in lengths))


def matmul_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The best of ``repeats`` timed ``size``-square matrix products, in GFLOP/s."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    a @ b  # warm the BLAS threads and caches
    return max(_timed_gflops(a, b, size) for _ in range(repeats))


def _timed_gflops(a: FloatArray, b: FloatArray, size: int) -> float:
    started = time.perf_counter()
    a @ b
    return 2 * size**3 / (time.perf_counter() - started) / 1e9
