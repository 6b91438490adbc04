"""The document pipeline: records rendered as text, windows, relevant spans, and window
scores folded back per document."""
