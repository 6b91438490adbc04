"""Turning (query, document) text into model-ready token pairs."""
