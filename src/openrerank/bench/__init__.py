"""``openrerank bench``: repeatable workloads, our engine and the baselines side by side."""
