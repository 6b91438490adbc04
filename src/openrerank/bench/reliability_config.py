"""What one `openrerank.bench.reliability` run depends on: mode, server, load and bounds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from openrerank.bench import REFERENCE_MODEL


@dataclass(frozen=True)
class ReliabilityConfig:
    """Everything one run depends on (see the module docstring for the phases)."""

    mode: Literal["load", "soak"] = "load"
    model: str = REFERENCE_MODEL
    shared: Path = Path("../shared")
    """Holds ``hf-cache/`` and ``data/beir-scifact/``."""
    payloads: Path | None = None
    """A JSON list of ``/v2/rerank`` bodies, instead of SciFact."""
    queries: int = 300
    documents: int = 20
    clients: int = 64
    warmup: float = 5.0
    load_duration: float = 60.0
    overload_duration: float = 30.0
    overload_factor: float = 4.0
    max_outstanding: int = 2000
    recovery_duration: float = 20.0
    soak_clients: int = 16
    soak_duration: float = 600.0
    soak_warmup: float = 60.0
    soak_window: float = 60.0
    max_rss_growth: float = 0.05
    rss_interval: float | None = None
    """RSS sampling period; ``None``: 0.5 s in load mode, 1 s in a soak."""
    max_queue_wait: float = 2.0
    server_args: tuple[str, ...] = ()
    """Extra ``serve`` flags, each shell-split."""
    request_timeout: float = 120.0
    drain: float = 60.0
    require_429: bool = True
    honor_retry_after: bool = True
    ready_timeout: float = 600.0
    out: Path = Path("bench/results")

    @property
    def rss_interval_s(self) -> float:
        """The RSS sampling period in seconds."""
        if self.rss_interval is not None:
            return self.rss_interval
        return 0.5 if self.mode == "load" else 1.0
