"""The FLOPs count matches the model's real weights, and the peak is a real measurement."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from openrerank.bench.flops import encoder_shape, matmul_peak_gflops


def test_projection_flops_are_two_per_encoder_weight_per_token(reference_model_dir: Path) -> None:
    model = AutoModelForSequenceClassification.from_pretrained(reference_model_dir)
    encoder_weights = sum(
        module.weight.numel()
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and ".encoder." in f".{name}."
    )
    shape = encoder_shape(reference_model_dir)
    tokens = 200
    attention = 2 * 2 * shape.layers * tokens * tokens * shape.hidden  # QK^T and AV
    assert shape.pair_flops(tokens) == pytest.approx(2 * encoder_weights * tokens + attention)


def test_the_matmul_peak_is_a_positive_rate() -> None:
    peak = matmul_peak_gflops(size=256, repeats=2)
    assert 0.1 < peak < 1e6
