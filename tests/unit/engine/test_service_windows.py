"""RerankService on long documents: windows, aggregation, caps and relevant spans.

Scores come from the FakeBackend, whose logit is a deterministic function of a pair's
tokens. A window's expected score is computed by scoring that window's text as a document
of its own (every word of these documents is one token, so a window's text tokenizes to
exactly the window's tokens); nothing here is a hard-coded score.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from tokenizers import Tokenizer

from openrerank.config import Aggregation, ChunkingConfig, EngineConfig, ModelConfig
from openrerank.engine.backends.base import collate
from openrerank.engine.backends.fake import FakeBackend, overlap_logits
from openrerank.engine.documents.windows import window_ranges
from openrerank.engine.model.activation import sigmoid
from openrerank.engine.model.spec import read_spec
from openrerank.engine.service import RerankService
from openrerank.engine.tokenization.tokenizer import PairTokenizer
from openrerank.errors import InputTooLongError, InvalidInputError
from openrerank.types import Document, FloatArray, RerankOutcome, SpanOptions
from pair_oracle import as_pair, library_pairs

T = TypeVar("T")
OVERLAP = ChunkingConfig().window_overlap


class Corpus:
    """The tiny model's tokenizer, its window next to the query, and one-token words."""

    def __init__(self, model_dir: Path) -> None:
        spec = read_spec(model_dir)
        self.tokenizer = PairTokenizer.from_directory(model_dir, max_length=spec.max_length)
        vocab = Tokenizer.from_file(str(model_dir / "tokenizer.json")).get_vocab()
        self.words = sorted(
            word
            for word in vocab
            if word.isascii()
            and word.isalpha()
            and len(word) > 1
            and self.tokenizer.count_tokens(word) == 1
        )
        self.query = " ".join(self.words[:6])
        self.filler = self.words[6:]
        self.size = self.tokenizer.document_window(self.tokenizer.encode_query(self.query))

    def document(self, n_words: int, *, relevant_at: int | None = None) -> list[str]:
        """``n_words`` filler words, with the query's words from ``relevant_at`` on."""
        words = [self.filler[i % len(self.filler)] for i in range(n_words)]
        if relevant_at is not None:
            query_words = self.query.split()
            words[relevant_at : relevant_at + len(query_words)] = query_words
        return words

    def windows(self, words: list[str], *, max_windows: int | None = None) -> list[str]:
        """The text of each window the service should score."""
        ranges = window_ranges(len(words), self.size, overlap=OVERLAP, max_windows=max_windows)
        return [" ".join(words[start:end]) for start, end in ranges]


@pytest.fixture(scope="module")
def corpus(tiny_model_dir: Path) -> Corpus:
    return Corpus(tiny_model_dir)


def serve(
    model_dir: Path,
    call: Callable[[RerankService], Coroutine[Any, Any, T]],
    *,
    backend: FakeBackend | None = None,
    **chunking: Any,
) -> T:
    config = EngineConfig(
        model=ModelConfig(name=str(model_dir), backend="fake"),
        chunking=ChunkingConfig(**chunking),
    )

    async def scenario() -> T:
        async with RerankService(config, backend=backend or FakeBackend()) as service:
            return await call(service)

    return asyncio.run(scenario())


def scores(
    model_dir: Path, query: str, documents: Sequence[Document], **options: Any
) -> FloatArray:
    """Scores from a fresh service with the default chunking."""
    return serve(model_dir, lambda s: s.score(query, documents, **options))


# --- aggregation ---------------------------------------------------------------------------


def test_service_long_document_scores_its_best_window(tiny_model_dir: Path, corpus: Corpus) -> None:
    words = corpus.document(5 * corpus.size, relevant_at=3 * corpus.size)
    windows = corpus.windows(words)
    assert len(windows) > 3
    per_window = scores(tiny_model_dir, corpus.query, windows)
    assert int(per_window.argmax()) not in (0, len(windows) - 1), "the best is a middle window"
    (document,) = scores(tiny_model_dir, corpus.query, [" ".join(words)])
    assert document == pytest.approx(float(per_window.max()), rel=1e-6)


def test_service_two_label_model_scores_its_best_window(
    tiny_model_factory: Callable[..., Path], corpus: Corpus
) -> None:
    two_labels = tiny_model_factory("bert", 2)
    words = corpus.document(4 * corpus.size, relevant_at=2 * corpus.size)
    windows = corpus.windows(words)

    def run(documents: list[str]) -> FloatArray:
        return serve(
            two_labels,
            lambda s: s.score(corpus.query, documents, raw=True),
            backend=FakeBackend(num_labels=2),
        )

    per_window = run(windows)
    (document,) = run([" ".join(words)])
    assert document == pytest.approx(float(per_window.max()), rel=1e-6)


