"""Grouping pairs into batches and running them on the model's own thread."""
