from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from openrerank.errors import (
    BackendError,
    EmptyQueryError,
    EngineClosedError,
    InputTooLongError,
    OverloadedError,
    ScoreError,
    TooManyDocumentsError,
    UnknownModelError,
)
from openrerank.server.errors import (
    ERROR_TABLE,
    MalformedRequestError,
    SchemaError,
    error_responses,
    retry_after,
    status_of,
    translate_validation,
)
from openrerank.server.schemas import V1RerankRequest, V2RerankRequest


@pytest.mark.parametrize(
    ("exception", "status"),
    [
        (EmptyQueryError("x"), 400),
        (TooManyDocumentsError("x"), 400),
        (InputTooLongError("x"), 413),
        (UnknownModelError("x"), 404),
        (OverloadedError("x"), 429),
        (ScoreError("x"), 500),
        (BackendError("x"), 500),
        (EngineClosedError("x"), 503),
        (KeyError("x"), 500),
    ],
)
def test_errors_status_follows_the_most_specific_row(exception: Exception, status: int) -> None:
    assert status_of(exception) == status


def test_errors_table_has_one_row_per_status() -> None:
    statuses = [row.status for row in ERROR_TABLE]
    assert statuses == sorted(set(statuses))
    assert set(error_responses(*statuses)) == set(statuses)


def test_errors_retry_after_is_whole_seconds_for_overload_and_not_ready() -> None:
    assert retry_after(OverloadedError("busy", retry_after_s=2.2)) == {"Retry-After": "3"}
    assert retry_after(EngineClosedError("stopping")) == {"Retry-After": "1"}
    assert retry_after(EmptyQueryError("x")) == {}


def _errors(model: type[Any], payload: object) -> list[Any]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(payload)
    return [dict(error) | {"loc": ("body", *error["loc"])} for error in caught.value.errors()]


@pytest.mark.parametrize(
    ("payload", "kind", "message"),
    [
        (
            {"model": "m", "query": "q", "documents": ["d"], "top_k": 3},
            SchemaError,
            "parameter 'top_k' is not a valid field",
        ),
        ({"model": "m", "documents": ["d"]}, SchemaError, "parameter 'query' is required"),
        (
            {"model": "m", "query": "q", "documents": ["d", 1]},
            SchemaError,
            "parameter 'documents[1]' is invalid",
        ),
        (
            {"model": "m", "query": "q", "documents": ["d"], "top_n": "3"},
            SchemaError,
            "parameter 'top_n' is invalid",
        ),
        (
            {"model": "m", "query": "q", "documents": ["d"], "priority": 1000},
            SchemaError,
            "parameter 'priority' is invalid",
        ),
    ],
)
def test_errors_translate_schema_failures_naming_the_field(
    payload: dict[str, Any], kind: type[Exception], message: str
) -> None:
    translated = translate_validation(_errors(V2RerankRequest, payload))
    assert isinstance(translated, kind)
    assert str(translated).startswith(message)
    assert status_of(translated) == 422


def test_errors_translate_a_non_object_body_to_400() -> None:
    translated = translate_validation(_errors(V1RerankRequest, [1, 2]))
    assert isinstance(translated, MalformedRequestError)
    assert status_of(translated) == 400


def test_errors_translate_invalid_json_to_400() -> None:
    errors = [{"type": "json_invalid", "loc": ("body", 3), "ctx": {"error": "Expecting value"}}]
    translated = translate_validation(errors)
    assert isinstance(translated, MalformedRequestError)
    assert "Expecting value" in str(translated)
