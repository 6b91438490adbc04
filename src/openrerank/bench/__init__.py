"""``openrerank bench``: the benchmark tools (workloads, load generator, reports).

Each subcommand of ``openrerank bench`` runs one tool here: ``compare`` (`runner`, our
engine and the baselines side by side), ``latency``, ``http-latency``,
``long-documents`` and ``reliability``.
"""

from __future__ import annotations

REFERENCE_MODEL = "openrerank/minilm-l6-scifact-ce"
"""The model every bench tool measures by default (the offline test fixture)."""
