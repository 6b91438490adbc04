"""Backend names to factories, imported lazily; a missing runtime names its extra."""

from __future__ import annotations

import importlib
from typing import Literal

from openrerank.config import ModelConfig
from openrerank.engine.backends.base import Backend
from openrerank.engine.model.resolve import ModelFiles
from openrerank.engine.model.spec import ModelSpec
from openrerank.errors import BackendUnavailableError, UnsupportedModelError

ConcreteBackend = Literal["onnx", "openvino", "torch", "fake"]

# backend -> (module, the third-party packages it imports, the extra that installs them)
_MODULES: dict[ConcreteBackend, tuple[str, frozenset[str], str]] = {
    "onnx": ("openrerank.engine.backends.onnx", frozenset({"onnxruntime", "onnx"}), "onnx"),
    "openvino": ("openrerank.engine.backends.openvino", frozenset({"openvino"}), "openvino"),
    "torch": ("openrerank.engine.backends.torch", frozenset({"torch", "transformers"}), "torch"),
    "fake": ("openrerank.engine.backends.fake", frozenset(), ""),
}
_PRECISIONS: dict[ConcreteBackend, frozenset[str]] = {
    "onnx": frozenset({"fp32", "int8"}),
    "openvino": frozenset({"fp32", "bf16"}),
    "torch": frozenset({"fp32", "fp16", "bf16"}),
    "fake": frozenset({"fp32"}),
}


def choose_backend(config: ModelConfig, spec: ModelSpec | None = None) -> ConcreteBackend:
    """Resolve ``auto`` and check that the backend supports the precision and model.

    ``auto`` is ONNX Runtime for CPU fp32/int8 and PyTorch for CUDA or fp16/bf16, and
    PyTorch for LLM rerankers (``spec.template``), which only it runs.

    Raises:
        UnsupportedModelError: the backend does not run the precision or the model.
    """
    name: ConcreteBackend
    llm = spec is not None and spec.template is not None
    if config.backend == "auto":
        on_cpu = config.device == "cpu"
        cpu_onnx = on_cpu and config.precision in _PRECISIONS["onnx"] and not llm
        name = "onnx" if cpu_onnx else "torch"
    else:
        name = config.backend
    if llm and name in ("onnx", "openvino"):
        raise UnsupportedModelError(
            f"backend {name!r} does not run LLM rerankers ({spec.template if spec else ''}); "
            "use --backend torch (or auto)"
        )
    if config.precision not in _PRECISIONS[name]:
        raise UnsupportedModelError(
            f"backend {name!r} does not run precision {config.precision!r} "
            f"(it runs {', '.join(sorted(_PRECISIONS[name]))})"
        )
    return name


def create_backend(files: ModelFiles, spec: ModelSpec, config: ModelConfig) -> Backend:
    """Import the chosen backend's module and load the model into it.

    Raises:
        BackendUnavailableError: the backend's runtime is not installed.
        UnsupportedModelError: the backend cannot run this model or precision.
    """
    name = choose_backend(config, spec)
    module_name, packages, extra = _MODULES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name is None or exc.name.split(".")[0] not in packages:
            raise
        raise BackendUnavailableError(
            f"the {name} backend needs {exc.name}, which is not installed: "
            f"pip install 'openrerank[{extra}]'"
        ) from exc
    backend: Backend = module.load(files, spec, config)
    return backend
