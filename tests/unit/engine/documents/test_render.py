from __future__ import annotations

import copy
import json

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from openrerank.engine.documents.render import Rendered, Segment, render_object, render_text
from openrerank.errors import DocumentTypeError

RECORD = {"title": "T", "year": 2024, "tags": ["a", "b"], "text": "body"}
RECORD_LINES = "title: T\nyear: 2024\ntags: a, b\ntext: body"

# --- objects (Cohere v1) -------------------------------------------------------------


def test_object_renders_rank_fields_as_key_value_lines_in_order() -> None:
    rendered = render_object(RECORD, ["title", "year", "tags", "text"], index=0)
    assert rendered == Rendered(RECORD_LINES)
    reordered = render_object(RECORD, ["text", "title"], index=0)
    assert reordered.text == "text: body\ntitle: T"


def test_object_skips_missing_null_and_empty_fields() -> None:
    document = {"title": "T", "author": None, "note": "", "tags": [], "meta": {}}
    rendered = render_object(document, ["author", "title", "x", "note", "tags", "meta"], index=0)
    assert rendered.text == "title: T"


def test_object_renders_json_scalars_like_json() -> None:
    document = {"n": 1, "f": 2.5, "yes": True, "no": False}
    assert render_object(document, list(document), index=0).text == (
        "n: 1\nf: 2.5\nyes: true\nno: false"
    )


def test_object_renders_a_repeated_rank_field_once() -> None:
    assert render_object({"a": "x"}, ["a", "a"], index=0).text == "a: x"


def test_object_without_rank_fields_scores_the_text_field_alone() -> None:
    assert render_object({"text": "plain", "id": 7}, None, index=0) == Rendered("plain")


@pytest.mark.parametrize("document", [{"title": "T"}, {"text": 5}, {"text": None}])
def test_object_without_a_text_string_has_nothing_to_score(document: dict[str, object]) -> None:
    assert render_object(document, None, index=3) is None


@pytest.mark.parametrize("document", [{"title": "T"}, {"body": None, "x": 1}, {"body": ""}])
def test_object_without_the_rank_fields_has_nothing_to_score(document: dict[str, object]) -> None:
    assert render_object(document, ["body"], index=1) is None


def test_object_without_the_rank_fields_is_scored_by_its_text() -> None:
    rendered = render_object({"title": "", "text": "plain"}, ["title", "body"], index=0)
    assert rendered == Rendered("plain")


def test_object_refuses_absurd_nesting() -> None:
    deep: object = "leaf"
    for _ in range(100):
        deep = [deep]
    with pytest.raises(DocumentTypeError, match=r"documents\[2\] nests deeper"):
        render_object({"a": deep}, ["a"], index=2)


def test_object_is_never_modified() -> None:
    document = {"title": "T", "author": {"name": "Ada", "tags": ["x", None]}, "text": "x"}
    before = copy.deepcopy(document)
    render_object(document, ["title", "author"], index=0)
    assert document == before


# --- one rendering for objects, JSON and YAML ----------------------------------------


def test_object_json_and_yaml_render_the_same_lines() -> None:
    as_object = render_object(RECORD, list(RECORD), index=0)
    as_json = render_text(json.dumps(RECORD))
    as_yaml = render_text("title: T\nyear: 2024\ntags: [a, b]\ntext: body")
    assert as_object.text == as_json.text == as_yaml.text == RECORD_LINES


def test_nested_mappings_give_dotted_keys_and_lists_of_mappings_indices() -> None:
    record = {
        "author": {"name": "Ada", "born": {"year": 1815}},
        "refs": [{"title": "X"}, {"title": "Y", "pages": [1, 2]}],
        "grid": [[1, 2], [3]],
        "mixed": ["a", {"b": "c"}],
    }
    expected = (
        "author.name: Ada\nauthor.born.year: 1815\nrefs.0.title: X\nrefs.1.title: Y\n"
        "refs.1.pages: 1, 2\ngrid.0: 1, 2\ngrid.1: 3\nmixed.0: a\nmixed.1.b: c"
    )
    block_yaml = yaml.safe_dump(record, sort_keys=False)
    assert render_object(record, list(record), index=0).text == expected
    assert render_text(json.dumps(record)).text == expected
    assert render_text(block_yaml).text == expected


