"""The fp32 ONNX file of a model, without ONNX Runtime: shipped, or exported once and cached.

Shared by the ONNX Runtime and OpenVINO backends. The repository's own
``onnx/model.onnx`` is used when it ships one; otherwise the PyTorch weights are exported
into a cache folder keyed by model and revision.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from openrerank.config import ModelConfig, default_cache_dir
from openrerank.engine.model.resolve import ModelFiles
from openrerank.engine.model.spec import ModelSpec
from openrerank.engine.model.weights import check_weights
from openrerank.errors import (
    BackendUnavailableError,
    ModelLoadError,
    RerankError,
    UnsupportedModelError,
    summarize_exception,
)

logger = logging.getLogger(__name__)

_EXPORT_PACKAGES = frozenset({"torch", "transformers", "onnxscript"})
_EXPORTED_FILE = "model.export-v2.onnx"
"""v2: eager attention, which ONNX Runtime can fuse (v1, ``model.onnx``, traced SDPA)."""


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def fp32_onnx(files: ModelFiles, spec: ModelSpec, config: ModelConfig) -> Path:
    """The model's fp32 ONNX graph: the shipped one, or the cached (or new) export.

    Raises:
        ModelLoadError: the shipped file is not a readable ONNX graph, or the weights
            cannot be exported (corrupt, truncated, an architecture transformers lacks).
    """
    shipped = files.onnx_path
    if shipped is None:
        return _exported(files, spec, config)
    try:
        check_onnx(shipped)
    except ModelLoadError as exc:
        raise ModelLoadError(
            f"{exc}; download the model again, or remove the file to export the "
            "PyTorch weights instead"
        ) from exc
    return shipped


def check_onnx(path: Path) -> None:
    """Check that ``path`` parses as an ONNX model with a graph (weights are not read).

    Skipped when the ``onnx`` package is not installed; the runtime then reports a bad
    file when it opens it.

    Raises:
        ModelLoadError: unreadable, not ONNX, truncated, or an empty graph.
    """
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx comes with both ONNX extras
        return
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except Exception as exc:  # protobuf's DecodeError and onnx's own errors
        raise ModelLoadError(
            f"{path}: not a valid ONNX model ({summarize_exception(exc)})"
        ) from exc
    if not model.graph.node:
        raise ModelLoadError(f"{path}: not a valid ONNX model (it holds no graph)")


def reuse_cached(target: Path) -> bool:
    """Whether a derived file in the cache can be used as is.

    A cached file that is not a readable graph (cut short by a full disk, edited by
    hand, written by a crashed process) is logged, removed and reported missing, so the
    caller builds it again instead of failing on it at every start.

    Raises:
        ModelLoadError: the corrupt file cannot be removed.
    """
    if not target.is_file():
        return False
    try:
        check_onnx(target)
    except ModelLoadError as exc:
        logger.warning("cached file is corrupt, building it again: %s", exc)
        try:
            target.unlink()
        except OSError as remove_error:
            raise ModelLoadError(
                f"{exc}; it is a cached file, but it cannot be removed "
                f"({remove_error.strerror or remove_error}): delete it by hand"
            ) from remove_error
        return False
    return True


def cache_folder(files: ModelFiles, config: ModelConfig) -> Path:
    """The folder of this model revision's exported and quantized files."""
    root = config.cache_dir or default_cache_dir()
    return root / "onnx" / files.cache_key


def _exported(files: ModelFiles, spec: ModelSpec, config: ModelConfig) -> Path:
    target = cache_folder(files, config) / _EXPORTED_FILE
    if reuse_cached(target):
        return target
    if spec.needs_remote_code and not config.trust_remote_code:
        raise UnsupportedModelError(
            f"{files.name} maps its classes to code shipped with the model (auto_map); "
            "exporting it runs that code: enable trust_remote_code for this model only if "
            "you trust its authors"
        )
    if not files.has_weights:
        raise UnsupportedModelError(
            f"{files.name} has neither onnx/model.onnx nor PyTorch weights to export"
        )
    check_weights(files.directory)
    try:
        from openrerank.engine.backends.export import export_onnx
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in _EXPORT_PACKAGES:
            raise
        raise BackendUnavailableError(
            f"{files.name} ships no onnx/model.onnx, and exporting it needs PyTorch "
            f"({exc.name} is missing): pip install 'openrerank[torch]', or use backend='torch'"
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("exporting %s to ONNX at %s (once per revision)", files.name, target)
    try:
        export_onnx(files.directory, target, trust_remote_code=config.trust_remote_code)
    except RerankError:
        raise
    except Exception as exc:  # transformers, torch and the exporter raise anything
        logger.debug("exporting %s failed", files.name, exc_info=True)
        raise ModelLoadError(
            f"{files.name}: cannot export it to ONNX ({summarize_exception(exc)})"
        ) from exc
    return target


def write_staged(target: Path, write: Callable[[Path], None]) -> None:
    """Have ``write`` fill a staging folder beside ``target``, then move the files into place.

    Weight files first, the graph last: a reader never sees a graph missing its data, and
    a failed write leaves nothing behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        staged = staging / target.name
        write(staged)
        for path in sorted(staging.iterdir()):
            if path != staged:
                os.replace(path, target.parent / path.name)
        os.replace(staged, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
