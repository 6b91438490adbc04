"""Structured documents: objects, JSON and YAML strings to the text a cross-encoder reads.

Every source goes through one renderer (DESIGN.md §3), so a record reads the same whether
it came as a v1 object with ``rank_fields``, a JSON string or a YAML string. A top-level
mapping becomes ``key: value`` lines in field order (truncation drops the later fields
first): a nested mapping gives dotted keys (``author.name: Ada``), a list of scalars one
line (``tags: a, b``), a list holding mappings or lists indexed keys
(``refs.0.title: X``). Nulls, empty strings and empty containers are skipped. Strings are
kept as they are, JSON numbers and booleans go through ``json.dumps`` and YAML scalars stay
exactly as written (no YAML 1.1 coercion: ``yes`` stays ``yes``).

A string is a record only when it is unambiguously one: a JSON object, or a YAML mapping
of at least two lines (a one-line mapping such as ``"Grazing": a high-risk behavior`` is
prose). Anything else is scored exactly as sent, so a one-line string that is not a JSON
object never loses a character. A record is rendered only when nothing of it is lost (see
:func:`render_text`); :meth:`Rendered.to_source` maps ranges of the rendered text back to
the string as sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from openrerank.engine.documents.yaml_tree import (
    MAX_DEPTH,
    Map,
    Node,
    Scalar,
    Seq,
    TooDeepError,
    UnstructuredError,
    read_yaml,
)
from openrerank.errors import DocumentTypeError

TEXT_FIELD = "text"

# The first line of YAML worth parsing: an optional "---", then a short key and a colon.
_KEY_LINE = re.compile(r"(?:---[ \t]*\r?\n\s*)?[\w\-. \"']{1,64}:(?:\s|$)")


@dataclass(frozen=True, slots=True)
class Segment:
    """One rendered line and the part of the sent document it came from.

    Attributes:
        rendered_start: where the line starts in :attr:`Rendered.text`.
        rendered_end: one past its last character.
        source_start: where its key starts in the document as sent.
        source_end: one past the last character of its value there.
    """

    rendered_start: int
    rendered_end: int
    source_start: int
    source_end: int


@dataclass(frozen=True, slots=True)
class Rendered:
    """The text to score for one document, and how it maps back to the sent string.

    Attributes:
        text: what gets tokenized and scored.
        segments: one per rendered line, in order; empty means ``text`` is the sent
            string itself.
    """

    text: str
    segments: tuple[Segment, ...] = ()

    def to_source(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` range of :attr:`text` to the document as sent.

        Without segments this is the identity. Otherwise it is the union of the source
        ranges of the segments the range overlaps, or the nearest segment's source range
        when it overlaps none. The result always satisfies
        ``0 <= start <= end <= len(source)``.
        """
        start = min(max(start, 0), len(self.text))
        end = min(max(end, start), len(self.text))
        if not self.segments:
            return start, end
        hits = [s for s in self.segments if s.rendered_start < end and start < s.rendered_end]
        if not hits:  # the nearest: fewest characters between it and the range
            nearest = min(
                self.segments, key=lambda s: max(0, s.rendered_start - end, start - s.rendered_end)
            )
            hits = [nearest]
        return min(s.source_start for s in hits), max(s.source_end for s in hits)


@dataclass(frozen=True, slots=True)
class _Line:
    key: str
    value: str
    start: int  # in the sent string: where the key starts
    end: int  # and where the value ends


def render_object(
    document: Mapping[str, object], rank_fields: Sequence[str] | None, *, index: int
) -> Rendered | None:
    """The text to score for one v1 object document, or ``None`` when it has none.

    Args:
        document: the object as sent; never modified.
        rank_fields: keys to render, in order; ``None`` scores the ``text`` field alone.
            A record with none of them (or only empty values) is scored by its
            ``text`` field.
        index: the document's position, for error messages.

    Raises:
        DocumentTypeError: nesting deeper than ``MAX_DEPTH``.
    """
    text = document.get(TEXT_FIELD)
    fallback = Rendered(text) if isinstance(text, str) else None
    if rank_fields is None:
        return fallback
    keys = [key for key in dict.fromkeys(rank_fields) if key in document]
    try:
        lines = _lines(_from_mapping([(key, document[key]) for key in keys]))
    except TooDeepError:
        message = f"documents[{index}] nests deeper than {MAX_DEPTH} levels"
        raise DocumentTypeError(message) from None
    if not lines:
        return fallback
    return Rendered("\n".join(f"{line.key}: {line.value}" for line in lines))


def nothing_to_score(rank_fields: Sequence[str] | None, records: Sequence[int]) -> str:
    """Why a request whose object documents (at ``records``) all lack the fields to
    score is refused."""
    where = ", ".join(f"documents[{index}]" for index in records[:3])
    where += ", ..." if len(records) > 3 else ""
    if rank_fields is None:
        return (
            f"no object document has a '{TEXT_FIELD}' field ({where}); "
            f"send a '{TEXT_FIELD}' field or set rank_fields"
        )
    return (
        f"no object document has any of the rank_fields {list(rank_fields)} or a "
        f"'{TEXT_FIELD}' field ({where}); check the field names"
    )


