"""The node tree the structured renderer walks, and a YAML reader that builds it.

The reader works on PyYAML's event stream (not ``yaml.compose``), so an alias is refused
before it can expand, and every scalar keeps its source range (code-point offsets) and its
text exactly as written: no YAML 1.1 type resolution, only plain ``~``, ``null`` and empty
values read as null.

Whether a string is read as a record at all is decided in :mod:`openrerank.engine.documents.render`
(a JSON object, or a YAML mapping of at least two lines; a one-line string is prose);
this module only reads the mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, TypeAlias

import yaml

try:
    from yaml import CSafeLoader as _FastLoader
except ImportError:  # PyYAML built without libyaml: same events, slower
    from yaml import SafeLoader as _FastLoader  # type: ignore[assignment]

MAX_DEPTH = 64
"""Containers nested deeper than this are not rendered."""

# libyaml counts offsets differently around a BOM and the Unicode line breaks; the pure
# Python parser reads those texts.
_ODD_BREAKS = re.compile("[\ufeff\x85\u2028\u2029]")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
# A character that is neither YAML punctuation nor whitespace: text the parse would lose.
_FOREIGN = re.compile(r"[^ \t\r\n:\-,\[\]{}\"'|>?]")


class UnstructuredError(Exception):
    """The text is not a YAML mapping that can be rendered without losing anything."""


class TooDeepError(UnstructuredError):
    """Containers are nested deeper than :data:`MAX_DEPTH`."""


@dataclass(frozen=True, slots=True)
class Scalar:
    """A key or leaf value; ``text`` is ``""`` for null. Offsets are into the source."""

    text: str
    start: int = 0
    end: int = 0


@dataclass(frozen=True, slots=True)
class Seq:
    """A list, with its source range."""

    items: tuple[Node, ...]
    start: int = 0
    end: int = 0


@dataclass(frozen=True, slots=True)
class Map:
    """A mapping in source order, with its source range."""

    items: tuple[tuple[Scalar, Node], ...]
    start: int = 0
    end: int = 0


Node: TypeAlias = Scalar | Seq | Map


def read_yaml(text: str, *, lossless: bool) -> Map:
    """The top-level mapping of a one-document YAML string.

    Args:
        text: the YAML source.
        lossless: also refuse a text with any character outside its scalars that is not
            YAML punctuation or whitespace (comments, directives, document end markers).

    Raises:
        UnstructuredError: not YAML, not a mapping at the top, more than one document,
            anchors, aliases, tags, a key that is not a scalar, nesting deeper than
            :data:`MAX_DEPTH`, or (``lossless``) text the parse would drop.
    """
    builder = _TreeBuilder()
    loader = yaml.SafeLoader if _ODD_BREAKS.search(text) else _FastLoader
    try:
        for event in yaml.parse(text, Loader=loader):
            builder.feed(event)
    except (yaml.YAMLError, ValueError) as error:  # ValueError: libyaml on lone surrogates
        raise UnstructuredError(str(error)) from None
    root = builder.root
    if not isinstance(root, Map):
        raise UnstructuredError("not a mapping")
    if lossless and _loses_text(text, builder.spans):
        raise UnstructuredError("text outside keys and values")
    return root


class _TreeBuilder:
    """Builds the node tree from parser events, refusing what cannot be rendered."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int]] = []
        self._items: list[Node] = []  # the innermost open collection's children so far
        self._open: list[tuple[yaml.CollectionStartEvent, list[Node]]] = []  # with parents'
        self._documents = 0

    @property
    def root(self) -> Node | None:
        """The document's top node, once the stream is fed."""
        return self._items[0] if len(self._items) == 1 else None

    def feed(self, event: yaml.Event) -> None:
        """Take one event; raise :class:`UnstructuredError` on what cannot be rendered."""
        if isinstance(event, yaml.ScalarEvent):
            scalar = _scalar(event)
            self._items.append(scalar)
            self.spans.append((scalar.start, scalar.end))
        elif isinstance(event, yaml.CollectionStartEvent):
            if event.anchor is not None or event.tag is not None:
                raise UnstructuredError("anchor or tag")
            if len(self._open) >= MAX_DEPTH:
                raise TooDeepError
            self._open.append((event, self._items))
            self._items = []
        elif isinstance(event, yaml.CollectionEndEvent):
            opened, parent = self._open.pop()
            parent.append(_collection(opened, self._items, _at(event.end_mark)))
            self._items = parent
        elif isinstance(event, yaml.AliasEvent):
            raise UnstructuredError("alias")
        elif isinstance(event, yaml.DocumentStartEvent):
            self._documents += 1
            if self._documents > 1:
                raise UnstructuredError("more than one document")


def _scalar(event: yaml.ScalarEvent) -> Scalar:
    if event.anchor is not None or event.tag is not None:
        raise UnstructuredError("anchor or tag")
    null = not event.style and event.value in _NULLS  # plain: None in Python, "" in C
    return Scalar("" if null else event.value, _at(event.start_mark), _at(event.end_mark))


def _collection(opened: yaml.CollectionStartEvent, items: list[Node], end: int) -> Node:
    start = _at(opened.start_mark)
    if not isinstance(opened, yaml.MappingStartEvent):
        return Seq(tuple(items), start, end)
    keys = items[0::2]
    if not all(isinstance(key, Scalar) for key in keys):
        raise UnstructuredError("a key that is not a scalar")
    pairs = zip(keys, items[1::2], strict=True)
    return Map(tuple((key, value) for key, value in pairs if isinstance(key, Scalar)), start, end)


class _Mark(Protocol):
    index: int


def _at(mark: _Mark | None) -> int:
    """A mark's offset in code points (the parser always sets marks)."""
    return 0 if mark is None else mark.index


def _loses_text(text: str, spans: list[tuple[int, int]]) -> bool:
    """Whether a character outside ``spans`` (in source order) is neither YAML punctuation
    nor whitespace."""
    position = 0
    for start, end in spans:
        if _FOREIGN.search(text, position, start):
            return True
        position = max(position, end)
    return _FOREIGN.search(text, position) is not None
