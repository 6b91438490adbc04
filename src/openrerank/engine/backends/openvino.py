"""OpenVinoBackend: OpenVINO on the CPU, fp32 or bf16, from the model's fp32 ONNX graph.

OpenVINO reads the same (shipped or exported) ONNX file as the ONNX Runtime backend and
applies its own fusions. On CPUs with AVX-512 BF16 or AMX it runs bf16 natively; on
others it would silently fall back to fp32, so bf16 is refused there instead.
Measured on a 2-core AVX-512 BF16 CPU (``bench/RESULTS.md``): fp32 about 7% faster than
ONNX Runtime's fused graph, and bf16 about 1.3x faster than PyTorch bf16.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov

from openrerank.config import ModelConfig
from openrerank.engine.backends.base import MODEL_INPUTS, BackendInfo, Batch
from openrerank.engine.backends.onnx_file import available_cores, fp32_onnx
from openrerank.engine.model.resolve import ModelFiles
from openrerank.engine.model.spec import ModelSpec
from openrerank.errors import (
    BackendUnavailableError,
    ModelLoadError,
    UnsupportedModelError,
    summarize_exception,
)
from openrerank.types import FloatArray

logger = logging.getLogger(__name__)

_HINTS = {"fp32": "f32", "bf16": "bf16"}


class OpenVinoBackend:
    """One compiled OpenVINO model and its inference request (one worker thread uses it).

    Args:
        compiled: the model compiled for the CPU.
        spec: the model's spec (decides whether segment ids are fed).
        precision: ``fp32`` or ``bf16``, for reporting.
        model_file: the ONNX file it was read from.
    """

    def __init__(
        self, compiled: ov.CompiledModel, *, spec: ModelSpec, precision: str, model_file: str
    ) -> None:
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._inputs = tuple(port.get_any_name() for port in compiled.inputs)
        unknown = sorted(set(self._inputs) - set(MODEL_INPUTS))
        if unknown:
            raise UnsupportedModelError(f"{model_file} takes unsupported inputs {unknown}")
        self._segments = spec.expects_token_type_ids
        self._info = BackendInfo("openvino", precision, "cpu", self._inputs, model_file)

    @property
    def info(self) -> BackendInfo:
        """Backend name, precision, device and the model's inputs."""
        return self._info

    def run(self, batch: Batch) -> FloatArray:
        """Infer on a batch; returns ``[n, num_labels]`` float32 logits."""
        feed = batch.inputs(self._inputs, segments=self._segments)
        outputs = self._request.infer(feed)
        logits = np.asarray(outputs[self._compiled.outputs[0]], dtype=np.float32)
        return logits.reshape(batch.size, -1)

    def close(self) -> None:
        """Drop the compiled model."""
        del self._request
        del self._compiled


def load(files: ModelFiles, spec: ModelSpec, config: ModelConfig) -> OpenVinoBackend:
    """Registry entry: compile the model's fp32 ONNX graph for the CPU at the precision."""
    if config.device != "cpu":
        raise BackendUnavailableError(
            "the openvino backend runs on the CPU; use backend='torch' for CUDA"
        )
    core = ov.Core()
    _check_precision(core, config.precision)
    path = fp32_onnx(files, spec, config)
    properties = {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": _HINTS[config.precision],
        "INFERENCE_NUM_THREADS": config.threads or available_cores(),
    }
    logger.info("compiling %s (%s) with OpenVINO from %s", files.name, config.precision, path)
    compiled = _compile(core, path, properties)
    return OpenVinoBackend(compiled, spec=spec, precision=config.precision, model_file=str(path))


def _compile(core: ov.Core, path: Path, properties: dict[str, Any]) -> ov.CompiledModel:
    """Read and compile the graph; a file OpenVINO cannot use is a one-line ModelLoadError."""
    try:
        return core.compile_model(core.read_model(str(path)), "CPU", properties)
    except Exception as exc:  # OpenVINO raises RuntimeError subclasses with C++ traces
        raise ModelLoadError(
            f"{path}: OpenVINO cannot load it ({summarize_exception(exc)})"
        ) from exc


def _check_precision(core: ov.Core, precision: str) -> None:
    capabilities = set(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    if precision == "bf16" and "BF16" not in capabilities:
        raise UnsupportedModelError(
            "this CPU has no native bf16 (AVX-512 BF16 or AMX); OpenVINO would run fp32: "
            "use precision='fp32'"
        )
