"""prepare(): documents to windows and span pairs, checked against the model's tokenizer.

The STYLE.md chunking properties, on real tokenizers (the tiny models and the reference
model): pairs never exceed the model window, windows cover every scored token, a document
that fits gives exactly the unchunked pair, caps and budgets hold, and span candidates
point into the document as sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Encoding, Tokenizer

from openrerank.engine.documents.prepare import Prepared, PrepareOptions, prepare
from openrerank.engine.model.spec import read_spec
from openrerank.engine.tokenization.tokenizer import PairTokenizer
from openrerank.errors import TooManyDocumentsError
from openrerank.types import Document, EncodedPair, IntArray
from pair_oracle import library_pairs

DETERMINISTIC = settings(max_examples=40, deadline=None, derandomize=True)
TINY_MAX_LENGTH = 32
"""A short window for the tiny models, so modest documents already need several."""

WORDS = ("the", "quick", "fox", "water", "boils", "isn't", "café", "naïve", "日本語", "🙂", "3.14")
SEPARATORS = (" ", " ", " ", ", ", ". ", "! ", "? ", "\n", "\u3002", " \u2026 ")
QUERY_WORDS = ("the", "fox", "water", "cross", "encoder", "query", "naïve", "🙂")

BASE = PrepareOptions(
    max_tokens_per_doc=4_096,
    max_windows_per_doc=None,
    overlap=8,
    max_pairs=1_000_000,
    structured=False,
    rank_fields=None,
    keep_end=False,
    spans=False,
    span_tokens=64,
    chars_per_token=16,
    max_query_chars=100_000,
    max_document_chars=1_000_000,
)


class Model:
    """A tokenizer under test and the words that are one token each in its vocabulary."""

    def __init__(
        self, name: str, directory: Path, tokenizer: PairTokenizer, single_token_words: list[str]
    ):
        self.name = name
        self.directory = directory
        self.tokenizer = tokenizer
        self.single_token_words = single_token_words

    def library_pairs(self, query: str, documents: list[str]) -> list[Encoding]:
        """The tokenizers library's own pairs of the capped query and each document."""
        capped = self.tokenizer.cap_query(query)
        return library_pairs(
            self.directory, capped, documents, max_length=self.tokenizer.max_length
        )

    def __repr__(self) -> str:
        return self.name


def load_model(name: str, directory: Path, max_length: int) -> Model:
    tokenizer = PairTokenizer.from_directory(directory, max_length=max_length)
    vocab = Tokenizer.from_file(str(directory / "tokenizer.json")).get_vocab()
    words = sorted(
        word
        for word in vocab
        if word.isascii() and word.isalpha() and len(word) > 1 and tokenizer.count_tokens(word) == 1
    )
    return Model(name, directory, tokenizer, words)


@pytest.fixture(scope="module", params=["bert", "xlm-roberta", "modernbert", "reference"])
def model(request: pytest.FixtureRequest, tiny_model_factory: Callable[..., Path]) -> Model:
    """Each tiny architecture (32-token window), then the reference model (its own window)."""
    if request.param != "reference":
        return load_model(request.param, tiny_model_factory(request.param), TINY_MAX_LENGTH)
    directory: Path = request.getfixturevalue("reference_model_dir")
    return load_model("reference", directory, read_spec(directory).max_length)


@pytest.fixture(scope="module", params=["bert", "reference"])
def wordpiece_model(
    request: pytest.FixtureRequest, tiny_model_factory: Callable[..., Path]
) -> Model:
    """Models whose single-token words let a window be located in its document exactly."""
    if request.param == "bert":
        return load_model("bert", tiny_model_factory("bert"), TINY_MAX_LENGTH)
    directory: Path = request.getfixturevalue("reference_model_dir")
    return load_model("reference", directory, read_spec(directory).max_length)


# --- strategies -------------------------------------------------------------------------