def test_nulls_and_empty_values_are_skipped_in_every_source() -> None:
    source_yaml = "a: 1\nb: ~\nc: null\nd:\ne: ''\nf: []\ng: [x, ~, '']\nh: {}\n"
    source_json = '{"a": 1, "b": null, "e": "", "f": [], "g": ["x", null, ""], "h": {}}'
    assert render_text(source_yaml).text == "a: 1\ng: x"
    assert render_text(source_json).text == "a: 1\ng: x"


def test_values_with_newlines_are_kept_as_they_are() -> None:
    assert render_text('{"a": "one\\ntwo", "b": 1}').text == "a: one\ntwo\nb: 1"
    assert render_text("a: |\n  one\n  two\nb: 1\n").text == "a: one\ntwo\n\nb: 1"


_keys = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    # YAML normalizes its extra line breaks (NEL, U+2028, U+2029) and escapes control
    # characters, so those are left to the any-text property below.
    st.text(
        st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), include_characters="\n\t"),
        max_size=12,
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)
_records = st.dictionaries(_keys, _values, min_size=1, max_size=5)


@settings(derandomize=True, max_examples=200)
@given(_records)
def test_a_record_renders_the_same_from_an_object_json_and_yaml(
    record: dict[str, object],
) -> None:
    sources = [
        json.dumps(record, ensure_ascii=False),
        yaml.safe_dump(record, sort_keys=False, allow_unicode=True),
    ]
    if not _two_lines(sources[1]):  # a one-line YAML mapping is prose
        assert render_text(sources[1]) == Rendered(sources[1])
        sources = sources[:1]
    as_object = render_object(record, list(record), index=0)
    if as_object is None or as_object.text == record.get("text"):
        # Nothing to render (or only a `text` field): the strings are scored as sent.
        assert [render_text(source).text for source in sources] == sources
        return
    expected = as_object.text
    for source in sources:
        rendered = render_text(source)
        assert rendered.text == expected
        _assert_segments_valid(rendered, source)


# --- YAML strings --------------------------------------------------------------------


def test_yaml_scalars_stay_exactly_as_written() -> None:
    source = "a: yes\nb: 2024-06-24\nc: 007\nd: 0x1F\ne: 1e3\nf: on\ng: 2.50\nh: 'quoted'\n"
    assert render_text(source).text == (
        "a: yes\nb: 2024-06-24\nc: 007\nd: 0x1F\ne: 1e3\nf: on\ng: 2.50\nh: quoted"
    )


def test_yaml_may_start_with_a_document_marker() -> None:
    assert render_text("---\ntitle: T\nyear: 2024\n").text == "title: T\nyear: 2024"


# The first 80 characters of the 6 documents of the shared SciFact (title + " " + text)
# and TREC DL 2019 corpora that parse as one-line YAML mappings: they are prose.
CORPUS_PROSE = [
    '"Grazing": a high-risk behavior. BACKGROUND Gastric bypass patients with a range',
    "'Zero is not good for me': implications of infertility in Ghana. BACKGROUND Give",
    "World War 1 : How did WW1 affect the United States? The United States was affect",
    "Incoming search terms : Difference Between Single Din And Double Din , Single Di",
    "Medical Definition of BEHAVIORAL SCIENCE. : a science (as psychology, sociology,",
    "Definition of SOUS VIDE. : relating to or denoting a method of cooking food slow",
]


@pytest.mark.parametrize(
    "source",
    [
        *CORPUS_PROSE,
        "title: Foo",
        '"title": Foo\n',
        "\n\n  title: Foo  \n\n",
        "---\nkey: value",
        "--- \n\n'key': value\n",
        "{title: T, year: 2024}",
    ],
)
def test_a_one_line_yaml_mapping_is_prose_scored_exactly_as_sent(source: str) -> None:
    assert isinstance(yaml.safe_load(source), dict), "the test needs a YAML mapping"
    assert render_text(source) == Rendered(source)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"title": Foo\nyear: 2024', "title: Foo\nyear: 2024"),
        (
            f"{CORPUS_PROSE[0]}\nyear: 2014\n",
            f"{CORPUS_PROSE[0][1:8]}{CORPUS_PROSE[0][9:]}\nyear: 2014",
        ),
        ("---\n'key': value\n\nother: x\n", "key: value\nother: x"),
        ("{title: T,\n year: 2024}", "title: T\nyear: 2024"),
    ],
)
def test_a_yaml_mapping_of_two_lines_or_more_is_still_rendered(source: str, expected: str) -> None:
    rendered = render_text(source)
    assert rendered.text == expected
    _assert_segments_valid(rendered, source)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{"title": "Foo"}', "title: Foo"),
        ('{"title": "Foo", "year": 2024}', "title: Foo\nyear: 2024"),
        ('  {"a": {"b": [1, 2]}}  ', "a.b: 1, 2"),
    ],
)
def test_a_one_line_json_object_is_still_rendered(source: str, expected: str) -> None:
    assert render_text(source).text == expected


