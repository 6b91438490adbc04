"""Offline evaluation: local BEIR-style data sets and ranking-quality measures.

``datasets`` reads judged collections from disk (never from a hub); ``measures`` turns
qrels and scored runs into nDCG, MRR and recall through ``ir_measures``.
"""

from __future__ import annotations
