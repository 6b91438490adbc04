"""``openrerank serve`` with a model it cannot load: exit 1, one ERROR line, no port.

Each case names a model that is absent, or damages a copy of the tiny model, and runs the
real console entry point in a subprocess. The port it is given is held open by the test
(listening), so a server that tried to bind before its models loaded would log a second
ERROR line ("address already in use"); the control case shows that it would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REFERENCE_MODEL, SHARED_DIR
from e2e.server_process import ENTRY_POINT, server_env

TIMEOUT_S = 90.0
"""A hung start fails the case; a healthy failing start takes a few seconds."""
_ERROR_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ERROR (\S+) \[[^\]]*\] (.*)$")
_LOG_LEVEL_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (ERROR|CRITICAL) ")


@dataclass(frozen=True)
class Start:
    """One ``serve`` run: its exit code, its whole output and the port it was given."""

    returncode: int
    output: str
    port: int

    @property
    def error_lines(self) -> list[str]:
        """The log lines at ERROR level or above."""
        return [line for line in self.output.splitlines() if _LOG_LEVEL_LINE.match(line)]


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port on 127.0.0.1 that a listening socket of the test holds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def serve(tmp_path: Path, held_port: int) -> Callable[..., Start]:
    """``serve(*args, hf_cache=None, prefix=())``: run ``openrerank serve`` on the held port.

    The Hugging Face cache is an empty folder unless ``hf_cache`` names one; the ONNX
    cache is in ``tmp_path``; the hub is off. ``prefix`` goes before the interpreter.
    """
    empty_cache = tmp_path / "empty-hf-cache"
    empty_cache.mkdir()

    def run(*args: str, hf_cache: Path | None = None, prefix: Sequence[str] = ()) -> Start:
        env = server_env(
            hf_cache=str(hf_cache or empty_cache), openrerank_cache=tmp_path / "onnx-cache"
        )
        command = [*prefix, sys.executable, "-c", ENTRY_POINT, "serve"]
        command += ["--host", "127.0.0.1", "--port", str(held_port), *args]
        completed = subprocess.run(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        return Start(completed.returncode, completed.stdout, held_port)

    return run


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model, free to damage."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def assert_fails_in_one_line(start: Start, *fragments: str) -> str:
    """Exit 1, no traceback, no bind, exactly one ERROR line holding every fragment."""
    output = start.output
    assert start.returncode == 1, output
    assert "Traceback" not in output, output
    assert "Uvicorn running" not in output and "Application startup complete" not in output
    assert len(start.error_lines) == 1, output
    match = _ERROR_LINE.match(start.error_lines[0])
    assert match is not None, start.error_lines[0]
    message = match.group(2)
    assert message.startswith("cannot start: "), message
    assert "unexpected" not in message, f"an unforeseen exception reached the server: {message}"
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def edit_config(folder: Path, **changes: object) -> None:
    """Rewrite ``config.json`` with keys changed (a value of ``None`` removes the key)."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(json.dumps(config))


