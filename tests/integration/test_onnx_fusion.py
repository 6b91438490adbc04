"""ONNX Runtime's transformer fusions: applied where they fit, harmless where they do not."""

from __future__ import annotations

import logging
import shutil
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from transformers import AutoModelForSequenceClassification

from openrerank import EngineConfig, ModelConfig, Reranker
from openrerank.engine.backends.optimize import FUSION_RECIPE
from openrerank.types import Precision
from tiny_models import transformers_logits

QUERY = "does a cross encoder read the query"
DOCUMENTS = [
    "A cross-encoder reads the query and the document together and returns a score.",
    "Vitamin D deficiency is associated with a higher risk of bone fractures. " * 4,
    "The quick brown fox jumps over the lazy dog.",
]
MAX_LENGTH = 48
FUSED_OPS = ("Attention", "SkipLayerNormalization", "BiasGelu")


def reference_logits(folder: Path) -> np.ndarray:
    """transformers' one-logit scores for the test pairs, padded as one batch."""
    return transformers_logits(folder, QUERY, DOCUMENTS, max_length=MAX_LENGTH)[:, 0]


def open_model(folder: Path, cache: Path, precision: Precision = "fp32") -> Reranker:
    model = ModelConfig(
        name=str(folder),
        backend="onnx",
        precision=precision,
        max_length=MAX_LENGTH,
        cache_dir=cache,
    )
    return Reranker.from_config(EngineConfig(model=model))


def op_counts(path: Path) -> Counter[str]:
    return Counter(node.op_type for node in onnx.load(path, load_external_data=False).graph.node)


@pytest.mark.parametrize("arch", ["bert", "xlm-roberta", "electra"])
def test_bert_family_graphs_are_fused(
    arch: str, tiny_model_factory: Callable[..., Path], tmp_path: Path
) -> None:
    with open_model(tiny_model_factory(arch), tmp_path) as reranker:
        path = Path(reranker.info.model_file or "")
    assert path.name.endswith(f".{FUSION_RECIPE}.onnx")
    counts = op_counts(path)
    assert all(counts[op] > 0 for op in FUSED_OPS), counts
    assert counts["Softmax"] == 0, "attention left unfused"


def test_int8_is_derived_from_the_fused_graph(tiny_model_dir: Path, tmp_path: Path) -> None:
    with open_model(tiny_model_dir, tmp_path, precision="int8") as reranker:
        path = Path(reranker.info.model_file or "")
        assert len(reranker.score(QUERY, DOCUMENTS)) == len(DOCUMENTS)
    assert path.stem.startswith(f"model.export-v2.{FUSION_RECIPE}.int8")
    assert op_counts(path)["MatMulInteger"] > 0


def test_architectures_unknown_to_the_optimizer_run_unfused(
    tiny_model_factory: Callable[..., Path], tmp_path: Path
) -> None:
    with open_model(tiny_model_factory("modernbert"), tmp_path) as reranker:
        path = Path(reranker.info.model_file or "")
    assert FUSION_RECIPE not in path.name


def test_a_failing_optimizer_falls_back_to_the_unfused_graph(
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no fusion today")

    monkeypatch.setattr("onnxruntime.transformers.optimizer.optimize_model", broken)
    with caplog.at_level(logging.WARNING), open_model(tiny_model_dir, tmp_path) as reranker:
        path = Path(reranker.info.model_file or "")
        raw = reranker.score(QUERY, DOCUMENTS, raw=True, max_chunks_per_doc=1)
    assert "could not fuse" in caplog.text
    assert FUSION_RECIPE not in path.name
    assert not list(tmp_path.rglob(f"*{FUSION_RECIPE}*")), "no partial file left behind"
    assert np.abs(raw - reference_logits(tiny_model_dir)).max() <= 1e-4


def test_a_graph_the_optimizer_cannot_fuse_still_scores(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A shipped graph traced with SDPA attention: the optimizer finds no attention to fuse."""
    shipped = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, shipped)
    (shipped / "onnx").mkdir()
    export_sdpa(tiny_model_dir, shipped / "onnx" / "model.onnx")
    with open_model(shipped, tmp_path / "cache") as reranker:
        path = Path(reranker.info.model_file or "")
        raw = reranker.score(QUERY, DOCUMENTS, raw=True, max_chunks_per_doc=1)
    assert path.name == f"model.{FUSION_RECIPE}.onnx"
    assert op_counts(path)["Attention"] == 0
    assert np.abs(raw - reference_logits(tiny_model_dir)).max() <= 1e-4


def export_sdpa(folder: Path, out: Path) -> None:
    model = AutoModelForSequenceClassification.from_pretrained(
        folder, attn_implementation="sdpa"
    ).eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = tuple(torch.ones((2, 16), dtype=torch.int64) for _ in names)
    example[1][1, 8:] = 0

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            outputs = self.model(**dict(zip(names, inputs, strict=True)))
            return outputs.logits  # type: ignore[no-any-return]

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings about its own internals
        torch.onnx.export(
            Logits(),
            example,
            out,
            input_names=names,
            output_names=["logits"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in names},
            opset_version=18,
            dynamo=False,
        )
