"""Finding a model's files on disk: a local directory or the Hugging Face cache.

Hub access goes through ``huggingface_hub``, so ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``
and a pinned revision behave as in every other Hugging Face tool.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants, snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from openrerank.errors import ModelLoadError, ModelNotFoundError

_METADATA = ["*.json", "*.txt", "*.model", "tokenizer*"]
_ONNX = ["onnx/model.onnx", "onnx/model.onnx_data", "onnx/model.onnx.data"]
_SAFETENSORS = ["*.safetensors", "*.safetensors.index.json"]
_PYTORCH_BIN = ["pytorch_model.bin", "pytorch_model*.bin", "pytorch_model.bin.index.json"]


@dataclass(frozen=True)
class ModelFiles:
    """A model's files on local disk.

    Attributes:
        name: the model as the user named it (hub id or path).
        directory: the folder holding config.json and the tokenizer.
        revision: the hub commit of the snapshot, or a fingerprint of a local folder.
    """

    name: str
    directory: Path
    revision: str

    @property
    def onnx_path(self) -> Path | None:
        """The repository's own ``onnx/model.onnx`` (or ``model.onnx``), if shipped."""
        for candidate in (self.directory / "onnx" / "model.onnx", self.directory / "model.onnx"):
            if candidate.is_file():
                return candidate
        return None

    @property
    def cache_key(self) -> str:
        """A relative folder name unique to this model and revision, for derived files."""
        if self.revision.startswith("local-"):
            return f"local--{self.directory.name}/{self.revision}"
        return f"{self.name.strip('/').replace('/', '--')}/{self.revision}"

    @property
    def has_weights(self) -> bool:
        """Whether PyTorch weights (safetensors or .bin) are present."""
        return any(self.directory.glob("*.safetensors")) or any(
            self.directory.glob("pytorch_model*.bin")
        )


def resolve_model(name: str, *, revision: str | None = None, weights: bool) -> ModelFiles:
    """Locate (and, when the hub is reachable, fetch) a model's files.

    Args:
        name: a local directory or a Hugging Face model id.
        revision: a hub branch, tag or commit; ignored for local directories.
        weights: fetch the PyTorch weights too, not only metadata and ``onnx/model.onnx``.

    Raises:
        ModelLoadError: a local directory this process may not read.
        ModelNotFoundError: neither a directory nor a model the cache or hub holds; a
            name that can only be a path (``/``, ``.`` or ``~`` first, or an existing
            file) is never looked up on the hub.
    """
    local = Path(name).expanduser()
    if _is_dir(local):
        directory = local.resolve()
        _check_listable(directory)
        return ModelFiles(name, directory, _fingerprint(directory))
    _refuse_missing_path(name, local)
    directory = _download(name, revision, _METADATA + _ONNX)
    if weights and not ModelFiles(name, directory, directory.name).has_weights:
        directory = _download(name, revision, _SAFETENSORS)
        if not any(directory.glob("*.safetensors")):
            directory = _download(name, revision, _PYTORCH_BIN)
    return ModelFiles(name, directory, directory.name)


def _is_dir(path: Path) -> bool:
    """``path.is_dir()``, false for a name the OS refuses (too long, unreadable parent)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _check_listable(directory: Path) -> None:
    """Refuse a model directory this process may not read, naming it."""
    try:
        with os.scandir(directory):
            pass
    except OSError as exc:
        raise ModelLoadError(
            f"{directory}: cannot read the model directory ({exc.strerror or exc})"
        ) from exc


def _refuse_missing_path(name: str, local: Path) -> None:
    """A name that can only be a path (a file, or ``/``, ``.``, ``~`` first) is no hub id."""
    try:
        exists = local.exists()
    except OSError:  # a name too long for a path: leave it to the hub id check
        exists = False
    if exists:
        raise ModelNotFoundError(
            f"model {name!r} is a file, not a model directory: pass the folder that holds "
            "config.json"
        )
    if name.startswith((".", "~")) or local.is_absolute():
        raise ModelNotFoundError(
            f"model {name!r} is neither an existing directory nor a valid Hugging Face "
            f"model id: there is no directory {local.absolute()}"
        )


def _download(name: str, revision: str | None, patterns: list[str]) -> Path:
    try:
        return Path(snapshot_download(name, revision=revision, allow_patterns=patterns))
    except LocalEntryNotFoundError:
        raise ModelNotFoundError(
            f"model {name!r} is not a local directory and not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}), and the hub is unreachable or HF_HUB_OFFLINE is set: "
            "pass a local model directory, or set HF_HUB_CACHE to a cache that holds it"
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError, GatedRepoError) as exc:
        raise ModelNotFoundError(
            f"model {name!r} (revision {revision or 'main'}) cannot be fetched from the hub: "
            f"{type(exc).__name__}"
        ) from None
    except HFValidationError:
        raise ModelNotFoundError(
            f"model {name!r} is neither an existing directory nor a valid Hugging Face model id"
        ) from None


def _fingerprint(directory: Path) -> str:
    """A stable key for a local folder: its path plus its weight files' sizes and times."""
    digest = hashlib.sha256(str(directory).encode())
    for path in sorted(directory.rglob("*")):
        if path.suffix in {".safetensors", ".bin", ".onnx", ".json"} and path.is_file():
            stat = path.stat()
            digest.update(
                f"{path.relative_to(directory)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
            )
    return "local-" + digest.hexdigest()[:16]
