from __future__ import annotations

import pytest

from openrerank.cli.documents import DocumentFileError, parse_documents


def test_documents_jsonl_strings_and_objects_with_text() -> None:
    lines = ['"first doc"\n', "\n", '{"text": "second", "id": 7}\n']
    assert parse_documents(lines) == ["first doc", "second"]


def test_documents_plain_lines_keep_their_text() -> None:
    lines = ["plain document one\n", "  \n", "document {two} with braces\r\n"]
    assert parse_documents(lines) == ["plain document one", "document {two} with braces"]


def test_documents_jsonl_error_names_the_line() -> None:
    with pytest.raises(DocumentFileError, match="line 2: expected a JSON string or an object"):
        parse_documents(['"ok"\n', '{"title": "no text"}\n'])
    with pytest.raises(DocumentFileError, match="line 3: not valid JSON"):
        parse_documents(['{"text": "ok"}\n', "\n", "{broken\n"])


def test_documents_empty_input_is_an_error() -> None:
    with pytest.raises(DocumentFileError, match="empty"):
        parse_documents(["\n", "   "])
