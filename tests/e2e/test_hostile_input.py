"""Hand-written hostile inputs on ``/v2/rerank``, ``/v1/rerank`` and the TEI ``/rerank``.

Each case asserts the exact status of the error table (``server/errors.py``: 400 malformed
or semantically invalid, 413 over a limit, 422 unknown field or wrong type), a JSON
``{"message": ...}`` body that names what is wrong, and that the server still answers a
normal request on the same route afterwards. Limits in the expected messages are read
from the served configuration, not repeated here.

Behaviours pinned here on purpose: a JSON number with a zero fraction (``2.0``) is an
integer, as in JSON Schema; a duplicated key keeps its last value, as Python's ``json``
and Cohere do; a body without a Content-Type is read as JSON (``curl`` users), while any
other media type is refused; bodies are strict JSON (:mod:`openrerank.server.json_body`):
no ``NaN``/``Infinity``, no number out of a double's range, no nesting deeper than
``MAX_DEPTH``, no unpaired surrogate, valid UTF-8.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from e2e.conftest import DOCUMENTS, MODEL, QUERY, InProcessApp, MakeInProcessApp
from openrerank.config import HttpConfig
from openrerank.server.json_body import MAX_DEPTH

JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Route:
    """A rerank route and the names its body uses."""

    path: str
    documents_field: str
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self, **fields: Any) -> dict[str, Any]:
        """A valid body (query, three documents), with ``fields`` set over it."""
        base = {**self.extra, "query": QUERY, self.documents_field: list(DOCUMENTS)}
        return {**base, **fields}

    def raw(self, tail: str = "", **fields: Any) -> bytes:
        """:meth:`body` as JSON bytes, with ``tail`` (raw JSON members) added at the end."""
        text = json.dumps(self.body(**fields))
        return (text[:-1] + (f", {tail}" if tail else "") + "}").encode()

    def post(
        self, in_process_app: InProcessApp, content: bytes, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST raw bytes (as JSON unless ``headers`` says otherwise)."""
        return in_process_app.client.post(
            self.path, content=content, headers=JSON | (headers or {})
        )

    def results(self, response: httpx.Response) -> list[dict[str, Any]]:
        """The ranked results of a 200 answer, whatever the route's shape."""
        assert response.status_code == 200, response.text
        body = response.json()
        results: list[dict[str, Any]] = body if isinstance(body, list) else body["results"]
        return results


V2 = Route("/v2/rerank", "documents", {"model": MODEL})
V1 = Route("/v1/rerank", "documents")
TEI = Route("/rerank", "texts")
ROUTES = [V2, V1, TEI]
COHERE = [V2, V1]


def route_params(routes: list[Route]) -> Any:
    """``pytest.mark.parametrize`` over routes, named by path."""
    return pytest.mark.parametrize("route", routes, ids=[route.path for route in routes])


