"""Defaults of the evaluation commands, importable without the ``eval`` extra (for --help)."""

from __future__ import annotations

DEFAULT_EVAL_MEASURES: tuple[str, ...] = ("nDCG@10", "RR@10", "R@10", "R@100", "AP")
"""What ``openrerank eval`` reports, in ``ir_measures`` syntax."""
