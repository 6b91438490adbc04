from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REFERENCE_MODEL
from openrerank.engine.model.resolve import resolve_model
from openrerank.errors import ModelNotFoundError


def test_resolve_local_directory_is_used_as_is(tiny_model_dir: Path) -> None:
    files = resolve_model(str(tiny_model_dir), weights=True)
    assert files.directory == tiny_model_dir.resolve()
    assert files.revision.startswith("local-") and files.has_weights
    assert resolve_model(str(tiny_model_dir), weights=True).revision == files.revision


def test_resolve_local_fingerprint_changes_when_weights_change(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"1")
    before = resolve_model(str(tmp_path), weights=True).revision
    weights.write_bytes(b"12")
    assert resolve_model(str(tmp_path), weights=True).revision != before


def test_resolve_hub_id_from_the_offline_cache(reference_model_dir: Path) -> None:
    files = resolve_model(REFERENCE_MODEL, weights=True)
    assert files.directory.resolve() == reference_model_dir.resolve()
    assert files.revision == reference_model_dir.name and files.onnx_path is None


def test_resolve_pinned_revision(reference_model_dir: Path) -> None:
    files = resolve_model(REFERENCE_MODEL, revision=reference_model_dir.name, weights=False)
    assert files.directory.resolve() == reference_model_dir.resolve()
    with pytest.raises(ModelNotFoundError):
        resolve_model(REFERENCE_MODEL, revision="0" * 40, weights=False)


def test_resolve_missing_model_offline_says_how_to_fix_it() -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model("nobody/no-such-model", weights=False)
    message = str(caught.value)
    assert "\n" not in message and "HF_HUB_CACHE" in message and "local model directory" in message


def test_resolve_rejects_a_name_that_is_neither_a_path_nor_an_id() -> None:
    with pytest.raises(ModelNotFoundError, match="neither an existing directory"):
        resolve_model("./no/such//dir", weights=False)


def test_resolve_a_file_says_it_is_not_a_model_directory(tiny_model_dir: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="is a file, not a model directory"):
        resolve_model(str(tiny_model_dir / "config.json"), weights=False)


@pytest.mark.parametrize("name", ["/no/such/model", "./no-such-model", "~/no-such-model-x"])
def test_resolve_a_missing_path_names_the_directory_it_looked_for(name: str) -> None:
    with pytest.raises(ModelNotFoundError, match="there is no directory /") as caught:
        resolve_model(name, weights=False)
    assert "\n" not in str(caught.value) and "HF_HUB_CACHE" not in str(caught.value)
