"""HTTP routes: rerank formats and operations."""
