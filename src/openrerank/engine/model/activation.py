"""Turning a model's logits into relevance scores (pure numpy, numerically stable)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from openrerank.types import FloatArray

Activation = Literal["sigmoid", "softmax", "identity"]


def sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Logistic function without overflow for large negative inputs."""
    result: npt.NDArray[np.float64] = np.exp(-np.logaddexp(0.0, -x))
    return result


def raw_logit(logits: FloatArray, positive_index: int) -> FloatArray:
    """The raw score of each row: the single logit, or the positive class's log-odds.

    For a two-logit model the log-odds ``l[pos] - l[neg]`` is returned, so that
    ``sigmoid(raw) == softmax(l)[pos]`` holds for every model.
    """
    if logits.shape[1] == 1:
        return logits[:, 0].astype(np.float32)
    other = 1 - positive_index
    return (logits[:, positive_index] - logits[:, other]).astype(np.float32)


def relevance(logits: FloatArray, activation: Activation, positive_index: int) -> FloatArray:
    """Apply the model's activation to a ``[n, num_labels]`` logit matrix.

    Args:
        logits: one row per pair, one or two columns.
        activation: ``sigmoid`` (one logit), ``softmax`` (positive class of two) or
            ``identity`` (the raw logit, unbounded).
        positive_index: the column of the relevant class for two-logit models.

    Returns:
        One float32 score per row.
    """
    wide = logits.astype(np.float64)
    if activation == "identity":
        return raw_logit(logits, positive_index)
    if activation == "sigmoid":
        return sigmoid(wide[:, 0] if wide.shape[1] == 1 else wide[:, positive_index]).astype(
            np.float32
        )
    shifted = wide - wide.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    scores: FloatArray = (exp[:, positive_index] / exp.sum(axis=1)).astype(np.float32)
    return scores
