"""Structured documents: turn a JSON object into the text a cross-encoder reads.

The fields named by ``rank_fields`` become ``key: value`` lines in the given order
(DESIGN.md §3); a field the object lacks is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from openrerank.errors import DocumentTypeError

TEXT_FIELD = "text"


def render_document(
    document: Mapping[str, object], rank_fields: Sequence[str] | None, *, index: int
) -> str:
    """The text to score for one object document.

    Args:
        document: the object as sent; never modified.
        rank_fields: keys to render, in order; ``None`` scores the ``text`` field alone.
        index: the document's position, for error messages.

    Raises:
        DocumentTypeError: no ``text`` string (without ``rank_fields``), or none of
            the ``rank_fields`` present.
    """
    if rank_fields is None:
        text = document.get(TEXT_FIELD)
        if not isinstance(text, str):
            raise DocumentTypeError(
                f"documents[{index}] needs a string 'text' field, or set rank_fields"
            )
        return text
    lines = [
        f"{key}: {_render_value(document[key])}"
        for key in rank_fields
        if document.get(key) is not None
    ]
    if not lines:
        raise DocumentTypeError(
            f"documents[{index}] has none of the rank_fields {list(rank_fields)}"
        )
    return "\n".join(lines)


def _render_value(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
