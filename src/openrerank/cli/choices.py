"""Enumerated flag values shared by the commands."""

from __future__ import annotations

from enum import StrEnum

from openrerank.config import BACKENDS, PRECISIONS, RERANK_COMPATS

BackendChoice = StrEnum("BackendChoice", BACKENDS)  # type: ignore[misc]
PrecisionChoice = StrEnum("PrecisionChoice", PRECISIONS)  # type: ignore[misc]
RerankCompatChoice = StrEnum("RerankCompatChoice", RERANK_COMPATS)  # type: ignore[misc]
AUTO = BackendChoice("auto")
FP32 = PrecisionChoice("fp32")
VLLM = RerankCompatChoice("vllm")