def assert_error(response: httpx.Response, status: int, *fragments: str) -> str:
    """``status`` with a JSON ``{"message": ...}`` (nothing else) containing ``fragments``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"message"}, body
    message = body["message"]
    assert isinstance(message, str) and message.strip()
    for fragment in fragments:
        assert fragment in message, message
    return message


def assert_still_serves(in_process_app: InProcessApp, route: Route) -> None:
    """A normal request on ``route`` ranks every document; v2 serves too."""
    response = route.post(in_process_app, route.raw())
    assert sorted(result["index"] for result in route.results(response)) == [0, 1, 2]
    in_process_app.assert_still_serves()


def ranked(route: Route, response: httpx.Response) -> list[tuple[int, float]]:
    """(index, score) of each result, best first."""
    key = "score" if route is TEI else "relevance_score"
    return [(result["index"], result[key]) for result in route.results(response)]


# --- numbers ------------------------------------------------------------------------

# (literal sent as top_n, expected status, message fragment; for 200: results expected)
TOP_N: list[tuple[str, int, str | int]] = [
    (str(10**30), 200, len(DOCUMENTS)),
    ("1e308", 200, len(DOCUMENTS)),
    ("2.0", 200, 2),
    ("1", 200, 1),
    ("null", 200, len(DOCUMENTS)),
    ("0", 400, "top_n must be an integer >= 1"),
    ("-1", 400, "top_n must be an integer >= 1"),
    ("-1e308", 400, "top_n must be an integer >= 1"),
    ("2.5", 422, "parameter 'top_n' is invalid"),
    ("true", 422, "parameter 'top_n' is invalid"),
    ('"3"', 422, "parameter 'top_n' is invalid"),
    ("[3]", 422, "parameter 'top_n' is invalid"),
    ("NaN", 400, "NaN is not a JSON value"),
    ("Infinity", 400, "Infinity is not a JSON value"),
    ("-Infinity", 400, "-Infinity is not a JSON value"),
    ("1e400", 400, "out of range"),
    ("9" * 5_000, 400, "digits"),
]


@route_params(COHERE)
@pytest.mark.parametrize(
    ("literal", "status", "expected"), TOP_N, ids=[case[0][:12] for case in TOP_N]
)
def test_top_n_huge_odd_and_non_numbers(
    in_process_app: InProcessApp, route: Route, literal: str, status: int, expected: str | int
) -> None:
    response = route.post(in_process_app, route.raw(f'"top_n": {literal}'))
    if status == 200:
        assert len(route.results(response)) == expected
    else:
        assert isinstance(expected, str)
        assert_error(response, status, expected)
    assert_still_serves(in_process_app, route)


# (route, raw member, status, fragment)
OTHER_NUMBERS: list[tuple[Route, str, int, str]] = [
    (V2, f'"max_tokens_per_doc": {10**30}', 200, ""),
    (V2, '"max_tokens_per_doc": 0', 422, "'max_tokens_per_doc'"),
    (V2, f'"priority": {10**30}', 422, "'priority'"),
    (V2, '"priority": -1', 422, "'priority'"),
    (V2, '"priority": 999.0', 200, ""),
    (V2, '"relevant_spans": {"mode": "enabled", "threshold": 1e308}', 422, "threshold"),
    (V2, '"relevant_spans": {"mode": "enabled", "threshold": NaN}', 400, "NaN"),
    (V2, f'"relevant_spans": {{"mode": "enabled", "max_spans": {10**30}}}', 200, ""),
    (V1, f'"max_chunks_per_doc": {10**30}', 400, "max_chunks_per_doc"),
    (V1, '"max_chunks_per_doc": -5', 422, "'max_chunks_per_doc'"),
]


@pytest.mark.parametrize(
    ("route", "member", "status", "fragment"),
    OTHER_NUMBERS,
    ids=[f"{case[0].path}-{case[1][:30]}" for case in OTHER_NUMBERS],
)
def test_other_numeric_fields_at_their_extremes(
    in_process_app: InProcessApp, route: Route, member: str, status: int, fragment: str
) -> None:
    response = route.post(in_process_app, route.raw(member))
    if status == 200:
        assert len(route.results(response)) == len(DOCUMENTS)
    else:
        assert_error(response, status, fragment)
    assert_still_serves(in_process_app, route)


# --- structure ----------------------------------------------------------------------

DEEP = 100_000
NESTED: dict[str, bytes] = {
    "open-arrays": b"[" * DEEP,
    "balanced-arrays": b"[" * DEEP + b"]" * DEEP,
    "open-objects": b'{"a":' * DEEP,
    "in-a-field": b'{"query": "q", "documents": ' + b"[" * DEEP + b"]" * DEEP + b"}",
}


@route_params(ROUTES)
@pytest.mark.parametrize("raw", NESTED.values(), ids=NESTED.keys())
def test_deeply_nested_json_is_malformed(
    in_process_app: InProcessApp, route: Route, raw: bytes
) -> None:
    response = route.post(in_process_app, raw)
    assert_error(response, 400, "not valid JSON", f"deeper than {MAX_DEPTH} levels")
    assert_still_serves(in_process_app, route)


def nested_list(depth: int) -> Any:
    """``depth`` arrays, one inside the other."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_v1_object_documents_nest_up_to_the_limit_and_come_back_as_sent(
    in_process_app: InProcessApp,
) -> None:
    # The body is an object (1), documents an array (2), the document an object (3).
    inside = MAX_DEPTH - 3
    document = {"text": "the quick brown fox", "tree": nested_list(inside)}
    body = V1.body(documents=[document], return_documents=True)
    results = V1.results(in_process_app.client.post(V1.path, json=body))
    assert results[0]["document"] == document
    too_deep = V1.body(documents=[{"text": "x", "tree": nested_list(inside + 1)}])
    response = in_process_app.client.post(V1.path, json={**too_deep, "return_documents": True})
    assert_error(response, 400, f"deeper than {MAX_DEPTH} levels")
    assert_still_serves(in_process_app, V1)


