"""Offline batch reranking: rows from JSONL, Parquet or a BEIR folder, ranked through one
engine into a resumable JSONL, Parquet or TREC output (``openrerank batch``).

:mod:`openrerank.cluster` runs the same scorer on Ray Data actors.
"""