@pytest.mark.parametrize("aggregation", ["mean", "first"])
def test_service_aggregation_mean_and_first(
    tiny_model_dir: Path, corpus: Corpus, aggregation: Aggregation
) -> None:
    words = corpus.document(4 * corpus.size, relevant_at=2 * corpus.size)
    windows = corpus.windows(words)
    logits = scores(tiny_model_dir, corpus.query, windows, raw=True)
    expected = logits.mean(dtype=np.float64) if aggregation == "mean" else logits[0]
    assert logits.mean() != pytest.approx(logits[0]), "mean and first must differ here"

    async def both(service: RerankService) -> tuple[FloatArray, FloatArray]:
        document = [" ".join(words)]
        raw = await service.score(corpus.query, document, raw=True)
        return raw, await service.score(corpus.query, document)

    raw, relevance = serve(tiny_model_dir, both, aggregation=aggregation)
    assert float(raw[0]) == pytest.approx(float(expected), rel=1e-5)
    # the activation applies to the aggregated logit (not the mean of window scores)
    assert float(relevance[0]) == pytest.approx(float(sigmoid(np.float64(expected))), rel=1e-5)


def test_service_gives_one_result_per_document_with_its_index(
    tiny_model_dir: Path, corpus: Corpus
) -> None:
    texts = [
        " ".join(corpus.document(n, relevant_at=at))
        for n, at in [(5, None), (3 * corpus.size, corpus.size), (corpus.size, 0), (2, None)]
    ]

    async def both(service: RerankService) -> tuple[RerankOutcome, FloatArray]:
        return await service.rerank(corpus.query, texts), await service.score(corpus.query, texts)

    outcome, in_order = serve(tiny_model_dir, both)
    assert sorted(r.index for r in outcome.results) == [0, 1, 2, 3]
    for result in outcome.results:
        assert result.relevance_score == pytest.approx(float(in_order[result.index]))
    per_document = [
        scores(tiny_model_dir, corpus.query, corpus.windows(text.split())).max() for text in texts
    ]
    np.testing.assert_allclose(in_order, per_document, rtol=1e-6)


def test_service_usage_counts_every_window_and_its_tokens(
    tiny_model_dir: Path, corpus: Corpus
) -> None:
    lengths = [3, corpus.size, corpus.size + 1, 4 * corpus.size]
    texts = [" ".join(corpus.document(n)) for n in lengths]
    outcome = serve(tiny_model_dir, lambda s: s.rerank(corpus.query, texts))
    query_tokens = corpus.tokenizer.encode_query(corpus.query).shape[0]
    ranges = [window_ranges(n, corpus.size, overlap=OVERLAP) for n in lengths]
    assert outcome.usage.documents == len(texts)
    assert outcome.usage.pairs == sum(len(r) for r in ranges) > len(texts)
    assert outcome.usage.tokens == sum(
        corpus.tokenizer.pair_specials + query_tokens + end - start
        for document in ranges
        for start, end in document
    )


# --- caps and truncation ------------------------------------------------------------------


def test_service_one_chunk_per_document_is_plain_truncation(
    tiny_model_dir: Path, corpus: Corpus
) -> None:
    words = corpus.document(3 * corpus.size, relevant_at=2 * corpus.size)
    text = " ".join(words)
    outcome = serve(
        tiny_model_dir, lambda s: s.rerank(corpus.query, [text], max_chunks_per_doc=1, raw=True)
    )
    tokenizer = corpus.tokenizer
    capped = tokenizer.cap_query(corpus.query)
    (truncated,) = library_pairs(tiny_model_dir, capped, [text], max_length=tokenizer.max_length)
    assert truncated.overflowing
    expected = overlap_logits(collate([as_pair(truncated)], tokenizer.pad_id))[0]
    assert outcome.usage.pairs == 1
    assert outcome.results[0].relevance_score == pytest.approx(float(expected), rel=1e-6)
    (first_window,) = scores(tiny_model_dir, corpus.query, corpus.windows(words)[:1], raw=True)
    assert float(expected) == pytest.approx(float(first_window), rel=1e-6)