# (name, body shape, status, fragment)
SHAPES: list[tuple[str, bytes, int, str]] = [
    ("empty", b"", 400, "must be a JSON object"),
    ("whitespace", b" \n\t ", 400, "not valid JSON"),
    ("array", b"[]", 400, "must be a JSON object"),
    ("array-of-a-valid-body", b'[{"query": "q", "documents": ["a"]}]', 400, "JSON object"),
    ("string", b'"the quick brown fox"', 400, "must be a JSON object"),
    ("number", b"42", 400, "must be a JSON object"),
    ("null", b"null", 400, "must be a JSON object"),
    ("truncated", b'{"query": "q", "documents": ["a"', 400, "not valid JSON"),
    ("trailing-garbage", b'{"query": "q"} x', 400, "not valid JSON"),
    ("single-quotes", b"{'query': 'q'}", 400, "not valid JSON"),
]


@route_params(ROUTES)
@pytest.mark.parametrize(
    ("raw", "status", "fragment"), [case[1:] for case in SHAPES], ids=[c[0] for c in SHAPES]
)
def test_bodies_that_are_not_a_json_object(
    in_process_app: InProcessApp, route: Route, raw: bytes, status: int, fragment: str
) -> None:
    assert_error(route.post(in_process_app, raw), status, fragment)
    assert_still_serves(in_process_app, route)


@route_params(ROUTES)
def test_duplicate_keys_keep_the_last_value(in_process_app: InProcessApp, route: Route) -> None:
    first, last = "water boils at sea level", QUERY
    raw = route.raw(f'"query": {json.dumps(last)}', query=first)
    assert raw.count(b'"query"') == 2
    duplicated = ranked(route, route.post(in_process_app, raw))
    assert duplicated == ranked(route, route.post(in_process_app, route.raw(query=last)))
    assert duplicated != ranked(route, route.post(in_process_app, route.raw(query=first)))
    assert_still_serves(in_process_app, route)


UNKNOWN: list[tuple[Route, str, str]] = [
    (V2, '"top_k": 3', "top_k"),
    (V2, '"texts": ["a"]', "texts"),
    (V2, '"relevant_spans": {"mode": "enabled", "colour": 1}', "relevant_spans.colour"),
    (V1, '"texts": ["a"]', "texts"),
    (V1, '"max_tokens_per_doc": 5', "max_tokens_per_doc"),
    (V2, '"": 1', ""),
    (V2, '"body": {"query": "q"}', "body"),
]
# TEI's body, like TEI, ignores what it does not know (LiteLLM and `rerankers` send
# `model`, `top_n` and `truncation_direction`).
IGNORED_BY_TEI = ['"model": "m"', '"colour": 1', '"": 1', '"documents": ["a"]']


@pytest.mark.parametrize(
    ("route", "member", "name"),
    UNKNOWN,
    ids=[f"{case[0].path}-{case[2] or 'empty'}" for case in UNKNOWN],
)
def test_unknown_fields_are_422_naming_the_field(
    in_process_app: InProcessApp, route: Route, member: str, name: str
) -> None:
    response = route.post(in_process_app, route.raw(member))
    assert_error(response, 422, f"parameter '{name}' is not a valid field")
    assert_still_serves(in_process_app, route)


@pytest.mark.parametrize("member", IGNORED_BY_TEI)
def test_the_tei_body_ignores_unknown_fields(in_process_app: InProcessApp, member: str) -> None:
    response = TEI.post(in_process_app, TEI.raw(member))
    assert response.status_code == 200, response.text
    assert ranked(TEI, response) == ranked(TEI, TEI.post(in_process_app, TEI.raw()))


# --- content types ------------------------------------------------------------------

REFUSED_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "application/octet-stream",
]


