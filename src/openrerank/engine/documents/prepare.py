"""Documents to pairs: render, cap, tokenize, split into windows, add span candidates.

Runs on the service's tokenizer pool. A document is rendered (objects and YAML/JSON
strings become ``key: value`` lines), cut to ``max_tokens_per_doc x chars_per_token``
characters, tokenized once, cut to ``max_tokens_per_doc`` tokens and split into windows
that fit next to the (capped) query. With relevant spans on, runs of whole sentences of
the scored tokens become extra pairs. The request's pair count is checked against its
budget before any pair is built, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from openrerank.engine.documents.render import (
    Rendered,
    nothing_to_score,
    render_object,
    render_text,
)
from openrerank.engine.documents.spans import (
    SpanCandidate,
    char_range,
    sentence_ends,
    sentence_ranges,
    span_units,
)
from openrerank.engine.documents.windows import TokenRange, covered_tokens, window_ranges
from openrerank.engine.tokenization.encoder import PairEncoder
from openrerank.engine.validation import check_lengths
from openrerank.errors import DocumentTypeError, TooManyDocumentsError
from openrerank.types import (
    Document,
    EncodedPair,
    IntArray,
    TokenizedText,
)

TOKENIZE_SLICE = 256
"""Documents tokenized at a time, so a request's token arrays are built incrementally."""
Q = TypeVar("Q")


@dataclass(frozen=True)
class PrepareOptions:
    """How one request's documents become pairs.

    Attributes:
        max_tokens_per_doc: tokens of a document that may be scored.
        max_windows_per_doc: windows per document (``max_chunks_per_doc``); ``None`` = all.
        overlap: tokens shared by consecutive windows.
        max_pairs: pairs the request may build, windows and spans together.
        structured: render YAML/JSON strings as ``key: value`` lines.
        rank_fields: the keys of object documents to score, in order.
        keep_end: truncation and ``max_windows_per_doc`` keep a document's end
            instead of its start (``truncation_side="left"``).
        spans: score runs of sentences as candidate relevant spans.
        span_tokens: token budget of one span.
        chars_per_token: characters kept per allowed token before tokenizing.
        max_query_chars: the query's character limit.
        max_document_chars: a rendered document's character limit.
        instruction: the instruction an LLM reranker's prompt carries (``None`` =
            none; the service resolves request, operator and recipe defaults).
    """

    max_tokens_per_doc: int
    max_windows_per_doc: int | None
    overlap: int
    max_pairs: int
    structured: bool
    rank_fields: tuple[str, ...] | None
    keep_end: bool
    spans: bool
    span_tokens: int
    chars_per_token: int
    max_query_chars: int
    max_document_chars: int
    instruction: str | None = None


@dataclass(frozen=True)
class Prepared:
    """A request's pairs: its windows first, then its span pairs.

    Attributes:
        pairs: every pair to score.
        n_windows: the first ``n_windows`` pairs are windows; the rest score spans.
        spans: the candidate spans (empty unless asked for).
        cut: documents with tokens that no window scores.
    """

    pairs: list[EncodedPair]
    n_windows: int
    spans: list[SpanCandidate]
    cut: list[int]


@dataclass(frozen=True)
class _Document:
    rendered: Rendered
    tokens: TokenizedText
    windows: list[TokenRange]
    units: list[TokenRange]
    cut: bool


def prepare(
    tokenizer: PairEncoder[Any], query: str, documents: Sequence[Document], options: PrepareOptions
) -> Prepared:
    """Pairs for every document (see the module docstring).

    Raises:
        InputTooLongError: the query or a rendered document over its character limit.
        DocumentTypeError: an object document without the fields to score.
        TooManyDocumentsError: more pairs than ``options.max_pairs``.
    """
    rendered = _render_all(documents, options)
    check_lengths(
        query,
        [r.text for r in rendered],
        max_query_chars=options.max_query_chars,
        max_document_chars=options.max_document_chars,
    )
    query_ids = tokenizer.encode_query(query, options.instruction)
    size = tokenizer.document_window(query_ids)
    planned = list(_plan(tokenizer, rendered, size, options))
    return _build(tokenizer, query_ids, planned)


def _render_all(documents: Sequence[Document], options: PrepareOptions) -> list[Rendered]:
    """Every document's text; a record with nothing to score reads as empty text,
    unless no record of the request has anything (most likely misspelled fields).

    Raises:
        DocumentTypeError: object documents, none of which has a field to score.
    """
    rendered: list[Rendered] = []
    records: list[int] = []
    found = False
    for index, document in enumerate(documents):
        if isinstance(document, str):
            rendered.append(render_text(document) if options.structured else Rendered(document))
            continue
        record = render_object(document, options.rank_fields, index=index)
        records.append(index)
        found = found or record is not None
        rendered.append(record or Rendered(""))
    if records and not found:
        raise DocumentTypeError(nothing_to_score(options.rank_fields, records))
    return rendered


