from __future__ import annotations

import logging
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from openrerank.engine.backends.onnx_file import check_onnx, reuse_cached
from openrerank.errors import ModelLoadError


def write_graph(path: Path) -> Path:
    """A one-node ONNX model (logits = input)."""
    node = helper.make_node("Identity", ["input_ids"], ["logits"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("input_ids", TensorProto.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 1])],
    )
    onnx.save_model(helper.make_model(graph), str(path))
    return path


def test_check_onnx_accepts_a_graph(tmp_path: Path) -> None:
    check_onnx(write_graph(tmp_path / "model.onnx"))


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"<html>Not Found</html>\n", r"not a valid ONNX model \(DecodeError"),
        (b"", r"not a valid ONNX model \(it holds no graph\)"),
    ],
)
def test_check_onnx_refuses_what_is_not_a_graph(tmp_path: Path, content: bytes, cause: str) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=cause) as caught:
        check_onnx(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_check_onnx_refuses_a_truncated_graph(tmp_path: Path) -> None:
    path = write_graph(tmp_path / "model.onnx")
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ModelLoadError, match="not a valid ONNX model"):
        check_onnx(path)


def test_reuse_cached_keeps_a_valid_file_and_reports_a_missing_one(tmp_path: Path) -> None:
    assert reuse_cached(write_graph(tmp_path / "model.onnx"))
    assert not reuse_cached(tmp_path / "absent.onnx")


def test_reuse_cached_removes_a_corrupt_file_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "model.export-v2.onnx"
    path.write_bytes(b"half a graph")
    with caplog.at_level(logging.WARNING, logger="openrerank.engine.backends.onnx_file"):
        assert not reuse_cached(path)
    assert not path.exists()
    (record,) = caplog.records
    assert "building it again" in record.getMessage() and str(path) in record.getMessage()
