"""The infinity-emb baseline server: started in its own venv, spoken to over HTTP.

Infinity runs as a child process (``infinity_emb v2``) of a venv made by
:func:`openrerank.bench.venvs.ensure_venv`; nothing here imports it. Its engine on CPU is
``torch`` (sentence-transformers' ``CrossEncoder`` model), the only one that scores a BERT
cross-encoder correctly: the ``optimum`` (ONNX Runtime) engine needs an ONNX file in the
model repo (it exports nothing), drops ``token_type_ids`` and truncates at 512, not 256, so its
scores are off by up to ~2 logits here, and it was ~4x slower. ``int8`` is infinity's
``--dtype int8`` (``torch.quantization.quantize_dynamic`` on the Linear layers), ``bf16``
its ``--dtype bfloat16``; fp16 and fp8 are GPU-only there.

``POST /rerank`` takes ``{"model", "query", "documents", "return_documents", "raw_scores",
"top_n"}`` and answers ``{"results": [{"index", "relevance_score", "document"}], ...}``
sorted best first; the scores are sigmoid-activated unless ``raw_scores`` is true.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from openrerank.bench.process import child_server
from openrerank.eval.client import read_ranking, rerank_request, scores_in_input_order

# ``infinity-emb[all]`` would pull torchvision from PyPI, a CUDA build that cannot load
# next to the CPU torch wheel (``operator torchvision::nms does not exist``), so only the
# extras the torch engine and the server need; the rest pins what was verified together.
INFINITY_REQUIREMENTS: tuple[str, ...] = (
    "torch==2.13.0",
    "infinity-emb[server,torch]==0.0.78",
    "transformers==4.47.1",
    "sentence-transformers==3.4.1",
    "huggingface-hub==0.36.2",
)
ENGINE = "torch"
DTYPES = {"fp32": "float32", "int8": "int8", "bf16": "bfloat16"}
PRECISIONS: tuple[str, ...] = tuple(DTYPES)
DEFAULT_BATCH_SIZE = 32
REQUEST_PATH = "/rerank"
READY_PATH = "/health"
INFINITY_FIELDS = {"return_documents": False, "raw_scores": False}
"""Infinity's own request fields: no documents back, sigmoid scores."""


@dataclass(frozen=True)
class InfinityEndpoint:
    """A running infinity server and how to address it."""

    url: str
    model: str
    engine: str
    precision: str


def infinity_command(
    python: Path, model: str, *, port: int, precision: str, batch_size: int
) -> list[str]:
    """The ``infinity_emb v2`` command line serving ``model`` on 127.0.0.1:``port``."""
    if precision not in DTYPES:
        raise ValueError(
            f"infinity has no CPU precision {precision!r}; choose one of {', '.join(PRECISIONS)}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    return [
        str(python.parent / "infinity_emb"),
        "v2",
        "--model-id",
        model,
        "--engine",
        ENGINE,
        "--device",
        "cpu",
        "--dtype",
        DTYPES[precision],
        "--batch-size",
        str(batch_size),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def infinity_env() -> dict[str, str]:
    """The caller's environment (and its ``HF_HUB_CACHE``), offline and without telemetry."""
    return dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        DO_NOT_TRACK="1",
        INFINITY_ANONYMOUS_USAGE_STATS="0",
        TOKENIZERS_PARALLELISM="false",
    )


@contextlib.contextmanager
def infinity_server(
    model: str,
    *,
    python: Path,
    port: int,
    precision: str,
    batch_size: int,
    log: Path,
    ready_timeout_s: float = 600.0,
) -> Iterator[tuple[InfinityEndpoint, subprocess.Popen[bytes]]]:
    """Serve ``model`` with infinity from the venv of ``python`` until the block ends.

    Yields the endpoint and the process (for its memory) once ``/health`` answers. The
    server is stopped (SIGTERM, then SIGKILL) on exit, error or not; a server that dies or
    is not ready within ``ready_timeout_s`` raises RuntimeError with the end of ``log``.
    Raises ValueError for a precision infinity has no CPU mode for.
    """
    command = infinity_command(python, model, port=port, precision=precision, batch_size=batch_size)
    url = f"http://127.0.0.1:{port}"
    with child_server(
        command,
        ready_url=url + READY_PATH,
        log=log,
        env=infinity_env(),
        ready_timeout_s=ready_timeout_s,
    ) as process:
        yield InfinityEndpoint(url, model, ENGINE, precision), process


def infinity_request(
    endpoint: InfinityEndpoint, query: str, documents: Sequence[str]
) -> tuple[str, dict[str, object]]:
    """The URL and body of one infinity rerank request."""
    _, body = rerank_request(endpoint.model, query, documents, extra=INFINITY_FIELDS)
    return endpoint.url + REQUEST_PATH, body


async def infinity_scores(
    client: httpx.AsyncClient,
    endpoint: InfinityEndpoint,
    query: str,
    documents: Sequence[str],
) -> list[float]:
    """One rerank request; the (sigmoid) relevance scores in the documents' input order."""
    url, body = infinity_request(endpoint, query, documents)
    ranking = read_ranking(await client.post(url, json=body), "infinity")
    return scores_in_input_order(ranking, len(documents))
