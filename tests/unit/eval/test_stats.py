"""The paired sign-flip test used by eval reports and the long-document bench."""

from __future__ import annotations

import pytest

from openrerank.eval.stats import paired_sign_flip_p


def test_sign_flip_p_is_one_when_nothing_differs() -> None:
    assert paired_sign_flip_p([0.0, 0.0, 0.0]) == 1.0


def test_sign_flip_p_is_small_for_a_consistent_gain_and_large_for_a_mixed_one() -> None:
    assert paired_sign_flip_p([0.1] * 20) < 0.001
    assert paired_sign_flip_p([0.1, -0.1] * 10) == 1.0
    assert paired_sign_flip_p([0.3, -0.1, 0.05, -0.2, 0.1, 0.0]) > 0.5


def test_sign_flip_p_is_deterministic_for_a_seed_and_checks_its_input() -> None:
    differences = [0.2, -0.1, 0.3, 0.05, -0.02]

    assert paired_sign_flip_p(differences) == paired_sign_flip_p(differences)
    with pytest.raises(ValueError, match="no differences"):
        paired_sign_flip_p([])
    with pytest.raises(ValueError, match="rounds"):
        paired_sign_flip_p([0.1], rounds=0)
