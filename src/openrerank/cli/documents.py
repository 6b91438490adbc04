"""Reading documents for the CLI: JSONL (strings or objects with ``text``) or text lines."""

from __future__ import annotations

import json
from collections.abc import Iterable


class DocumentFileError(ValueError):
    """A documents file the CLI cannot read; the message names the line."""


def parse_documents(lines: Iterable[str]) -> list[str]:
    """Documents from JSONL or plain text lines.

    The input is JSONL when its first non-blank line is a JSON string or object;
    then every non-blank line must be one (objects need a string ``text``).
    Otherwise each non-blank line is one document, trailing newline removed.

    Raises:
        DocumentFileError: a malformed JSONL line, or no documents at all.
    """
    numbered = [(n, line.rstrip("\r\n")) for n, line in enumerate(lines, start=1)]
    content = [(n, line) for n, line in numbered if line.strip()]
    if not content:
        raise DocumentFileError("no documents: the input is empty")
    if _is_json_document(content[0][1]):
        return [_json_document(n, line) for n, line in content]
    return [line for _, line in content]


def _is_json_document(line: str) -> bool:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return False
    return isinstance(value, str | dict)


def _json_document(number: int, line: str) -> str:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DocumentFileError(f"line {number}: not valid JSON ({exc.msg})") from None
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return str(value["text"])
    raise DocumentFileError(f"line {number}: expected a JSON string or an object with 'text'")
