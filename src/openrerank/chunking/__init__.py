"""Splitting long documents into windows and folding window scores back per document."""
