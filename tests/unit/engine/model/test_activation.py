from __future__ import annotations

import math

import numpy as np
import pytest

from openrerank.engine.model.activation import raw_logit, relevance


def test_activation_sigmoid_matches_the_logistic_formula() -> None:
    logits = np.array([[-3.0], [0.0], [0.3959], [12.5]], dtype=np.float32)
    expected = [1.0 / (1.0 + math.exp(-float(x))) for x in logits[:, 0]]
    np.testing.assert_allclose(relevance(logits, "sigmoid", 0), expected, rtol=1e-6)


def test_activation_sigmoid_is_stable_at_extreme_logits() -> None:
    logits = np.array([[-1000.0], [1000.0]], dtype=np.float32)
    scores = relevance(logits, "sigmoid", 0)
    assert np.isfinite(scores).all()
    assert scores[0] == pytest.approx(0.0) and scores[1] == pytest.approx(1.0)


@pytest.mark.parametrize("positive", [0, 1])
def test_activation_softmax_takes_the_positive_class(positive: int) -> None:
    logits = np.array([[1.0, 3.0], [2.0, -1.0], [500.0, 499.0]], dtype=np.float32)
    expected = [
        math.exp(row[positive] - max(row)) / sum(math.exp(v - max(row)) for v in row)
        for row in logits.astype(float)
    ]
    np.testing.assert_allclose(relevance(logits, "softmax", positive), expected, rtol=1e-6)


def test_activation_raw_of_two_logits_is_the_log_odds_behind_softmax() -> None:
    logits = np.array([[0.2, 1.7], [3.0, -2.0]], dtype=np.float32)
    raw = raw_logit(logits, 1).astype(np.float64)
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), relevance(logits, "softmax", 1), rtol=1e-6)


def test_activation_identity_returns_the_logit_unchanged() -> None:
    logits = np.array([[-7.25], [4.5]], dtype=np.float32)
    np.testing.assert_array_equal(relevance(logits, "identity", 0), logits[:, 0])