@st.composite
def prose(draw: st.DrawFn, max_words: int = 120) -> str:
    """Words (some non-ASCII) and separators, from empty up to several windows long."""
    n = draw(st.integers(0, max_words))
    words = draw(st.lists(st.sampled_from(WORDS), min_size=n, max_size=n))
    separators = draw(st.lists(st.sampled_from(SEPARATORS), min_size=n, max_size=n))
    return "".join(word + separator for word, separator in zip(words, separators, strict=True))


queries = st.lists(st.sampled_from(QUERY_WORDS), min_size=1, max_size=40).map(" ".join)


@st.composite
def unique_words(draw: st.DrawFn, words: Sequence[str], max_words: int) -> str:
    """Distinct single-token words, with punctuation between some: every window of a
    document like this occurs at exactly one position in it."""
    chosen = draw(
        st.lists(st.sampled_from(words), unique=True, max_size=min(max_words, len(words)))
    )
    separators = draw(
        st.lists(
            st.sampled_from([" ", " ", ", ", ". ", "\n"]),
            min_size=len(chosen),
            max_size=len(chosen),
        )
    )
    return "".join(word + separator for word, separator in zip(chosen, separators, strict=True))


def long_enough(model: Model) -> int:
    """Words for a document of a few windows."""
    return 4 * model.tokenizer.max_length


# --- helpers ----------------------------------------------------------------------------


def document_part(tokenizer: PairTokenizer, query_ids: IntArray, pair: EncodedPair) -> IntArray:
    """The document tokens of a pair: what lies between the query's template and the end."""
    empty, _ = tokenizer.pair(query_ids, np.zeros(0, dtype=np.int64))
    marked, _ = tokenizer.pair(query_ids, np.array([-1], dtype=np.int64))
    start = int(np.flatnonzero(marked == -1)[0])
    length = pair.n_tokens - empty.shape[0]
    part = pair.input_ids[start : start + length]
    expected_ids, expected_types = tokenizer.pair(query_ids, part)
    assert pair.input_ids.tolist() == expected_ids.tolist(), "the query and specials are intact"
    assert pair.type_ids.tolist() == expected_types.tolist()
    return part


def locate(part: IntArray, tokens: IntArray) -> int:
    """The one position of ``part`` inside ``tokens``."""
    width = part.shape[0]
    found = [
        start
        for start in range(tokens.shape[0] - width + 1)
        if np.array_equal(tokens[start : start + width], part)
    ]
    assert len(found) == 1, f"a window must occur once in its document, found at {found}"
    return found[0]


def windows_of(prepared: Prepared, document: int) -> list[EncodedPair]:
    return [p for p in prepared.pairs[: prepared.n_windows] if p.doc_index == document]


def scored_positions(
    tokenizer: PairTokenizer, query: str, prepared: Prepared, document: int, tokens: IntArray
) -> list[tuple[int, int]]:
    """Each window's ``[start, end)`` in the document's tokens, in chunk order."""
    query_ids = tokenizer.encode_query(query)
    ranges = []
    for pair in windows_of(prepared, document):
        part = document_part(tokenizer, query_ids, pair)
        start = locate(part, tokens)
        ranges.append((start, start + part.shape[0]))
    return ranges


def run(
    tokenizer: PairTokenizer, query: str, documents: Sequence[Document], **changes: Any
) -> Prepared:
    return prepare(tokenizer, query, documents, replace(BASE, **changes))


# --- every pair fits the model --------------------------------------------------------


