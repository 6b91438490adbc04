from __future__ import annotations

import pytest

from openrerank.errors import (
    ModelError,
    ModelLoadError,
    RerankError,
    summarize_exception,
)


def test_model_load_error_is_a_model_error() -> None:
    assert issubclass(ModelLoadError, ModelError) and issubclass(ModelLoadError, RerankError)


@pytest.mark.parametrize(
    ("error", "summary"),
    [
        (ValueError("bad value"), "ValueError: bad value"),
        (OSError("\n\n  first line  \nadvice\nmore advice"), "OSError: first line"),
        (RuntimeError(), "RuntimeError: (no message)"),
    ],
)
def test_summarize_exception_keeps_the_type_and_the_first_line(
    error: Exception, summary: str
) -> None:
    assert summarize_exception(error) == summary


def test_summarize_exception_cuts_a_long_message() -> None:
    summary = summarize_exception(ValueError("x" * 5_000))
    assert len(summary) == len("ValueError: ") + 300 and summary.endswith("…")
