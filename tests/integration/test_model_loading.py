"""Loading rules: shipped ONNX files, remote code, precisions beyond fp32."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from openrerank import EngineConfig, ModelConfig, Reranker, RerankError, UnsupportedModelError
from openrerank.engine.backends.optimize import FUSION_RECIPE
from openrerank.errors import BackendUnavailableError, ModelLoadError

QUERY = "cross encoder"
DOCUMENTS = ["a cross encoder reads pairs", "the quick brown fox", "vitamin d and bones"]
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def open_model(folder: Path, cache: Path, **options: object) -> Reranker:
    model = ModelConfig(name=str(folder), cache_dir=cache, **options)  # type: ignore[arg-type]
    return Reranker.from_config(EngineConfig(model=model))


def test_loading_prefers_the_repositorys_own_onnx_file(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    with open_model(tiny_model_dir, tmp_path / "cache") as reranker:
        fused = Path(reranker.info.model_file or "")
        expected = reranker.score(QUERY, DOCUMENTS)
    exported = fused.with_name(fused.name.replace(f".{FUSION_RECIPE}", ""))
    shipped = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, shipped)
    (shipped / "onnx").mkdir()
    shutil.copy(exported, shipped / "onnx" / "model.onnx")
    for weights in shipped.glob("*.safetensors"):
        weights.unlink()  # without weights, only the shipped file can serve
    with open_model(shipped, tmp_path / "other-cache") as reranker:
        # the shipped graph is fused into the cache, not exported again
        assert Path(reranker.info.model_file or "").name == f"model.{FUSION_RECIPE}.onnx"
        np.testing.assert_array_equal(reranker.score(QUERY, DOCUMENTS), expected)
    cached = [path.name for path in (tmp_path / "other-cache").rglob("*.onnx")]
    assert cached == [f"model.{FUSION_RECIPE}.onnx"]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_loading_refuses_remote_code_unless_trusted(
    backend: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    custom = tmp_path / "custom"
    shutil.copytree(tiny_model_dir, custom)
    config = json.loads((custom / "config.json").read_text())
    config["architectures"] = ["SecretForSequenceClassification"]
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling.SecretModel"}
    (custom / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedModelError, match="trust_remote_code"):
        open_model(custom, tmp_path / "cache", backend=backend)


def transformers_logits(folder: Path, dtype: torch.dtype) -> np.ndarray:
    """The reference: transformers on the same weights in ``dtype``, one pair per forward
    pass (as the library scores a one-document call), logits as float32."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=dtype).eval()
    logits = []
    with torch.inference_mode():
        for document in DOCUMENTS:
            inputs = tokenizer(QUERY, document, truncation=True, return_tensors="pt")
            logits.append(model(**inputs).logits.float().numpy()[0])
    return np.asarray(logits, dtype=np.float32)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_loading_torch_half_precisions_equal_transformers_in_that_dtype(
    precision: str, tiny_model_factory: Callable[..., Path], tmp_path: Path
) -> None:
    # How far a half precision lands from fp32 depends on the weights and on the CPU's
    # kernels (native bf16 or emulated); what the library must do is run transformers'
    # own half-precision model, so the oracle is transformers in the same dtype.
    folder = tiny_model_factory("bert")
    with open_model(folder, tmp_path, backend="torch", precision=precision) as reranker:
        assert reranker.info.precision == precision
        half = [reranker.score(QUERY, [document], raw=True) for document in DOCUMENTS]
    assert all(scores.dtype == np.float32 for scores in half)
    expected = transformers_logits(folder, DTYPES[precision])
    np.testing.assert_allclose(np.stack(half), expected, rtol=0, atol=1e-6)


def test_openvino_bf16_tracks_fp32_where_the_cpu_runs_bf16(
    tiny_model_factory: Callable[..., Path], tmp_path: Path
) -> None:
    import openvino as ov

    folder = tiny_model_factory("bert")
    with open_model(folder, tmp_path, backend="openvino") as reranker:
        fp32 = reranker.score(QUERY, DOCUMENTS, raw=True)
    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        with pytest.raises(UnsupportedModelError, match="no native bf16"):
            open_model(folder, tmp_path, backend="openvino", precision="bf16")
        return
    with open_model(folder, tmp_path, backend="openvino", precision="bf16") as reranker:
        assert (reranker.info.backend, reranker.info.precision) == ("openvino", "bf16")
        half = reranker.score(QUERY, DOCUMENTS, raw=True)
    assert half.dtype == np.float32
    assert 0 < np.abs(half - fp32).max() < 0.1  # bf16 really ran, and stayed close