def _plan(
    tokenizer: PairEncoder[Q], rendered: list[Rendered], size: int, options: PrepareOptions
) -> Iterator[_Document]:
    cap = options.max_tokens_per_doc * options.chars_per_token
    budget = options.max_pairs
    documents = iter(rendered)
    while chunk := list(islice(documents, TOKENIZE_SLICE)):
        cut = [_cap_text(r.text, cap, keep_end=options.keep_end) for r in chunk]
        encoded = tokenizer.encode_texts([text for text, _ in cut])
        for item, tokens, (_, shift) in zip(chunk, encoded, cut, strict=True):
            document = _plan_one(item, _shifted(tokens, shift), size, options, cap)
            budget -= len(document.windows) + _extra_pairs(document)
            if budget < 0:
                raise TooManyDocumentsError(
                    f"the request needs more than {options.max_pairs} windows (documents x "
                    "windows each); send fewer or shorter documents, or a lower "
                    "max_tokens_per_doc"
                )
            yield document


def _plan_one(
    rendered: Rendered, tokens: TokenizedText, size: int, options: PrepareOptions, cap: int
) -> _Document:
    limit = options.max_tokens_per_doc
    part = slice(-limit, None) if options.keep_end else slice(limit)
    kept = TokenizedText(tokens.ids[part], tokens.offsets[part])
    windows = window_ranges(
        kept.n_tokens, size, overlap=options.overlap, max_windows=options.max_windows_per_doc
    )
    if options.keep_end:  # the same windows, counted from the document's end
        n = kept.n_tokens
        windows = [(n - end, n - start) for start, end in reversed(windows)]
    first, last = windows[0][0], covered_tokens(windows)
    cut = last - first < tokens.n_tokens or len(rendered.text) > cap
    units = (
        _units(rendered.text, kept.offsets[first:last], min(options.span_tokens, size), first)
        if options.spans
        else []
    )
    return _Document(rendered, kept, windows, units, cut)


def _cap_text(text: str, cap: int, *, keep_end: bool) -> tuple[str, int]:
    """The first (or last) ``cap`` characters, and where they start in ``text``."""
    if len(text) <= cap:
        return text, 0
    return (text[-cap:], len(text) - cap) if keep_end else (text[:cap], 0)


def _shifted(tokens: TokenizedText, shift: int) -> TokenizedText:
    """Offsets into the whole text for tokens of a part starting at ``shift``."""
    return tokens if shift == 0 else TokenizedText(tokens.ids, tokens.offsets + shift)


def _units(text: str, offsets: IntArray, span_tokens: int, first: int) -> list[TokenRange]:
    """Span units with some visible text (a byte-level BPE may make a token of spaces),
    for the scored tokens ``offsets`` (the first is token ``first`` of the document)."""
    units = span_units(sentence_ranges(offsets, sentence_ends(text)), span_tokens)
    return [
        (start + first, end + first)
        for start, end in units
        if _trimmed(text, char_range(offsets, (start, end)))[1] > 0
    ]


def _trimmed(text: str, chars: tuple[int, int]) -> tuple[int, int]:
    """``chars`` without leading and trailing whitespace; ``(start, 0)`` when blank."""
    start, end = chars
    piece = text[start:end]
    stripped = piece.lstrip()
    if not stripped.strip():
        return (start, 0)
    start += len(piece) - len(stripped)
    return (start, start + len(stripped.rstrip()))


def _extra_pairs(document: _Document) -> int:
    """Span pairs beyond the windows: none when the one span is the one window."""
    return 0 if _span_is_window(document) else len(document.units)


def _span_is_window(document: _Document) -> bool:
    return len(document.units) == 1 and document.units == document.windows


def _build(tokenizer: PairEncoder[Q], query_ids: Q, planned: list[_Document]) -> Prepared:
    pairs: list[EncodedPair] = []
    window_rows: list[int] = []
    for index, document in enumerate(planned):
        window_rows.append(len(pairs))
        for chunk, (start, end) in enumerate(document.windows):
            pairs.append(_pair(tokenizer, query_ids, document.tokens.ids[start:end], index, chunk))
    n_windows = len(pairs)
    spans: list[SpanCandidate] = []
    for index, document in enumerate(planned):
        for unit_index, unit in enumerate(document.units):
            if _span_is_window(document):
                row = window_rows[index]
            else:
                row = len(pairs)
                ids = document.tokens.ids[unit[0] : unit[1]]
                pairs.append(_pair(tokenizer, query_ids, ids, index, unit_index))
            chars = _trimmed(document.rendered.text, char_range(document.tokens.offsets, unit))
            start, end = document.rendered.to_source(*chars)
            spans.append(SpanCandidate(index, start, end, row))
    cut = [index for index, document in enumerate(planned) if document.cut]
    return Prepared(pairs=pairs, n_windows=n_windows, spans=spans, cut=cut)


def _pair(
    tokenizer: PairEncoder[Q], query_ids: Q, ids: IntArray, index: int, chunk: int
) -> EncodedPair:
    input_ids, type_ids = tokenizer.pair(query_ids, ids)
    return EncodedPair(input_ids, type_ids, doc_index=index, chunk_index=chunk)