@pytest.mark.parametrize(
    "source",
    [
        "Tip: use #hashtags",
        "Tip: use #hashtags\nNote: or not",
        "title: T  # a comment\nyear: 2024",
        "# heading\ntitle: T\n",
        "title: T\n# trailing comment\n",
        "title: &anchor T\nother: *anchor\n",
        "title: !!str 2024\nyear: 2024\n",
        "title: T\n---\ntitle: U\n",
        "title: T\n...\n",
        "%YAML 1.1\n---\ntitle: T\n",
        "? [a, b]\n: c\n",
    ],
)
def test_yaml_that_would_lose_or_invent_text_is_scored_as_sent(source: str) -> None:
    assert render_text(source) == Rendered(source)


@pytest.mark.parametrize(
    "source",
    [
        "A plain sentence about reranking.",
        "Reranking works well: it reorders candidates.",
        "Note: this is important",
        "Warning: do this: now",
        "First line of prose.\nSecond line: with a colon.\n\nA third paragraph.",
        "Summary: short\nMore prose on the next line.",
        "Q: What is X?\nA: X is Y.",
        "{braces} open this sentence: fine",
        "[1, 2, 3]",
        "- a\n- b",
        "",
        "   ",
    ],
)
def test_prose_is_scored_as_sent(source: str) -> None:
    assert render_text(source) == Rendered(source)


# --- JSON strings --------------------------------------------------------------------


@pytest.mark.parametrize("source", ['{"a": 1', "{not json, not yaml", '{"a": 1} trailing'])
def test_text_that_only_looks_like_json_is_scored_as_sent(source: str) -> None:
    assert render_text(source) == Rendered(source)


def test_json_object_with_flow_yaml_syntax_is_read_as_yaml_on_two_lines_or_more() -> None:
    assert render_text("{title: T,\n year: 2024}").text == "title: T\nyear: 2024"
    assert render_text("{title: T, year: 2024}") == Rendered("{title: T, year: 2024}")


def test_json_numbers_render_like_json_even_where_yaml_would_not() -> None:
    source = '{"a": 2.50, "b": 1e3, "c": true}'
    rendered = render_text(source)
    assert rendered.text == "a: 2.5\nb: 1000.0\nc: true"
    assert source[slice(*rendered.to_source(0, 6))] == '"a": 2.50'


def test_json_lines_the_yaml_parser_cannot_place_point_at_the_whole_document() -> None:
    source = '{"a": 1, "b": 2, "a": 3}'  # JSON keeps the last "a"; YAML sees both
    rendered = render_text(source)
    assert rendered.text == "a: 3\nb: 2"
    assert {(s.source_start, s.source_end) for s in rendered.segments} == {(0, len(source))}


# --- offsets back into the sent string -----------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "é: café\n日本: 日本語のテキスト\nemoji: 😀 party 🎉\nlast: plain value\n",
        '{"é": "café", "日本": "日本語のテキスト", "emoji": "😀 party 🎉", "last": "plain value"}',
        "{é: café, 日本: 日本語のテキスト,\n emoji: 😀 party 🎉, last: plain value}",
        '{"bom\ufeff": "x\u2028y", "last": "plain value"}',
    ],
)
def test_each_line_maps_to_the_source_range_of_its_key_and_value(source: str) -> None:
    rendered = render_text(source)
    assert rendered.segments
    _assert_segments_valid(rendered, source)
    for segment in rendered.segments:
        line = rendered.text[segment.rendered_start : segment.rendered_end]
        key, value = line.split(": ", 1)
        start, end = rendered.to_source(segment.rendered_start, segment.rendered_end)
        assert (start, end) == (segment.source_start, segment.source_end)
        assert source[start:end].lstrip('"').startswith(key)
        assert value in source[start:end]


