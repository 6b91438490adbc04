"""Significance of per-query differences between two rankings of the same queries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def paired_sign_flip_p(
    differences: Sequence[float], *, rounds: int = 10_000, seed: int = 0
) -> float:
    """Two-sided p-value that per-query differences average to zero (sign-flip test).

    Under the null hypothesis each query's difference is as likely to have the other
    sign, so the signs are flipped at random ``rounds`` times and the p-value is the
    share of flips whose mean is at least as far from 0 as the observed one (counting
    the observed one, so it is never 0). Deterministic for a given ``seed``.

    Raises:
        ValueError: If ``differences`` is empty or ``rounds`` is below 1.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    values = np.asarray(differences, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no differences to test")
    signs = np.random.default_rng(seed).choice((-1.0, 1.0), size=(rounds, values.size))
    flipped = np.abs((signs * values).mean(axis=1))
    observed = abs(float(values.mean()))
    extreme = int(np.count_nonzero(flipped >= observed - 1e-12))
    return (extreme + 1) / (rounds + 1)
