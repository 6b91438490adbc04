"""The exception tree every layer raises; the server maps each class to one status.

::

    RerankError                      base of everything openrerank raises on purpose
    ├── InvalidInputError            bad request content (ValueError too)
    │   ├── EmptyQueryError          query empty or whitespace only
    │   ├── EmptyDocumentsError      no documents
    │   ├── DocumentTypeError        a document that is not a string (TypeError too)
    │   ├── InvalidTopNError         top_n < 1 or not an integer
    │   ├── TooManyDocumentsError    more documents (or chunks) than the configured limit
    │   └── InputTooLongError        a query or document over its length limit
    ├── ModelError                   a model that cannot be found, read or served
    │   ├── ModelNotFoundError       not on disk, not in the cache, hub unreachable
    │   ├── UnknownModelError        a request named a model this process does not serve
    │   ├── UnsupportedModelError    not a sequence-classification reranker
    │   ├── ModelLoadError           files present but unreadable, corrupt or truncated
    │   └── CalibrationError         a calibration file that cannot be read or does not fit
    ├── BackendError                 a runtime failure inside a backend
    │   ├── BackendUnavailableError  the backend's optional dependency is missing
    │   └── ScoreError               the model produced NaN or infinite scores
    ├── OverloadedError              admission refused: too much queued work
    └── EngineClosedError            the service is not started or already stopped
"""

from __future__ import annotations


class RerankError(Exception):
    """Base class of every error openrerank raises on purpose."""


class InvalidInputError(RerankError, ValueError):
    """The request content is invalid; the message says what to change."""


class EmptyQueryError(InvalidInputError):
    """The query is empty or only whitespace."""


class EmptyDocumentsError(InvalidInputError):
    """The document list is empty."""


class DocumentTypeError(InvalidInputError, TypeError):
    """A document is not a string."""


class InvalidTopNError(InvalidInputError):
    """``top_n`` is not an integer >= 1."""


class TooManyDocumentsError(InvalidInputError):
    """More documents than the configured per-request limit."""


class InputTooLongError(InvalidInputError):
    """A query or document is longer than the configured limit (or the model window,
    when truncation is refused)."""


class ModelError(RerankError):
    """A model cannot be found, read or served."""


class ModelNotFoundError(ModelError):
    """The model is neither a local directory nor in the Hugging Face cache."""


class UnknownModelError(ModelError, LookupError):
    """A request named a model that is neither served nor an alias of a served one."""


class UnsupportedModelError(ModelError):
    """The model is not a sequence-classification reranker openrerank can run."""


class ModelLoadError(ModelError):
    """A model's files are there but cannot be loaded: unreadable, corrupt or truncated.

    The message starts with the file (or model) and ends with the cause, on one line.
    """


class CalibrationError(ModelError, ValueError):
    """A calibration file cannot be read, is malformed, or was fitted on another revision."""


class BackendError(RerankError):
    """A backend failed while loading or running a model."""


class BackendUnavailableError(BackendError):
    """The backend's optional dependency is not installed."""


class ScoreError(BackendError):
    """The model produced NaN or infinite scores."""


class OverloadedError(RerankError):
    """Too much work is queued; retry later.

    Attributes:
        retry_after_s: a hint, in seconds, for when to try again.
    """

    def __init__(self, message: str, *, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class EngineClosedError(RerankError):
    """The service is not running (not started, or already stopped)."""


_SUMMARY_CHARS = 300


def summarize_exception(exc: BaseException) -> str:
    """``Type: message`` on one line, for wrapping a third-party failure in a RerankError.

    Only the first non-blank line of the message is kept (library errors often append
    advice or a stack dump), cut to a few hundred characters.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else "(no message)"
    if len(text) > _SUMMARY_CHARS:
        text = text[: _SUMMARY_CHARS - 1] + "…"
    return f"{type(exc).__name__}: {text}"