@route_params(ROUTES)
@pytest.mark.parametrize("content_type", REFUSED_TYPES)
def test_a_json_body_sent_as_another_media_type_is_refused(
    in_process_app: InProcessApp, route: Route, content_type: str
) -> None:
    response = route.post(in_process_app, route.raw(), headers={"content-type": content_type})
    assert_error(response, 400, "must be a JSON object", "Content-Type: application/json")
    assert_still_serves(in_process_app, route)


@route_params(ROUTES)
def test_form_and_multipart_payloads_are_refused(
    in_process_app: InProcessApp, route: Route
) -> None:
    form = in_process_app.client.post(route.path, data={"query": QUERY, route.documents_field: "a"})
    assert_error(form, 400, "must be a JSON object")
    files = {route.documents_field: ("docs.json", json.dumps(DOCUMENTS).encode())}
    multipart = in_process_app.client.post(route.path, data={"query": QUERY}, files=files)
    assert_error(multipart, 400, "must be a JSON object")
    assert_still_serves(in_process_app, route)


ACCEPTED_TYPES = ["application/json; charset=utf-8", "application/vnd.api+json"]


@route_params(ROUTES)
@pytest.mark.parametrize("content_type", [None, *ACCEPTED_TYPES])
def test_json_without_a_content_type_or_with_a_json_type_is_read(
    in_process_app: InProcessApp, route: Route, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = in_process_app.client.post(route.path, content=route.raw(), headers=headers)
    assert ("content-type" in response.request.headers) is (content_type is not None)
    assert len(route.results(response)) == len(DOCUMENTS)


# --- text ---------------------------------------------------------------------------

INVALID_UTF8: dict[str, bytes] = {
    "bad-continuation": b'{"query": "fox \xc3\x28", "documents": ["a"]}',
    "leading-0xff": b'\xff{"query": "fox", "documents": ["a"]}',
    "cesu-surrogate": b'{"query": "fox \xed\xa0\x80", "documents": ["a"]}',
    "truncated-sequence": b'{"query": "fox", "documents": ["a\xe2\x82"]}',
    "overlong-slash": b'{"query": "fox \xc0\xaf", "documents": ["a"]}',
}


@route_params(ROUTES)
@pytest.mark.parametrize("raw", INVALID_UTF8.values(), ids=INVALID_UTF8.keys())
def test_invalid_utf8_is_malformed(in_process_app: InProcessApp, route: Route, raw: bytes) -> None:
    raw = raw.replace(b'"documents"', f'"{route.documents_field}"'.encode())
    assert_error(route.post(in_process_app, raw), 400, "not valid UTF-8")
    assert_still_serves(in_process_app, route)


@route_params(ROUTES)
@pytest.mark.parametrize("surrogate", ["\\ud800", "\\udfff", "\\ud83d"])
def test_unpaired_surrogates_are_malformed_wherever_they_are(
    in_process_app: InProcessApp, route: Route, surrogate: str
) -> None:
    field = route.documents_field
    in_query = route.raw(f'"query": "fox {surrogate}"')
    assert_error(route.post(in_process_app, in_query), 400, "unpaired surrogate", "in query")
    in_document = route.raw(f'"{field}": ["fine", "x{surrogate}"]')
    assert_error(route.post(in_process_app, in_document), 400, "unpaired surrogate", f"{field}[1]")
    assert_still_serves(in_process_app, route)


def test_unpaired_surrogates_in_a_model_name_or_an_object_key_are_malformed(
    in_process_app: InProcessApp,
) -> None:
    model = V2.raw('"model": "tiny\\udc00"')
    assert_error(V2.post(in_process_app, model), 400, "unpaired surrogate", "in model")
    key = V1.raw('"documents": [{"text": "fox", "\\ud800": 1}], "return_documents": true')
    assert_error(V1.post(in_process_app, key), 400, "unpaired surrogate", "documents[0]")
    assert_still_serves(in_process_app, V1)


@route_params(ROUTES)
def test_surrogate_pairs_and_null_bytes_are_ordinary_text(
    in_process_app: InProcessApp, route: Route
) -> None:
    # json.dumps escapes non-ASCII as \uXXXX: the emoji goes as a surrogate pair.
    documents = ["fox \U0001f98a", "\x00", "quick\x00brown\x00fox"]
    raw = route.raw(query="quick \x00 fox \U0001f98a", **{route.documents_field: documents})
    assert b"\\ud83e\\udd8a" in raw and b"\\u0000" in raw
    results = route.results(route.post(in_process_app, raw))
    assert sorted(result["index"] for result in results) == [0, 1, 2]
    assert_still_serves(in_process_app, route)


# --- queries and documents ----------------------------------------------------------

BLANK_QUERIES = ["", " ", " \n\t\r ", "\u3000", "\u00a0\u2003"]


@route_params(ROUTES)
@pytest.mark.parametrize("query", BLANK_QUERIES, ids=[repr(q) for q in BLANK_QUERIES])
def test_empty_and_whitespace_queries_are_400(
    in_process_app: InProcessApp, route: Route, query: str
) -> None:
    assert_error(route.post(in_process_app, route.raw(query=query)), 400, "query")
    assert_still_serves(in_process_app, route)


@route_params(ROUTES)
def test_a_missing_or_null_query_is_422(in_process_app: InProcessApp, route: Route) -> None:
    body = route.body()
    del body["query"]
    missing = route.post(in_process_app, json.dumps(body).encode())
    assert_error(missing, 422, "parameter 'query' is required")
    assert_error(
        route.post(in_process_app, route.raw(query=None)), 422, "parameter 'query' is invalid"
    )
    assert_still_serves(in_process_app, route)


NOT_TEXT: dict[str, Any] = {
    "number": 1,
    "float": 1.5,
    "boolean": True,
    "null": None,
    "nested-list": [["a", ["b"]]],
}
NOT_TEXT_OR_OBJECT: dict[str, Any] = {"object": {"text": "a"}, **NOT_TEXT}


@pytest.mark.parametrize("value", NOT_TEXT_OR_OBJECT.values(), ids=NOT_TEXT_OR_OBJECT.keys())
def test_tei_texts_that_are_not_strings_are_422(in_process_app: InProcessApp, value: Any) -> None:
    response = TEI.post(in_process_app, TEI.raw(texts=["fine", value]))
    assert_error(response, 422, "parameter 'texts[1]")
    assert_still_serves(in_process_app, TEI)


@pytest.mark.parametrize("route", [V2, V1], ids=[V2.path, V1.path])
@pytest.mark.parametrize("value", NOT_TEXT.values(), ids=NOT_TEXT.keys())
def test_documents_that_are_neither_strings_nor_objects_are_422(
    in_process_app: InProcessApp, route: Route, value: Any
) -> None:
    response = route.post(in_process_app, route.raw(documents=["fine", value]))
    assert_error(response, 422, "parameter 'documents[1]' is invalid")
    assert_still_serves(in_process_app, route)


@route_params(ROUTES)
@pytest.mark.parametrize("value", ["one string", {"text": "a"}, 7, None])
def test_documents_that_are_not_a_list_are_422(
    in_process_app: InProcessApp, route: Route, value: Any
) -> None:
    field = route.documents_field
    response = route.post(in_process_app, route.raw(**{field: value}))
    assert_error(response, 422, f"parameter '{field}'")
    assert_still_serves(in_process_app, route)


V1_OBJECTS: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("no-text", {"documents": [{"title": "fox"}]}, 400, "documents[0]"),
    ("text-not-a-string", {"documents": [{"text": {"nested": [1]}}]}, 400, "documents[0]"),
    ("missing-rank-fields", {"documents": [{"a": 1}], "rank_fields": ["b"]}, 400, "rank_fields"),
    ("empty-rank-fields", {"documents": [{"a": "x"}], "rank_fields": []}, 400, "rank_fields"),
    (
        "nested-values-with-rank-fields",
        {"documents": [{"a": {"b": [1, {"c": None}]}, "t": 1e308}], "rank_fields": ["a", "t"]},
        200,
        None,
    ),
]


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [case[1:] for case in V1_OBJECTS],
    ids=[case[0] for case in V1_OBJECTS],
)
def test_v1_object_documents(
    in_process_app: InProcessApp, fields: dict[str, Any], status: int, fragment: str | None
) -> None:
    response = in_process_app.client.post(V1.path, json=V1.body(**fields))
    if status == 200:
        assert len(V1.results(response)) == len(fields["documents"])
    else:
        assert fragment is not None
        assert_error(response, status, fragment)
    assert_still_serves(in_process_app, V1)


