from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from openrerank.engine.model.weights import check_safetensors, check_torch_checkpoint, check_weights
from openrerank.errors import ModelLoadError


def write_raw(path: Path, header: Any, data: bytes) -> Path:
    """A safetensors-shaped file: length, JSON header, data (whatever they say)."""
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path


def saved(tmp_path: Path) -> Path:
    """A real safetensors file written by the safetensors library."""
    path = tmp_path / "model.safetensors"
    tensors: dict[str, np.ndarray[Any, Any]] = {
        "weight": np.arange(400, dtype=np.float32).reshape(20, 20),
        "bias": np.ones(20),
    }
    save_file(tensors, str(path), metadata={"format": "np"})
    return path


def test_a_complete_file_passes(tmp_path: Path) -> None:
    check_safetensors(saved(tmp_path))
    check_weights(tmp_path)


def test_a_hand_built_file_passes_only_when_the_library_reads_it(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    path = write_raw(tmp_path / "a.safetensors", header, np.ones(2, np.float32).tobytes())
    check_safetensors(path)
    assert load_file(str(path))["w"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_a_truncated_file_is_named_with_its_sizes(tmp_path: Path, keep: float) -> None:
    path = saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelLoadError, match="truncated") as caught:
        check_weights(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and f"the header describes {len(data):,}" in message
    with pytest.raises(Exception, match=r"incomplete metadata|not fully covered"):
        load_file(str(path))  # the library refuses the same file


def test_trailing_bytes_are_refused_too(tmp_path: Path) -> None:
    path = saved(tmp_path)
    path.write_bytes(path.read_bytes() + b"\0" * 16)
    with pytest.raises(ModelLoadError, match="longer than its header says"):
        check_safetensors(path)


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"", r"truncated \(0 bytes\), not a safetensors file"),
        (b"\x01\x02", r"truncated \(2 bytes\)"),
        (b"<html>404 Not Found</html>", "not a safetensors file, or truncated"),
        (struct.pack("<Q", 5) + b"{nope", "corrupt safetensors header"),
        (struct.pack("<Q", 2) + b"[]", r"corrupt safetensors header \(not an object\)"),
    ],
)
def test_files_that_are_not_safetensors(tmp_path: Path, content: bytes, cause: str) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=cause):
        check_safetensors(path)


def test_a_tensor_without_offsets_is_a_corrupt_header(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "x.safetensors", {"w": {"dtype": "F32", "shape": [1]}}, b"")
    with pytest.raises(ModelLoadError, match="tensor 'w' has no valid data_offsets"):
        check_safetensors(path)


def test_torch_checkpoints_in_either_format_pass(tmp_path: Path) -> None:
    import torch

    tensors = {"w": torch.ones(3)}
    torch.save(tensors, tmp_path / "pytorch_model.bin")
    torch.save(tensors, tmp_path / "pytorch_model-legacy.bin", _use_new_zipfile_serialization=False)
    check_weights(tmp_path)
    for path in tmp_path.glob("*.bin"):
        check_torch_checkpoint(path)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_torch_checkpoint_is_named(tmp_path: Path, damage: str) -> None:
    import torch

    path = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.ones(300)}, path)
    data = path.read_bytes()
    path.write_bytes(b"<html>403</html>" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="not a PyTorch checkpoint, or truncated") as caught:
        check_weights(tmp_path)
    assert str(caught.value).startswith(f"{path}: ")


def test_a_checkpoint_beside_safetensors_is_not_loaded_so_not_checked(tmp_path: Path) -> None:
    saved(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"stale and broken")
    check_weights(tmp_path)