def truncate(path: Path) -> None:
    """Keep the first half of a file, as an interrupted download or copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_control_a_loadable_model_reaches_the_port_and_fails_to_bind(
    serve: Callable[..., Start], tiny_model_dir: Path
) -> None:
    start = serve("--model", str(tiny_model_dir), "--backend", "fake")
    assert start.returncode != 0, start.output
    assert len(start.error_lines) == 1, start.output
    assert "address already in use" in start.error_lines[0]
    assert f"'127.0.0.1', {start.port}" in start.error_lines[0]


def test_a_directory_that_does_not_exist(serve: Callable[..., Start], tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    assert_fails_in_one_line(
        serve("--model", str(missing)), str(missing), "no directory", "nor a valid Hugging Face"
    )


def test_a_hub_id_absent_from_the_offline_cache(serve: Callable[..., Start]) -> None:
    assert_fails_in_one_line(
        serve("--model", REFERENCE_MODEL),
        repr(REFERENCE_MODEL),
        "not in the Hugging Face cache",
        "HF_HUB_OFFLINE",
    )


def test_a_hub_id_not_in_the_shared_cache(serve: Callable[..., Start]) -> None:
    hf_cache = SHARED_DIR / "hf-cache"
    if not hf_cache.is_dir():
        pytest.skip(f"{hf_cache} is absent")
    assert_fails_in_one_line(
        serve("--model", "cross-encoder/ms-marco-MiniLM-L-6-v2", hf_cache=hf_cache),
        "'cross-encoder/ms-marco-MiniLM-L-6-v2'",
        str(hf_cache),
    )


def test_a_directory_without_config_json(serve: Callable[..., Start], model_copy: Path) -> None:
    (model_copy / "config.json").unlink()
    assert_fails_in_one_line(
        serve("--model", str(model_copy)), str(model_copy), "has no config.json"
    )


def test_config_json_that_is_not_json(serve: Callable[..., Start], model_copy: Path) -> None:
    (model_copy / "config.json").write_text('{"architectures": ["BertForSequence')
    assert_fails_in_one_line(
        serve("--model", str(model_copy)),
        str(model_copy / "config.json"),
        "not valid JSON",
        "download or save the model again",
    )


def test_config_json_of_an_unsupported_architecture(
    serve: Callable[..., Start], model_copy: Path
) -> None:
    edit_config(model_copy, architectures=["BertForMaskedLM"])
    assert_fails_in_one_line(
        serve("--model", str(model_copy)),
        str(model_copy / "config.json"),
        "'BertForMaskedLM' is not a sequence-classification cross-encoder",
    )


def test_config_json_without_architectures_or_model_type(
    serve: Callable[..., Start], model_copy: Path
) -> None:
    edit_config(model_copy, architectures=None, model_type=None)
    assert_fails_in_one_line(
        serve("--model", str(model_copy)),
        str(model_copy / "config.json"),
        "names no architecture",
    )


def test_config_json_with_a_model_type_transformers_does_not_know(
    serve: Callable[..., Start], model_copy: Path
) -> None:
    edit_config(model_copy, architectures=["FooForSequenceClassification"], model_type="foo")
    assert_fails_in_one_line(
        serve("--model", str(model_copy)),
        str(model_copy),
        "cannot export it to ONNX",
        "model type `foo`",
    )


def test_config_json_with_a_field_of_the_wrong_type(
    serve: Callable[..., Start], model_copy: Path
) -> None:
    edit_config(model_copy, max_position_embeddings="lots")
    assert_fails_in_one_line(
        serve("--model", str(model_copy)),
        str(model_copy / "config.json"),
        "max_position_embeddings must be an integer",
    )


def test_a_garbage_tokenizer_json(serve: Callable[..., Start], model_copy: Path) -> None:
    (model_copy / "tokenizer.json").write_bytes(b"\x00\x01 this is not a tokenizer")
    assert_fails_in_one_line(
        serve("--model", str(model_copy)),
        str(model_copy / "tokenizer.json"),
        "not a valid tokenizer.json",
    )


def test_truncated_safetensors_weights(serve: Callable[..., Start], model_copy: Path) -> None:
    # No ONNX file is shipped, so the weights are exported (the torch backend's check is
    # the same function; tests/integration/test_model_loading.py runs it in-process).
    weights = model_copy / "model.safetensors"
    truncate(weights)
    assert_fails_in_one_line(
        serve("--model", str(model_copy), "--backend", "onnx"),
        str(weights),
        "truncated",
        "download or save the model again",
    )


def test_a_garbage_shipped_onnx_file(serve: Callable[..., Start], model_copy: Path) -> None:
    shipped = model_copy / "onnx" / "model.onnx"
    shipped.parent.mkdir()
    shipped.write_bytes(b"this is not an onnx graph\n")
    assert_fails_in_one_line(
        serve("--model", str(model_copy), "--backend", "onnx"),
        str(shipped),
        "not a valid ONNX model",
        "download the model again",
    )


def test_a_corrupt_calibration_file(
    serve: Callable[..., Start], tiny_model_dir: Path, tmp_path: Path
) -> None:
    calibration = tmp_path / "calibration.json"
    calibration.write_text('{"format": "openrerank-calibration/1", "method": "pla')
    args = ("--model", str(tiny_model_dir), "--backend", "fake", "--calibration", str(calibration))
    assert_fails_in_one_line(serve(*args), str(calibration), "calibration file is not JSON")


def test_a_calibration_file_of_the_wrong_shape(
    serve: Callable[..., Start], tiny_model_dir: Path, tmp_path: Path
) -> None:
    calibration = tmp_path / "calibration.json"
    calibration.write_text(json.dumps({"format": "openrerank-calibration/1", "method": "platt"}))
    args = ("--model", str(tiny_model_dir), "--backend", "fake", "--calibration", str(calibration))
    assert_fails_in_one_line(
        serve(*args), str(calibration), "calibration file rejected: missing object 'platt'"
    )


@pytest.mark.parametrize(
    ("name", "backend"),
    [
        ("", "fake"),
        ("config.json", "fake"),
        ("tokenizer.json", "fake"),
        ("model.safetensors", "onnx"),
    ],
    ids=["the-directory", "config.json", "tokenizer.json", "model.safetensors"],
)
def test_an_unreadable_model_file(
    serve: Callable[..., Start], model_copy: Path, name: str, backend: str
) -> None:
    prefix = unprivileged_prefix()
    path = model_copy / name if name else model_copy
    path.chmod(0)
    try:
        message = assert_fails_in_one_line(
            serve("--model", str(model_copy), "--backend", backend, prefix=prefix), str(path)
        )
    finally:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert "ermission denied" in message


def unprivileged_prefix() -> list[str]:
    """A command prefix under which a mode-000 file cannot be read, even by root.

    Root keeps its uid but loses the capabilities that bypass file permissions; the test
    is skipped where that cannot be done.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    prefix = [setpriv or "setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, check=False) if setpriv else None
    if probe is None or probe.returncode != 0:
        pytest.skip("running as root, and cannot drop the capability to read mode-000 files")
    return prefix
