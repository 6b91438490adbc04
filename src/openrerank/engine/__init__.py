"""The engine: from a request's documents to scores, on one model (no web framework, CLI or Ray)."""
