"""OnnxBackend: ONNX Runtime sessions for fp32 and dynamically quantized int8 models.

The model file is the repository's own ``onnx/model.onnx`` when it ships one;
otherwise the PyTorch weights are exported once into a cache keyed by model and
revision. ONNX Runtime's transformer fusions are applied to that fp32 file, and int8 is
derived from the fused graph with dynamic quantization (see ``optimize``); both are
cached beside the export.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

from openrerank.config import ModelConfig
from openrerank.engine.backends import optimize
from openrerank.engine.backends.base import MODEL_INPUTS, BackendInfo, Batch
from openrerank.engine.backends.onnx_file import available_cores, cache_folder, fp32_onnx
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


class OnnxBackend:
    """One ONNX Runtime session; inputs are read from the session, not assumed.

    Args:
        model_path: the ``.onnx`` file to run.
        spec: the model's spec (decides whether segment ids are fed).
        precision: ``fp32`` or ``int8``, for reporting.
        threads: intra-op threads; ``None`` = the cores this process may use.
        providers: ONNX Runtime execution providers, in order of preference.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        spec: ModelSpec,
        precision: str = "fp32",
        threads: int | None = None,
        providers: list[str] | None = None,
    ) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_cores()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = _open_session(model_path, options, providers or ["CPUExecutionProvider"])
        self._inputs = tuple(i.name for i in self._session.get_inputs())
        unknown = sorted(set(self._inputs) - set(MODEL_INPUTS))
        if unknown:
            raise UnsupportedModelError(f"{model_path.name} takes unsupported inputs {unknown}")
        self._segments = spec.expects_token_type_ids
        device = "cuda" if "CUDAExecutionProvider" in self._session.get_providers() else "cpu"
        self._info = BackendInfo("onnx", precision, device, self._inputs, str(model_path))

    @property
    def info(self) -> BackendInfo:
        """Backend name, precision, device and the session's inputs."""
        return self._info

    def run(self, batch: Batch) -> FloatArray:
        """Run the session on a batch; returns ``[n, num_labels]`` float32 logits."""
        feed = batch.inputs(self._inputs, segments=self._segments)
        logits = np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
        return logits.reshape(batch.size, -1)

    def close(self) -> None:
        """Drop the session."""
        del self._session


def _open_session(
    model_path: Path, options: ort.SessionOptions, providers: list[str]
) -> ort.InferenceSession:
    """An ONNX Runtime session; a file it cannot load is a one-line ModelLoadError."""
    try:
        return ort.InferenceSession(str(model_path), sess_options=options, providers=providers)
    except Exception as exc:  # ORT raises its own pybind11 classes (InvalidProtobuf, Fail, ...)
        raise ModelLoadError(
            f"{model_path}: ONNX Runtime cannot load it ({summarize_exception(exc)})"
        ) from exc


def load(files: ModelFiles, spec: ModelSpec, config: ModelConfig) -> OnnxBackend:
    """Registry entry: find or build the ONNX file for the precision and open it."""
    folder = cache_folder(files, config)
    fp32 = optimize.fused(fp32_onnx(files, spec, config), folder, spec)
    path = fp32 if config.precision == "fp32" else optimize.quantized(fp32, folder)
    providers = ["CPUExecutionProvider"]
    if config.device.startswith("cuda"):
        providers.insert(0, "CUDAExecutionProvider")
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise BackendUnavailableError(
                "ONNX Runtime here has no CUDA provider: install onnxruntime-gpu, "
                "or use backend='torch' for GPU inference"
            )
    logger.info("loading %s (%s) from %s", files.name, config.precision, path)
    return OnnxBackend(
        path, spec=spec, precision=config.precision, threads=config.threads, providers=providers
    )