def test_a_range_inside_one_value_maps_to_that_line_only() -> None:
    source = "title: Le café\nbody: 日本 😀 text\n"
    rendered = render_text(source)
    at = rendered.text.index("text")
    assert source[slice(*rendered.to_source(at, at + 4))] == "body: 日本 😀 text"


def test_a_range_across_lines_maps_to_the_union_of_their_sources() -> None:
    source = "a: one\nb: two\nc: three\n"
    rendered = render_text("a: one\nb: two\nc: three\n")
    assert rendered.text == "a: one\nb: two\nc: three"
    assert source[slice(*rendered.to_source(3, 10))] == "a: one\nb: two"


def test_to_source_is_the_identity_without_segments_and_clamps() -> None:
    rendered = Rendered("abcdef")
    assert rendered.to_source(1, 4) == (1, 4)
    assert rendered.to_source(-3, 99) == (0, 6)
    assert rendered.to_source(4, 2) == (4, 4)
    assert rendered.to_source(10, 20) == (6, 6)


def test_to_source_maps_a_range_between_or_beyond_segments_to_the_nearest() -> None:
    rendered = Rendered("a: 1\nb: 2", (Segment(0, 4, 10, 16), Segment(5, 9, 20, 26)))
    assert rendered.to_source(4, 5) == (10, 16)  # only the newline: the line before
    assert rendered.to_source(7, 7) == (20, 26)  # an empty range inside a line
    assert rendered.to_source(-5, 0) == (10, 16)
    assert rendered.to_source(50, 60) == (20, 26)
    assert rendered.to_source(2, 8) == (10, 26)


_fragments = st.sampled_from(
    [
        *["a", "key", ": ", ":", " ", "\n", "\r\n", "\t", "- ", "[", "]", "{", "}", ",", '"'],
        *["'", "#", "é", "日本", "😀", "|", ">", "?", "~", "null", "&x ", "*x", "!!str ", "---\n"],
        *["...\n", "\ufeff", "\u2028", "\x85", "\x00", "\ud800", '{"k": ', "1", "true"],
    ]
)
_snippets = st.lists(_fragments, max_size=8).map("".join)
_key_value_lines = st.lists(
    st.tuples(st.sampled_from(["", "  ", "- "]), _keys, _snippets), min_size=1, max_size=6
).map(lambda lines: "\n".join(f"{indent}{key}: {value}" for indent, key, value in lines))
_any_text = st.one_of(
    st.text(),
    _snippets,
    st.lists(_fragments, max_size=40).map("".join),
    _key_value_lines,
    st.dictionaries(_keys, _values | st.text(), min_size=1).map(json.dumps),
    st.dictionaries(st.text(), st.text(), min_size=1).map(
        lambda record: json.dumps(record, ensure_ascii=False)
    ),
)


@settings(derandomize=True, max_examples=400)
@given(_any_text, st.integers(-5, 200), st.integers(-5, 200))
def test_any_text_renders_without_error_to_a_valid_mapping(text: str, a: int, b: int) -> None:
    rendered = render_text(text)
    if not rendered.segments:
        assert rendered.text == text
    _assert_segments_valid(rendered, text)
    for start, end in [(0, len(rendered.text)), (a, b), (min(a, b), max(a, b))]:
        source_start, source_end = rendered.to_source(start, end)
        assert 0 <= source_start <= source_end <= len(text)


@settings(derandomize=True, max_examples=400)
@given(_any_text.map(lambda text: " ".join(text.splitlines())))
def test_a_one_line_string_that_is_no_json_object_is_never_changed(text: str) -> None:
    assume(not _is_json_object(text))
    assert render_text(text) == Rendered(text)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _two_lines(text: str) -> bool:
    """At least two non-blank lines besides a leading ``---`` line (independent check)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and lines[0].strip() == "---":
        lines = lines[1:]
    return len(lines) >= 2


def _assert_segments_valid(rendered: Rendered, source: str) -> None:
    """Segments tile the rendered lines in order and point inside the source."""
    offset = 0
    for segment in rendered.segments:
        assert segment.rendered_start == offset
        assert segment.rendered_end <= len(rendered.text)
        assert 0 <= segment.source_start <= segment.source_end <= len(source)
        offset = segment.rendered_end + 1
    if rendered.segments:
        assert offset == len(rendered.text) + 1