@route_params(ROUTES)
def test_an_empty_document_list_is_400(in_process_app: InProcessApp, route: Route) -> None:
    response = route.post(in_process_app, route.raw(**{route.documents_field: []}))
    assert_error(response, 400, "must not be empty")
    assert_still_serves(in_process_app, route)


# --- sizes --------------------------------------------------------------------------


def chunked(raw: bytes, size: int = 1_000) -> Iterator[bytes]:
    """``raw`` in pieces, so that the client sends it without a Content-Length."""
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


@route_params(ROUTES)
def test_ten_thousand_empty_documents_over_and_under_the_limit(
    make_in_process_app: MakeInProcessApp, route: Route
) -> None:
    count = 10_000
    extra = {"max_chunks_per_doc": 1} if route is V1 else {}
    raw = route.raw(**{route.documents_field: [""] * count}, **extra)
    small = make_in_process_app()
    limit = small.service.config.max_documents
    assert limit < count
    message = assert_error(route.post(small, raw), 400, str(count))
    assert f"exceed the limit of {limit}" in message or f"not exceed {limit}" in message
    assert_still_serves(small, route)
    large = make_in_process_app(max_documents=count)
    results = route.results(route.post(large, raw))
    assert sorted(result["index"] for result in results) == list(range(count))
    assert_still_serves(large, route)


