"""Checking a model's weight files before a backend loads them.

A safetensors file is an 8-byte little-endian header length, a JSON header that maps
each tensor to its byte range, then the tensor bytes, which the ranges must cover
exactly. Reading only the header and the file size catches the usual damage (an
interrupted download or copy, a file that is not safetensors at all) with one clear
message, before PyTorch or transformers are even imported. Legacy ``.bin`` checkpoints
get a coarser check of their format.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

from openrerank.errors import ModelLoadError

_LENGTH_BYTES = 8
_MAX_HEADER_BYTES = 100_000_000
"""The safetensors format's own cap on the header size."""
_PICKLE_START = b"\x80"
"""Pickle protocol 2 and later open with the PROTO opcode."""
_ADVICE = "the file is corrupt or incomplete: download or save the model again"


def check_weights(directory: Path) -> None:
    """Check the weight files transformers would load from a model folder.

    Every ``*.safetensors`` file; without any, every ``pytorch_model*.bin`` checkpoint,
    which is only checked to be a zip archive (``torch.save``) or a pickle (its legacy
    format): a pickle cannot be checked without running it.

    Raises:
        ModelLoadError: a file is unreadable, truncated, padded or of another format;
            the message starts with its path.
    """
    safetensors = sorted(directory.glob("*.safetensors"))
    for path in safetensors:
        check_safetensors(path)
    if not safetensors:
        for path in sorted(directory.glob("pytorch_model*.bin")):
            check_torch_checkpoint(path)


def check_torch_checkpoint(path: Path) -> None:
    """Check that ``path`` is a complete zip archive, or starts like a pickle.

    Raises:
        ModelLoadError: see :func:`check_weights`.
    """
    try:
        if zipfile.is_zipfile(path):
            return
        with path.open("rb") as handle:
            start = handle.read(1)
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    if start != _PICKLE_START:
        raise ModelLoadError(
            f"{path}: not a PyTorch checkpoint, or truncated (neither a complete zip "
            f"archive nor a pickle); {_ADVICE}"
        )


def check_safetensors(path: Path) -> None:
    """Check that ``path`` is a complete safetensors file (header and size only).

    Raises:
        ModelLoadError: see :func:`check_weights`.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            length = _header_length(path, handle.read(_LENGTH_BYTES), size)
            tensors = _parse_header(path, handle.read(length))
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    expected = _LENGTH_BYTES + length + _data_bytes(path, tensors)
    if size != expected:
        change = "truncated" if size < expected else "longer than its header says"
        raise ModelLoadError(
            f"{path}: {change} ({size:,} bytes, the header describes {expected:,}); {_ADVICE}"
        )


def _header_length(path: Path, length_bytes: bytes, size: int) -> int:
    if len(length_bytes) < _LENGTH_BYTES:
        raise ModelLoadError(f"{path}: truncated ({size} bytes), not a safetensors file")
    (length,) = struct.unpack("<Q", length_bytes)
    if length > min(_MAX_HEADER_BYTES, size - _LENGTH_BYTES):
        raise ModelLoadError(
            f"{path}: not a safetensors file, or truncated (a header of {length:,} bytes "
            f"in a file of {size:,}); {_ADVICE}"
        )
    return int(length)


def _parse_header(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        tensors = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path}: corrupt safetensors header ({exc}); {_ADVICE}") from exc
    if not isinstance(tensors, dict):
        raise ModelLoadError(f"{path}: corrupt safetensors header (not an object); {_ADVICE}")
    return tensors


def _data_bytes(path: Path, tensors: dict[str, Any]) -> int:
    """The end of the last tensor's byte range, as the header declares it."""
    end = 0
    for name, tensor in tensors.items():
        if name == "__metadata__":
            continue
        offsets = tensor.get("data_offsets") if isinstance(tensor, dict) else None
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            raise ModelLoadError(
                f"{path}: corrupt safetensors header (tensor {name!r} has no valid "
                f"data_offsets); {_ADVICE}"
            )
        end = max(end, offsets[1])
    return end