@DETERMINISTIC
@given(
    data=st.data(),
    query=queries,
    overlap=st.integers(0, 40),
    max_tokens=st.integers(1, 2_000),
    span_tokens=st.integers(4, 80),
)
def test_prepare_pairs_never_exceed_the_model_window(
    model: Model,
    data: st.DataObject,
    query: str,
    overlap: int,
    max_tokens: int,
    span_tokens: int,
) -> None:
    tokenizer = model.tokenizer
    documents = data.draw(st.lists(prose(long_enough(model) // 2), min_size=1, max_size=4))
    prepared = run(
        tokenizer,
        query,
        documents,
        overlap=overlap,
        max_tokens_per_doc=max_tokens,
        spans=True,
        span_tokens=span_tokens,
    )
    size = tokenizer.document_window(tokenizer.encode_query(query))
    assert all(pair.n_tokens <= tokenizer.max_length for pair in prepared.pairs)
    assert all(pair.type_ids.shape == pair.input_ids.shape for pair in prepared.pairs)
    for index, document in enumerate(documents):
        windows = windows_of(prepared, index)
        assert [w.chunk_index for w in windows] == list(range(len(windows)))
        kept = min(tokenizer.encode_texts([document])[0].n_tokens, max_tokens)
        if kept > size:  # a split document: every window is a full one
            assert all(w.n_tokens == tokenizer.max_length for w in windows)
    doc_order = [p.doc_index for p in prepared.pairs[: prepared.n_windows]]
    assert doc_order == sorted(doc_order) and set(doc_order) == set(range(len(documents)))


# --- windows cover the truncated document ---------------------------------------------


@DETERMINISTIC
@given(
    data=st.data(),
    query=queries,
    overlap=st.integers(0, 40),
    max_tokens=st.integers(1, 1_000),
)
def test_prepare_windows_cover_every_token_of_the_truncated_document(
    wordpiece_model: Model, data: st.DataObject, query: str, overlap: int, max_tokens: int
) -> None:
    tokenizer = wordpiece_model.tokenizer
    words = unique_words(wordpiece_model.single_token_words, long_enough(wordpiece_model))
    documents = data.draw(st.lists(words, min_size=1, max_size=3))
    prepared = run(tokenizer, query, documents, overlap=overlap, max_tokens_per_doc=max_tokens)
    size = tokenizer.document_window(tokenizer.encode_query(query))
    for index, document in enumerate(documents):
        every = tokenizer.encode_texts([document])[0].ids
        kept = every[:max_tokens]
        ranges = scored_positions(tokenizer, query, prepared, index, kept)
        covered = {token for start, end in ranges for token in range(start, end)}
        assert covered == set(range(kept.shape[0])), "every kept token is in a window"
        assert [start for start, _ in ranges] == sorted({start for start, _ in ranges})
        for (_, end), (start, _) in pairwise(ranges):
            assert end - start >= min(overlap, size // 2), "consecutive windows overlap"
        assert (index in prepared.cut) == (every.shape[0] > max_tokens)


# --- a document that fits is the unchunked pair ---------------------------------------


@DETERMINISTIC
@given(data=st.data(), query=queries, max_tokens=st.integers(1, 300))
def test_prepare_a_document_that_fits_is_exactly_the_unchunked_pair(
    model: Model, data: st.DataObject, query: str, max_tokens: int
) -> None:
    tokenizer = model.tokenizer
    documents = data.draw(st.lists(prose(tokenizer.max_length // 3), min_size=1, max_size=5))
    prepared = run(tokenizer, query, documents, max_tokens_per_doc=max_tokens)
    size = tokenizer.document_window(tokenizer.encode_query(query))
    unchunked = model.library_pairs(query, documents)
    for index, document in enumerate(documents):
        if tokenizer.encode_texts([document])[0].n_tokens > min(size, max_tokens):
            continue
        (window,) = windows_of(prepared, index)
        assert window.input_ids.tolist() == unchunked[index].ids
        assert window.type_ids.tolist() == unchunked[index].type_ids
        assert window.chunk_index == 0 and index not in prepared.cut


def test_prepare_fitting_documents_give_one_pair_each(model: Model) -> None:
    tokenizer = model.tokenizer
    documents = ["", "the quick fox", "café 🙂 naïve"]
    size = tokenizer.document_window(tokenizer.encode_query("what boils"))
    assert all(tokens.n_tokens <= size for tokens in tokenizer.encode_texts(documents))
    prepared = run(tokenizer, "what boils", documents)
    assert prepared.n_windows == len(prepared.pairs) == 3
    assert prepared.cut == [] and prepared.spans == []
    expected = model.library_pairs("what boils", documents)
    assert [p.input_ids.tolist() for p in prepared.pairs] == [e.ids for e in expected]


# --- max_chunks_per_doc --------------------------------------------------------------------


@DETERMINISTIC
@given(
    data=st.data(),
    query=queries,
    overlap=st.integers(0, 40),
    cap=st.integers(1, 4),
    max_tokens=st.integers(1, 1_000),
)
def test_prepare_max_chunks_caps_windows_and_marks_documents_cut(
    wordpiece_model: Model,
    data: st.DataObject,
    query: str,
    overlap: int,
    cap: int,
    max_tokens: int,
) -> None:
    tokenizer = wordpiece_model.tokenizer
    words = unique_words(wordpiece_model.single_token_words, long_enough(wordpiece_model))
    documents = data.draw(st.lists(words, min_size=1, max_size=3))
    options: dict[str, Any] = {"overlap": overlap, "max_tokens_per_doc": max_tokens}
    capped = run(tokenizer, query, documents, max_windows_per_doc=cap, **options)
    every = run(tokenizer, query, documents, **options)
    for index, document in enumerate(documents):
        tokens = tokenizer.encode_texts([document])[0].ids
        windows = windows_of(capped, index)
        assert 1 <= len(windows) <= cap
        uncapped = windows_of(every, index)
        assert [w.input_ids.tolist() for w in windows] == [
            w.input_ids.tolist() for w in uncapped[:cap]
        ], "the cap keeps the first windows"
        ranges = scored_positions(tokenizer, query, capped, index, tokens)
        scored = max(end for _, end in ranges)
        covered = {token for start, end in ranges for token in range(start, end)}
        assert covered == set(range(scored)), "the scored tokens are a prefix"
        assert (index in capped.cut) == (scored < tokens.shape[0])


@DETERMINISTIC
@given(data=st.data(), query=queries, cap=st.integers(1, 3), max_tokens=st.integers(1, 1_000))
def test_prepare_keep_end_scores_the_last_tokens(
    wordpiece_model: Model, data: st.DataObject, query: str, cap: int, max_tokens: int
) -> None:
    """``truncation_side="left"``: the windows (and the token cap) keep a document's end,
    mirroring what the default keeps of its start."""
    tokenizer = wordpiece_model.tokenizer
    size = long_enough(wordpiece_model)
    words = st.lists(
        st.sampled_from(wordpiece_model.single_token_words), unique=True, max_size=size
    )
    document = " ".join(data.draw(words))  # every token once: each window has one place
    tokens = tokenizer.encode_texts([document])[0].ids
    options: dict[str, Any] = {"max_tokens_per_doc": max_tokens, "max_windows_per_doc": cap}
    tail = run(tokenizer, query, [document], keep_end=True, **options)
    head = run(tokenizer, query, [document], **options)
    n = tokens.shape[0]
    ends = scored_positions(tokenizer, query, tail, 0, tokens)
    starts = scored_positions(tokenizer, query, head, 0, tokens)
    assert ends == [(n - end, n - start) for start, end in reversed(starts)]
    assert max(end for _, end in ends) == n, "the last token is always scored"
    assert (0 in tail.cut) == (0 in head.cut)


def test_prepare_keep_end_spans_point_into_the_document_as_sent(tiny_model_dir: Path) -> None:
    tokenizer = PairTokenizer.from_directory(tiny_model_dir, max_length=TINY_MAX_LENGTH)
    document = "The museum opened. " * 40 + "Water boils at sea level."
    prepared = run(
        tokenizer,
        "water",
        [document],
        keep_end=True,
        max_windows_per_doc=1,
        spans=True,
        chars_per_token=2,
        max_tokens_per_doc=20,
    )
    last = max(prepared.spans, key=lambda span: span.end)
    assert document[last.start : last.end].endswith("Water boils at sea level.")
    assert all(0 <= span.start < span.end <= len(document) for span in prepared.spans)


def test_prepare_one_chunk_is_plain_truncation(model: Model) -> None:
    tokenizer = model.tokenizer
    document = " ".join(["the quick fox, water boils"] * 80)
    prepared = run(tokenizer, "water", [document], max_windows_per_doc=1)
    (expected,) = model.library_pairs("water", [document])
    assert expected.overflowing
    assert [p.input_ids.tolist() for p in prepared.pairs] == [expected.ids]
    assert prepared.cut == [0]


def test_prepare_character_cap_marks_the_document_cut(model: Model) -> None:
    tokenizer = model.tokenizer
    document = "water " * 50
    n_tokens = tokenizer.encode_texts([document])[0].n_tokens
    whole = run(tokenizer, "water", [document], max_tokens_per_doc=n_tokens)
    assert whole.cut == []
    short = run(tokenizer, "water", [document], max_tokens_per_doc=n_tokens - 1)
    assert short.cut == [0]
    # a one-character-per-token allowance cuts the text itself before it is tokenized
    assert len(document) > n_tokens
    chars = run(tokenizer, "water", [document], max_tokens_per_doc=n_tokens, chars_per_token=1)
    assert chars.cut == [0]


# --- the pair budget ------------------------------------------------------------------


class CountingTokenizer(PairTokenizer):
    """The real tokenizer, counting the pairs it is asked to build."""

    built = 0

    def pair(self, query_ids: IntArray, document_ids: IntArray) -> tuple[IntArray, IntArray]:
        CountingTokenizer.built += 1
        return super().pair(query_ids, document_ids)


@DETERMINISTIC
@given(data=st.data(), query=queries, spans=st.booleans())
def test_prepare_refuses_more_pairs_than_the_budget_before_building_any(
    tiny_model_dir: Path, data: st.DataObject, query: str, spans: bool
) -> None:
    tokenizer = CountingTokenizer.from_directory(tiny_model_dir, max_length=TINY_MAX_LENGTH)
    documents = data.draw(st.lists(prose(80), min_size=1, max_size=4))
    needed = len(run(tokenizer, query, documents, spans=spans).pairs)
    exact = run(tokenizer, query, documents, spans=spans, max_pairs=needed)
    assert len(exact.pairs) == needed
    CountingTokenizer.built = 0
    with pytest.raises(TooManyDocumentsError, match=f"more than {needed - 1} windows"):
        run(tokenizer, query, documents, spans=spans, max_pairs=needed - 1)
    assert CountingTokenizer.built == 0


# --- span candidates ------------------------------------------------------------------


def visible(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` without the whitespace at either end (``(start, start)`` if blank)."""
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    return (start + lead, start + lead + len(piece.strip()))


def assert_span_pairs_score_their_text(
    tokenizer: PairTokenizer, query: str, document: str, prepared: Prepared, index: int
) -> None:
    """Each candidate's pair holds a run of the document's tokens whose visible text is
    exactly ``document[start:end]``."""
    query_ids = tokenizer.encode_query(query)
    tokens = tokenizer.encode_texts([document])[0]
    for candidate in (c for c in prepared.spans if c.doc_index == index):
        pair = prepared.pairs[candidate.row]
        assert pair.doc_index == index
        part = document_part(tokenizer, query_ids, pair)
        width = part.shape[0]
        assert any(
            np.array_equal(tokens.ids[a : a + width], part)
            and visible(document, int(tokens.offsets[a, 0]), int(tokens.offsets[a + width - 1, 1]))
            == (candidate.start, candidate.end)
            for a in range(tokens.n_tokens - width + 1)
        ), "the span's pair scores the span's own tokens"


@DETERMINISTIC
@given(
    data=st.data(),
    query=queries,
    max_tokens=st.integers(1, 400),
    span_tokens=st.integers(4, 80),
)
def test_prepare_span_candidates_point_into_the_scored_document_as_sent(
    model: Model, data: st.DataObject, query: str, max_tokens: int, span_tokens: int
) -> None:
    tokenizer = model.tokenizer
    documents = data.draw(st.lists(prose(long_enough(model) // 2), min_size=1, max_size=3))
    prepared = run(
        tokenizer,
        query,
        documents,
        max_tokens_per_doc=max_tokens,
        spans=True,
        span_tokens=span_tokens,
    )
    assert all(0 <= c.row < len(prepared.pairs) for c in prepared.spans)
    for index, document in enumerate(documents):
        tokens = tokenizer.encode_texts([document])[0]
        scored = min(tokens.n_tokens, max_tokens)
        candidates = [c for c in prepared.spans if c.doc_index == index]
        if scored == 0:
            assert candidates == []
            continue
        scored_end = int(tokens.offsets[scored - 1, 1])
        for candidate in candidates:
            assert 0 <= candidate.start < candidate.end <= scored_end <= len(document)
            text = document[candidate.start : candidate.end]
            assert text == text.strip(), "a span starts and ends on visible text"
        for start, end in tokens.offsets[:scored].tolist():
            first, last = visible(document, start, end)
            assert first == last or any(c.start <= first and last <= c.end for c in candidates), (
                "every scored token with visible text is in a span"
            )
        assert_span_pairs_score_their_text(tokenizer, query, document, prepared, index)


def test_prepare_spans_are_code_point_offsets_of_non_ascii_sentences(tiny_model_dir: Path) -> None:
    tokenizer = PairTokenizer.from_directory(tiny_model_dir, max_length=64)
    sentences = [
        "🙂 Café au lait is naïve.",
        "日本語のテキストです。",
        "Water boils at 100 degrees!",
    ]
    document = "  ".join(sentences)
    prepared = run(tokenizer, "boiling water", [document], spans=True, span_tokens=16)
    found = [document[c.start : c.end] for c in prepared.spans]
    assert found == sentences
    assert prepared.n_windows == 1 and len(prepared.pairs) == 1 + len(sentences)
    assert_span_pairs_score_their_text(tokenizer, "boiling water", document, prepared, 0)


def test_prepare_no_span_candidate_is_only_whitespace(
    tiny_model_factory: Callable[..., Path],
) -> None:
    # byte-level BPE (ModernBERT) makes a token of trailing whitespace; on its own it is
    # not a span worth scoring or returning
    tokenizer = PairTokenizer.from_directory(tiny_model_factory("modernbert"), max_length=32)
    document = "the. "
    prepared = run(tokenizer, "the", [document], spans=True, span_tokens=4)
    assert [
        document[c.start : c.end] for c in prepared.spans if not document[c.start : c.end].strip()
    ] == []


def test_prepare_one_span_that_is_the_window_reuses_its_pair(tiny_model_dir: Path) -> None:
    tokenizer = PairTokenizer.from_directory(tiny_model_dir, max_length=64)
    prepared = run(tokenizer, "water", ["Water boils.", "the fox"], spans=True)
    assert len(prepared.pairs) == prepared.n_windows == 2
    assert [(c.doc_index, c.start, c.end, c.row) for c in prepared.spans] == [
        (0, 0, len("Water boils."), 0),
        (1, 0, len("the fox"), 1),
    ]


def test_prepare_spans_of_a_structured_string_point_into_the_string_as_sent(
    tiny_model_dir: Path,
) -> None:
    tokenizer = PairTokenizer.from_directory(tiny_model_dir, max_length=64)
    record = {"title": "Café 🙂 naïve", "body": "Water boils. The fox is quick!", "n": 3}
    document = json.dumps(record, ensure_ascii=False, indent=1)
    prepared = run(tokenizer, "water", [document], spans=True, span_tokens=8, structured=True)
    assert prepared.spans
    for candidate in prepared.spans:
        assert 0 <= candidate.start < candidate.end <= len(document)
        assert document[candidate.start : candidate.end].strip()
    # each span covers whole fields of the JSON text: one starts at the "body" key
    assert any(document[c.start :].startswith('"body"') for c in prepared.spans)