def test_openvino_runs_only_on_the_cpu(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = ModelConfig(
        name=str(tiny_model_dir), backend="openvino", device="cuda", cache_dir=tmp_path
    )
    with pytest.raises(BackendUnavailableError, match="CPU"):
        Reranker.from_config(EngineConfig(model=config))


def damaged_copy(tiny_model_dir: Path, tmp_path: Path, damage: Callable[[Path], Path]) -> Path:
    """A copy of the tiny model with one file damaged; returns that file's path."""
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    return damage(folder)


def truncate_weights(folder: Path) -> Path:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    return weights


def garbage_bin_weights(folder: Path) -> Path:
    (folder / "model.safetensors").unlink()
    weights = folder / "pytorch_model.bin"
    weights.write_bytes(b"not a pickle, not a zip")
    return weights


def garbage_shipped_onnx(folder: Path) -> Path:
    shipped = folder / "onnx" / "model.onnx"
    shipped.parent.mkdir()
    shipped.write_bytes(b"\x08\x07garbage")
    return shipped


def unknown_model_type(folder: Path) -> Path:
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="foo", architectures=["FooForSequenceClassification"])
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def garbage_tokenizer(folder: Path) -> Path:
    (folder / "tokenizer.json").write_text('{"model": ')
    return folder / "tokenizer.json"


@pytest.mark.parametrize(
    ("damage", "backend", "cause"),
    [
        (truncate_weights, "torch", "truncated"),
        (truncate_weights, "onnx", "truncated"),
        (garbage_bin_weights, "torch", "not a PyTorch checkpoint"),
        (garbage_shipped_onnx, "onnx", "not a valid ONNX model"),
        (garbage_shipped_onnx, "openvino", "not a valid ONNX model"),
        (unknown_model_type, "torch", "transformers cannot load it (ValueError"),
        (unknown_model_type, "onnx", "cannot export it to ONNX (ValueError"),
        (garbage_tokenizer, "onnx", "not a valid tokenizer.json"),
    ],
)
def test_loading_damaged_files_raises_a_one_line_model_load_error(
    tiny_model_dir: Path,
    tmp_path: Path,
    damage: Callable[[Path], Path],
    backend: str,
    cause: str,
) -> None:
    damaged = damaged_copy(tiny_model_dir, tmp_path, damage)
    with pytest.raises(ModelLoadError) as caught:
        open_model(tmp_path / "model", tmp_path / "cache", backend=backend)
    message = str(caught.value)
    assert message.startswith(f"{damaged}") and cause in message, message
    assert "\n" not in message


def test_a_corrupt_cached_onnx_file_is_rebuilt_with_a_warning(
    tiny_model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    with open_model(folder, tmp_path / "cache") as reranker:
        fused = Path(reranker.info.model_file or "")
        expected = reranker.score(QUERY, DOCUMENTS)
    exported = fused.with_name(fused.name.replace(f".{FUSION_RECIPE}", ""))
    exported.write_bytes(exported.read_bytes()[: exported.stat().st_size // 3])
    fused.write_bytes(b"")
    with caplog.at_level(logging.WARNING), open_model(folder, tmp_path / "cache") as reranker:
        assert reranker.info.model_file == str(fused)
        np.testing.assert_allclose(reranker.score(QUERY, DOCUMENTS), expected, atol=1e-6)
    warned = [r.getMessage() for r in caplog.records if "building it again" in r.getMessage()]
    assert len(warned) == 2
    assert str(exported) in warned[0] and str(fused) in warned[1]


def test_the_reranker_constructor_raises_the_same_one_line_error(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    (folder / "config.json").write_text("{")
    with pytest.raises(ModelLoadError) as caught:
        Reranker(str(folder))
    assert str(caught.value).startswith(f"{folder / 'config.json'}: not valid JSON (")
    assert isinstance(caught.value, RerankError) and "\n" not in str(caught.value)
