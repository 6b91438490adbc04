from __future__ import annotations

import json
from typing import Any

import pytest

from openrerank.server.json_body import MAX_DEPTH, loads


def nested(depth: int) -> str:
    """``depth`` arrays, one inside the other, as JSON."""
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "value",
    [
        {"query": "fox", "documents": ["a", "b"], "top_n": 2.0},
        {"emoji": "\U0001f98a", "nul": "\x00", "big": 10**30, "small": -1e308},
        json.loads(nested(MAX_DEPTH)),
    ],
)
def test_json_body_reads_what_json_dumps_writes(value: Any) -> None:
    assert loads(json.dumps(value).encode()) == value


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_json_body_reads_the_encodings_json_detects(encoding: str) -> None:
    assert loads('{"q": "caf\u00e9"}'.encode(encoding)) == {"q": "caf\u00e9"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": NaN}', "NaN is not a JSON value"),
        (b"[-Infinity]", "-Infinity is not a JSON value"),
        (b"[1e400]", "1e400 is out of range"),
        (b"[" + b"9" * 5_000 + b"]", "digits"),
        (nested(MAX_DEPTH + 1).encode(), f"deeper than {MAX_DEPTH} levels"),
        (b"[" * 100_000, f"deeper than {MAX_DEPTH} levels"),
        (b'{"q": "\xc3\x28"}', "not valid UTF-8 text (at byte 7)"),
        (b'{"q": "\xed\xa0\x80"}', "not valid UTF-8"),
        (b'{"documents": ["ok", "x\\ud800"]}', "in documents[1] has an unpaired surrogate"),
        (b'{"d": [{"\\udfff": 1}]}', "in d[0] has an unpaired surrogate (\\udfff)"),
        (b'{"d": [{"\\udfff": [1]}]}', "in d[0] has an unpaired surrogate (\\udfff)"),
        (b'"\\ud83d"', "in the body has an unpaired surrogate"),
        (b'{"q": "a"', "Expecting"),
    ],
)
def test_json_body_refuses_what_is_not_strict_json(raw: bytes, message: str) -> None:
    with pytest.raises(json.JSONDecodeError) as raised:
        loads(raw)
    assert message in raised.value.msg