def render_text(text: str) -> Rendered:
    """The text to score for one string document: records as ``key: value`` lines,
    anything else exactly as sent.

    A string is a record only when it is unambiguously one:

    - a JSON object: its first non-blank character is ``{`` and it parses as a JSON
      object, on one line or more; it is rendered like the same v1 object;
    - a YAML mapping of at least two lines: two or more non-blank lines (as
      :meth:`str.splitlines` counts them), not counting a leading ``---`` marker line.
      A one-line mapping (``"Grazing": a high-risk behavior.``,
      ``Definition of SOUS VIDE. : relating to...``) is prose.

    A YAML record is rendered only when nothing is lost: no comments (``Tip: use
    #tags`` stays prose), anchors, aliases, tags or second document, and no character
    outside its keys and values but YAML punctuation and whitespace. Otherwise, or when
    rendering changes nothing, the result is the identity ``Rendered(text)``: a one-line
    string that is not a JSON object always is. Only a string whose first non-blank
    character is ``{`` or whose first line looks like ``key: value`` is parsed, so
    ordinary prose costs one regex match.
    """
    head = text.lstrip()
    if head.startswith("{"):
        rendered = _render_json(text)
        if rendered is not None:
            return rendered
    elif not _KEY_LINE.match(head):
        return Rendered(text)
    if not _has_two_lines(text):  # a one-line YAML mapping is prose
        return Rendered(text)
    try:
        lines = _lines(read_yaml(text, lossless=True))
    except UnstructuredError:
        return Rendered(text)
    return _assemble(text, lines)


def _has_two_lines(text: str) -> bool:
    """Whether ``text`` has at least two non-blank lines besides a leading ``---`` line."""
    lines = (line for line in text.splitlines() if line.strip())
    first = next(lines, None)
    if first is not None and first.strip() == "---":
        first = next(lines, None)
    return first is not None and next(lines, None) is not None


def _render_json(text: str) -> Rendered | None:
    """A JSON object rendered, the identity for other JSON, ``None`` for no JSON at all."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return Rendered(text)
    try:
        lines = _lines(_from_mapping(value.items()))
    except TooDeepError:
        return Rendered(text)
    return _assemble(text, _locate(text, lines))


def _locate(text: str, lines: list[_Line]) -> list[_Line]:
    """Give JSON lines their source ranges, read by the YAML parser (JSON is nearly YAML).

    A line whose position the parser cannot confirm (the keys differ, or the text is not
    YAML) points at the whole document.
    """
    try:
        located = _lines(read_yaml(text, lossless=False))
    except UnstructuredError:
        located = []
    if [line.key for line in located] == [line.key for line in lines]:
        pairs = zip(lines, located, strict=True)
        return [replace(line, start=at.start, end=at.end) for line, at in pairs]
    return [replace(line, start=0, end=len(text)) for line in lines]


def _assemble(source: str, lines: list[_Line]) -> Rendered:
    """Join lines into a :class:`Rendered` with one segment each; the identity when the
    lines are empty or say exactly what the source says."""
    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    for line in lines:
        part = f"{line.key}: {line.value}"
        segments.append(Segment(offset, offset + len(part), line.start, line.end))
        parts.append(part)
        offset += len(part) + 1
    text = "\n".join(parts)
    if not lines or text == source:
        return Rendered(source)
    return Rendered(text, tuple(segments))


def _lines(root: Map) -> list[_Line]:
    out: list[_Line] = []
    _emit("", 0, root, out)
    return out


def _emit(path: str, start: int, node: Node, out: list[_Line]) -> None:
    """Append the lines of ``node`` under the dotted key ``path`` (which starts at
    ``start`` in the source) to ``out``."""
    if isinstance(node, Map):
        for key, value in node.items:
            _emit(f"{path}.{key.text}" if path else key.text, key.start, value, out)
    elif isinstance(node, Scalar):
        if node.text:
            out.append(_Line(path, node.text, start, node.end))
    elif all(isinstance(item, Scalar) for item in node.items):
        filled = [item for item in node.items if isinstance(item, Scalar) and item.text]
        if filled:
            joined = ", ".join(item.text for item in filled)
            out.append(_Line(path, joined, start, filled[-1].end))
    else:
        for position, item in enumerate(node.items):
            _emit(f"{path}.{position}", item.start, item, out)


def _from_mapping(items: Iterable[tuple[object, object]], depth: int = 0) -> Map:
    """The node tree of a JSON-like mapping's items (no source positions).

    Raises:
        TooDeepError: containers nested deeper than ``MAX_DEPTH``.
    """
    if depth >= MAX_DEPTH:
        raise TooDeepError
    return Map(tuple((Scalar(str(key)), _from_object(value, depth + 1)) for key, value in items))


def _from_object(value: object, depth: int) -> Node:
    if isinstance(value, Mapping):
        return _from_mapping(value.items(), depth)
    if isinstance(value, list | tuple):
        if depth >= MAX_DEPTH:
            raise TooDeepError
        return Seq(tuple(_from_object(item, depth + 1) for item in value))
    return Scalar(_scalar_text(value))


def _scalar_text(value: object) -> str:
    """Strings as they are, numbers and booleans as JSON writes them; ``""`` for null."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return str(value)
