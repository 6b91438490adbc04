"""Sentences, span units and character ranges (chunking/spans.py), on real tokenizers."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrerank.engine.documents.spans import char_range, sentence_ends, sentence_ranges, span_units
from openrerank.engine.documents.windows import TokenRange
from openrerank.engine.tokenization.tokenizer import PairTokenizer
from tiny_models import ARCHITECTURES

DETERMINISTIC = settings(max_examples=200, deadline=None, derandomize=True)
WORDS = ("the", "fox", "jumps", "over", "water", "boils", "Café", "naïve", "日本語", "🙂", "3.14")
MARKS = (".", "!", "?", ";", "\u3002", "\uff01", "\uff1f", "\u2026")


def after(text: str, needle: str, start: int = 0) -> int:
    """The position just past the first ``needle`` at or after ``start``."""
    return text.index(needle, start) + len(needle)


def test_sentence_ends_after_english_punctuation() -> None:
    text = "The fox jumps. Does it? Yes! It does; twice."
    assert sentence_ends(text) == [
        after(text, "."),
        after(text, "?"),
        after(text, "!"),
        after(text, ";"),
    ]


def test_sentence_ends_after_closing_quotes_and_brackets() -> None:
    text = 'He said "Stop." Then (he left.) Done'
    assert sentence_ends(text) == [after(text, '."'), after(text, ".)")]


def test_sentence_ends_not_inside_numbers_or_at_the_end_of_the_text() -> None:
    assert sentence_ends("Pi is 3.14 today") == []
    assert sentence_ends("One sentence only.") == []
    assert sentence_ends("") == []


def test_sentence_ends_at_line_breaks() -> None:
    text = "first line\nsecond line\n\n  third line"
    first = text.index("\n")
    assert sentence_ends(text) == [first, text.index("\n", first + 1)]


def test_sentence_ends_after_cjk_marks_followed_by_space() -> None:
    text = "日本語です。 次の文です\uff01 最後\uff1f 終わり"
    assert sentence_ends(text) == [after(text, "。"), after(text, "\uff01"), after(text, "\uff1f")]


def test_sentence_ends_after_cjk_marks_without_space() -> None:
    # Chinese and Japanese put no space after a sentence mark; it ends the sentence anyway.
    text = "今天天气很好。我们去公园吧\uff01好的\uff1f再见"
    assert sentence_ends(text) == [after(text, "。"), after(text, "\uff01"), after(text, "\uff1f")]


def test_sentence_ends_after_the_ellipsis() -> None:
    text = "Wait\u2026 what"
    assert sentence_ends(text) == [after(text, "\u2026")]


@DETERMINISTIC
@given(st.text(alphabet=st.sampled_from([*" \n\tab1é日🙂\"')", *MARKS]), max_size=60))
def test_sentence_ends_are_increasing_positions_inside_the_text(text: str) -> None:
    ends = sentence_ends(text)
    assert ends == sorted(set(ends))
    assert all(0 < end < len(text) for end in ends)


@st.composite
def sentences_and_budget(draw: st.DrawFn) -> tuple[list[TokenRange], int]:
    lengths = draw(st.lists(st.integers(1, 40), max_size=20))
    bounds = np.cumsum([draw(st.integers(0, 5)), *lengths]).tolist()
    return list(pairwise(bounds)), draw(st.integers(1, 30))


@DETERMINISTIC
@given(sentences_and_budget())
def test_span_units_cover_the_sentences_in_order_within_the_budget(
    case: tuple[list[TokenRange], int],
) -> None:
    sentences, max_tokens = case
    units = span_units(sentences, max_tokens)
    if not sentences:
        assert units == []
        return
    assert units[0][0] == sentences[0][0] and units[-1][1] == sentences[-1][1]
    for (_, end), (start, _) in pairwise(units):
        assert end == start, "units are contiguous and in order"
    assert all(0 < end - start <= max_tokens for start, end in units)
    # a unit boundary is a sentence boundary, or a cut max_tokens into a long sentence
    edges = {edge for sentence in sentences for edge in sentence}
    for start, _ in units:
        owner = next(s for s in sentences if s[0] <= start < s[1])
        assert start in edges or (start - owner[0]) % max_tokens == 0


@DETERMINISTIC
@given(sentences_and_budget())
def test_span_units_keep_a_sentence_that_fits_in_one_unit(
    case: tuple[list[TokenRange], int],
) -> None:
    sentences, max_tokens = case
    units = span_units(sentences, max_tokens)
    for start, end in sentences:
        if end - start <= max_tokens:
            assert any(a <= start and end <= b for a, b in units)


def test_span_units_join_a_short_sentence_and_cut_a_long_one() -> None:
    assert span_units([(0, 2), (2, 10), (10, 30)], 8) == [
        (0, 2),
        (2, 10),
        (10, 18),
        (18, 26),
        (26, 30),
    ]
    # a 1-token sentence (under a quarter of 8) joins the next one when they fit together
    assert span_units([(0, 1), (1, 6), (6, 14)], 8) == [(0, 6), (6, 14)]


def test_span_units_refuse_a_budget_below_one() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        span_units([(0, 3)], 0)


def test_sentence_ranges_of_no_tokens_is_empty() -> None:
    assert sentence_ranges(np.zeros((0, 2), dtype=np.int64), [3]) == []


@pytest.fixture(scope="module")
def tokenizers(tiny_model_factory: Callable[..., Path]) -> dict[str, PairTokenizer]:
    return {
        arch: PairTokenizer.from_directory(tiny_model_factory(arch), max_length=64)
        for arch in ARCHITECTURES
    }


@st.composite
def prose(draw: st.DrawFn) -> list[str]:
    """Sentences of vocabulary words, each ending with a mark."""
    words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join)
    marks = st.sampled_from([".", "!", "?", "\u3002"])
    return draw(st.lists(st.tuples(words, marks).map("".join), min_size=1, max_size=6))


@DETERMINISTIC
@given(prose(), st.sampled_from([" ", "  ", "\n", " \n "]))
def test_char_range_maps_each_sentence_back_to_its_text(
    tokenizers: dict[str, PairTokenizer], sentences: list[str], separator: str
) -> None:
    text = separator.join(sentences)
    starts = [
        text.index(s, sum(len(p) + len(separator) for p in sentences[:i]))
        for i, s in enumerate(sentences)
    ]
    for arch, tokenizer in tokenizers.items():
        offsets = tokenizer.encode_texts([text])[0].offsets
        ranges = sentence_ranges(offsets, sentence_ends(text))
        assert ranges[0][0] == 0 and ranges[-1][1] == offsets.shape[0], arch
        assert len(ranges) == len(sentences), arch
        for tokens, sentence, start in zip(ranges, sentences, starts, strict=True):
            first, last = char_range(offsets, tokens)
            assert 0 <= first < last <= len(text), arch
            # byte-level BPE counts the space before a word as part of its first token
            assert text[first:last].strip() == sentence, arch
            assert first <= start and last == start + len(sentence), arch


def test_char_range_is_exact_on_wordpiece_with_non_ascii_text(tiny_model_dir: Path) -> None:
    sentences = ["Café au lait is naïve.", "日本語のテキスト。", "Emoji 🙂 here!", "Last line"]
    text = " ".join(sentences[:2]) + "  " + sentences[2] + "\n" + sentences[3]
    tokenizer = PairTokenizer.from_directory(tiny_model_dir, max_length=64)
    offsets = tokenizer.encode_texts([text])[0].offsets
    ranges = sentence_ranges(offsets, sentence_ends(text))
    found = [text[slice(*char_range(offsets, tokens))] for tokens in ranges]
    assert found == sentences


def test_char_range_of_no_tokens_is_empty() -> None:
    offsets = np.array([[0, 3], [4, 7]], dtype=np.int64)
    assert char_range(offsets, (1, 1)) == (0, 0)
    assert char_range(offsets, (0, 2)) == (0, 7)
