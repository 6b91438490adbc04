"""Candidate relevant spans: sentences, in token positions (pure functions).

A span is scored as its own (query, span) pair, so it is sized for a cross-encoder to
judge on its own: a sentence, with a very short one joined to the next; a sentence
longer than the token budget is cut into pieces of the budget.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from openrerank.engine.documents.windows import TokenRange
from openrerank.types import FloatArray, IntArray, Span, SpanOptions

# A sentence ends after . ! ? ; or the ellipsis (and any closing quotes or brackets) when
# whitespace follows; after the ideographic full stop and fullwidth ! ? ; always (Chinese
# and Japanese put no space after them); and at a line break.
_CLOSERS = "\"')\\]\u201d\u2019\u300d\u300f"
_SENTENCE_END = re.compile(
    rf"[.!?;\u2026][{_CLOSERS}]*(?=\s)|[\u3002\uff01\uff1f\uff1b][{_CLOSERS}]*|(?=\n)"
)


@dataclass(frozen=True)
class SpanCandidate:
    """A span whose score is read from one pair's logits.

    Attributes:
        doc_index: the document.
        start: first character in the document as sent.
        end: one past the last character.
        row: the pair (logits row) that scored it.
    """

    doc_index: int
    start: int
    end: int
    row: int


def sentence_ends(text: str) -> list[int]:
    """Character positions where a sentence ends (after its closing punctuation, or at
    a line break), in increasing order, excluding the start and the end of the text;
    an end with only whitespace since the previous one is dropped."""
    kept: list[int] = []
    for match in _SENTENCE_END.finditer(text):
        end, last = match.end(), kept[-1] if kept else 0
        if last < end < len(text) and text[last:end].strip():
            kept.append(end)
    return kept


def sentence_ranges(offsets: IntArray, ends: list[int]) -> list[TokenRange]:
    """The tokens of each sentence, from the tokens' character offsets."""
    if offsets.shape[0] == 0:
        return []
    sentence_of = np.searchsorted(np.asarray(ends, dtype=np.int64), offsets[:, 0], side="right")
    cuts = np.flatnonzero(np.diff(sentence_of)) + 1
    bounds = [0, *cuts.tolist(), int(offsets.shape[0])]
    return list(pairwise(bounds))


def span_units(sentences: list[TokenRange], max_tokens: int) -> list[TokenRange]:
    """Sentences as units: one sentence each, a short one (under a quarter of
    ``max_tokens``) joined with the next, a long one cut into ``max_tokens`` pieces.

    Units are contiguous, in order, at most ``max_tokens`` long, and cover exactly the
    sentences' tokens.

    Raises:
        ValueError: ``max_tokens`` below 1.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")
    short = max(1, max_tokens // 4)
    units: list[TokenRange] = []
    for start, end in _pieces(sentences, max_tokens):
        previous = units[-1] if units else None
        if previous and previous[1] - previous[0] < short and end - previous[0] <= max_tokens:
            units[-1] = (previous[0], end)
        else:
            units.append((start, end))
    return units


def _pieces(sentences: list[TokenRange], max_tokens: int) -> list[TokenRange]:
    pieces: list[TokenRange] = []
    for start, end in sentences:
        pieces.extend((a, min(a + max_tokens, end)) for a in range(start, end, max_tokens))
    return pieces


def char_range(offsets: IntArray, tokens: TokenRange) -> tuple[int, int]:
    """The characters ``[start, end)`` that tokens ``[a, b)`` came from."""
    first, last = tokens
    if last <= first:
        return (0, 0)
    return (int(offsets[first, 0]), int(offsets[last - 1, 1]))


def select_spans(
    candidates: Sequence[SpanCandidate],
    scores: FloatArray,
    options: SpanOptions,
    n_documents: int,
) -> list[tuple[Span, ...]]:
    """Each document's spans at or above the threshold, best first, at most
    ``max_spans``; ``scores`` holds one relevance score per pair."""
    found: list[list[Span]] = [[] for _ in range(n_documents)]
    for candidate in candidates:
        score = float(scores[candidate.row])
        if score >= options.threshold:
            found[candidate.doc_index].append(Span(candidate.start, candidate.end, score))
    keep = options.max_spans
    return [
        tuple(sorted(spans, key=lambda span: (-span.score, span.start))[:keep]) for spans in found
    ]