@route_params(ROUTES)
def test_a_million_small_documents_are_refused_by_the_document_limit(
    in_process_app: InProcessApp, route: Route
) -> None:
    count = 1_000_000
    raw = route.raw(**{route.documents_field: ["a"] * count})
    assert len(raw) < HttpConfig().max_request_bytes
    message = assert_error(route.post(in_process_app, raw), 400, str(count))
    limit = in_process_app.service.config.max_documents
    assert str(limit) in message
    assert_still_serves(in_process_app, route)


@route_params(ROUTES)
def test_a_ten_megabyte_document_is_413(in_process_app: InProcessApp, route: Route) -> None:
    size = 10 * 1024 * 1024
    limit = in_process_app.service.config.max_document_chars
    assert limit < size
    raw = route.raw(**{route.documents_field: ["fine", "x" * size]})
    response = route.post(in_process_app, raw)
    assert_error(response, 413, f"[1] has {size} characters; the limit is {limit}")
    assert_still_serves(in_process_app, route)


@route_params(ROUTES)
def test_a_query_over_the_limit_is_413(in_process_app: InProcessApp, route: Route) -> None:
    limit = in_process_app.service.config.max_query_chars
    response = route.post(in_process_app, route.raw(query="fox " * (limit // 4 + 1)))
    assert_error(response, 413, f"the limit is {limit}")
    assert_still_serves(in_process_app, route)


def body_of_size(route: Route, size: int) -> bytes:
    """A valid body of exactly ``size`` bytes (its second document pads it)."""
    empty = route.raw(**{route.documents_field: ["quick brown fox", ""]})
    padded = route.raw(**{route.documents_field: ["quick brown fox", "x" * (size - len(empty))]})
    assert len(padded) == size
    return padded


@route_params(ROUTES)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_max_request_bytes_is_413(
    make_in_process_app: MakeInProcessApp, route: Route, declared: bool
) -> None:
    max_bytes = 8_192
    in_process_app = make_in_process_app(
        http=HttpConfig(max_request_bytes=max_bytes), max_document_chars=max_bytes
    )
    for size, status in ((max_bytes, 200), (max_bytes + 1, 413)):
        raw = body_of_size(route, size)
        content: bytes | Iterator[bytes] = raw if declared else chunked(raw)
        response = in_process_app.client.post(route.path, content=content, headers=JSON)
        assert ("content-length" in response.request.headers) is declared
        if status == 200:
            assert len(route.results(response)) == 2
        else:
            assert_error(response, 413, f"larger than the limit of {max_bytes} bytes")
    assert_still_serves(in_process_app, route)