def test_service_max_chunks_scores_only_the_first_windows(
    tiny_model_dir: Path, corpus: Corpus
) -> None:
    # the relevant words sit in the last window, which a cap of 2 does not score
    words = corpus.document(5 * corpus.size, relevant_at=5 * corpus.size - 8)
    text = " ".join(words)
    capped = scores(tiny_model_dir, corpus.query, [text], max_chunks_per_doc=2)
    allowed = scores(tiny_model_dir, corpus.query, corpus.windows(words, max_windows=2))
    np.testing.assert_allclose(capped, [allowed.max()], rtol=1e-6)
    assert capped[0] < scores(tiny_model_dir, corpus.query, [text])[0]


def test_service_max_tokens_per_doc_cuts_before_windowing(
    tiny_model_dir: Path, corpus: Corpus
) -> None:
    words = corpus.document(4 * corpus.size, relevant_at=3 * corpus.size)
    kept = 2 * corpus.size
    cut = scores(tiny_model_dir, corpus.query, [" ".join(words)], max_tokens_per_doc=kept)
    expected = scores(tiny_model_dir, corpus.query, corpus.windows(words[:kept]))
    np.testing.assert_allclose(cut, [expected.max()], rtol=1e-6)


def test_service_without_truncation_refuses_one_token_over_the_window(
    tiny_model_dir: Path, corpus: Corpus
) -> None:
    fake = FakeBackend()
    fits = " ".join(corpus.document(corpus.size))
    over = " ".join(corpus.document(corpus.size + 1))

    async def scenario(service: RerankService) -> RerankOutcome:
        with pytest.raises(InputTooLongError, match=r"documents \[1\] do not fit"):
            await service.rerank(corpus.query, [fits, over], truncate=False)
        return await service.rerank(corpus.query, [fits], truncate=False)

    outcome = serve(tiny_model_dir, scenario, backend=fake)
    assert outcome.usage.pairs == 1
    assert sum(batch.size for batch in fake.batches) == 1, "the refused request scored nothing"


# --- relevant spans -------------------------------------------------------------------------


def test_service_relevant_spans_need_string_documents(tiny_model_dir: Path) -> None:
    fake = FakeBackend()
    documents: list[Document] = ["a string", {"text": "an object"}]

    async def scenario(service: RerankService) -> None:
        with pytest.raises(InvalidInputError, match="string documents"):
            await service.rerank("query", documents, relevant_spans=SpanOptions())
        with pytest.raises(InvalidInputError, match="rerank"):
            await service.score("query", ["text"], relevant_spans=SpanOptions())

    serve(tiny_model_dir, scenario, backend=fake)
    assert fake.batches == []


def span_document(corpus: Corpus) -> str:
    """Sentences of 6 to 9 words sharing more and more words with the query."""
    query_words = corpus.query.split()
    sentences = []
    for share in range(len(query_words)):
        words = corpus.document(6 + share % 4)
        words[: share + 1] = query_words[: share + 1]
        sentences.append(" ".join(words) + ".")
    return " ".join(sentences)


def test_service_relevant_spans_are_scored_text_best_first(
    tiny_model_dir: Path, corpus: Corpus
) -> None:
    document = span_document(corpus)
    every = SpanOptions(threshold=0.0)
    outcome = serve(
        tiny_model_dir,
        lambda s: s.rerank(corpus.query, [document], relevant_spans=every),
        span_tokens=16,
    )
    spans = outcome.results[0].relevant_spans
    assert spans is not None and len(spans) == len(corpus.query.split())
    assert list(spans) == sorted(spans, key=lambda span: (-span.score, span.start))
    texts = [document[span.start : span.end] for span in spans]
    assert sorted(texts, key=document.index) == [s + "." for s in document[:-1].split(". ")]
    np.testing.assert_allclose(
        [span.score for span in spans], scores(tiny_model_dir, corpus.query, texts), rtol=1e-6
    )


def test_service_relevant_spans_threshold_filters_and_max_spans_caps(
    tiny_model_dir: Path, corpus: Corpus
) -> None:
    document = span_document(corpus)

    async def three(service: RerankService) -> list[Any]:
        found = []
        for options in (
            SpanOptions(threshold=0.0),
            SpanOptions(threshold=0.5),
            SpanOptions(threshold=0.0, max_spans=2),
        ):
            outcome = await service.rerank(corpus.query, [document], relevant_spans=options)
            found.append(outcome.results[0].relevant_spans)
        return found

    every, above, capped = serve(tiny_model_dir, three, span_tokens=16)
    assert 0 < len(above) < len(every), "the threshold must split these spans"
    assert list(above) == [span for span in every if span.score >= 0.5]
    assert list(capped) == list(every[:2])
