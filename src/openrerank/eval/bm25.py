"""The built-in BM25 first stage: candidates made in-process the way the shared runs were.

Scoring is the PyPI package ``bm25s`` (Lucene BM25, k1 0.9, b 0.4 by default); this module
only tokenizes, indexes, retrieves in one batched call, drops documents scoring 0 and
breaks ties: equal scores are ordered by document id, on every machine. With the default
settings it reproduces the candidate lists in ``../shared/data`` (``beir-scifact`` and
every ``xquad-r`` language) up to the order of documents with exactly equal scores (see
`bm25_scored_candidates`).

Tokenization by ``language``:

* ``"en"``: ``bm25s.tokenize`` (lower-cased, the scikit-learn pattern ``\\b\\w\\w+\\b``),
  bm25s's English stop words and PyStemmer's Snowball ``"english"`` stemmer. This is the
  recipe of the SciFact run and of ``xquad-r/en``.
* ``"ar" "de" "el" "es" "hi" "ru" "th" "tr" "vi" "zh"``: lower-cased runs of Unicode
  letters, marks and numbers (categories L, M, N); a run holding a Chinese (Han) or Thai
  character is split into overlapping character bigrams (a one-character run stays
  whole). No stop words, and no stemming unless `Bm25Settings.stem_all_languages` asks
  for it, because the shared runs stem English only.

Example:
    >>> corpus = {"d1": "Cats purr.", "d2": "Dogs run fast.", "d3": "A runner runs."}
    >>> bm25_candidates(corpus, {"q1": "running dogs"}, k=10)
    {'q1': ('d2', 'd3')}
"""

from __future__ import annotations

import logging
import math
import re
import sys
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import bm25s
import Stemmer

from openrerank.eval.datasets import BeirDataset

logger = logging.getLogger(__name__)
# bm25s pins its own logger at DEBUG on import, which prints its progress notes whatever
# the application's level; let it follow the application's logging configuration again.
logging.getLogger("bm25s").setLevel(logging.NOTSET)

SUPPORTED_LANGUAGES: tuple[str, ...] = (
    "ar",
    "de",
    "el",
    "en",
    "es",
    "hi",
    "ru",
    "th",
    "tr",
    "vi",
    "zh",
)
"""Languages with a tokenizer here: the eleven XQuAD-R languages (ISO 639-1 codes)."""

METHODS: tuple[str, ...] = ("robertson", "lucene", "atire", "bm25l", "bm25+")
"""The BM25 variants ``bm25s`` implements."""

_SNOWBALL_NAMES = {
    "ar": "arabic",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "hi": "hindi",
    "ru": "russian",
    "th": "thai",
    "tr": "turkish",
    "vi": "vietnamese",
    "zh": "chinese",
}
"""Language code to the Snowball algorithm name PyStemmer would use, if it has one."""

_BIGRAM_SCRIPTS = re.compile(
    "[\u0e00-\u0e7f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"
)
"""Thai, and the CJK unified and compatibility ideographs (Han)."""


@dataclass(frozen=True, slots=True)
class Bm25Settings:
    """How the built-in BM25 tokenizes and scores; the defaults are the shared runs'.

    Attributes:
        language: One of `SUPPORTED_LANGUAGES`; picks the tokenizer (module docstring).
        k1: Term-frequency saturation, >= 0.
        b: Document-length normalisation, in [0, 1].
        method: The ``bm25s`` scoring variant, one of `METHODS`.
        stem_all_languages: Also stem languages other than English, with PyStemmer's
            Snowball stemmer where it has one (ar de el es hi ru tr; none for th vi zh).
            Off by default: the shared runs stem English only.

    Raises:
        ValueError: If a field is out of range or the language or method is unknown.
    """

    language: str = "en"
    k1: float = 0.9
    b: float = 0.4
    method: str = "lucene"
    stem_all_languages: bool = False

    def __post_init__(self) -> None:
        if self.language not in SUPPORTED_LANGUAGES:
            supported = " ".join(SUPPORTED_LANGUAGES)
            raise ValueError(f"unknown BM25 language {self.language!r}; supported: {supported}")
        if self.method not in METHODS:
            raise ValueError(f"unknown BM25 method {self.method!r}; one of: {' '.join(METHODS)}")
        if not (math.isfinite(self.k1) and self.k1 >= 0):
            raise ValueError(f"k1 must be a finite number >= 0, got {self.k1}")
        if not (math.isfinite(self.b) and 0 <= self.b <= 1):
            raise ValueError(f"b must be in [0, 1], got {self.b}")

    @property
    def stemmer(self) -> str | None:
        """The PyStemmer algorithm applied to this language's tokens, or ``None``."""
        if self.language != "en" and not self.stem_all_languages:
            return None
        name = _SNOWBALL_NAMES[self.language]
        return name if name in _stemmer_algorithms() else None


def bm25_candidates(
    corpus: Mapping[str, str],
    queries: Mapping[str, str],
    *,
    k: int = 100,
    settings: Bm25Settings = Bm25Settings(),
) -> dict[str, tuple[str, ...]]:
    """Rank the corpus for each query with BM25 and keep the top ``k`` document ids.

    Args:
        corpus: Document id to the text to index (e.g. `Document.full_text`).
        queries: Query id to query text.
        k: The most documents kept per query (>= 1).
        settings: Tokenizer and scoring parameters.

    Returns:
        Query id to up to ``k`` document ids, best first, in ``queries`` order. Only
        documents scoring above 0 are kept, so a query sharing no term with the corpus
        has no entry. Equal scores are ordered by document id (string order).

    Raises:
        ValueError: If ``k`` is below 1.
    """
    scored = bm25_scored_candidates(corpus, queries, k=k, settings=settings)
    return {
        query_id: tuple(doc_id for doc_id, _ in ranking) for query_id, ranking in scored.items()
    }


def bm25_scored_candidates(
    corpus: Mapping[str, str],
    queries: Mapping[str, str],
    *,
    k: int = 100,
    settings: Bm25Settings = Bm25Settings(),
) -> dict[str, tuple[tuple[str, float], ...]]:
    """Like `bm25_candidates`, with each document's BM25 score (a float32 from bm25s).

    Ties are broken by document id rather than left in the order of bm25s's top-k
    selection (``np.argpartition`` + ``np.argsort``), which is not specified and may
    depend on the CPU's sorting kernels. The shared runs kept bm25s's order, so a tied
    pair of documents may appear swapped, and where a tie straddles rank ``k`` a
    different tied document may be kept; the scores are the same.

    Args:
        corpus: Document id to the text to index.
        queries: Query id to query text.
        k: The most documents kept per query (>= 1).
        settings: Tokenizer and scoring parameters.

    Returns:
        Query id to (document id, score) pairs, best first; see `bm25_candidates`.

    Raises:
        ValueError: If ``k`` is below 1.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    started = time.perf_counter()
    doc_ids = list(corpus)
    corpus_tokens = bm25_tokenize([corpus[d] for d in doc_ids], settings)
    query_ids = list(queries)
    if not query_ids or not any(corpus_tokens):
        return {}
    retriever = bm25s.BM25(k1=settings.k1, b=settings.b, method=settings.method)
    retriever.index(corpus_tokens, show_progress=False)
    query_tokens = bm25_tokenize([queries[q] for q in query_ids], settings)
    rankings = _top_k(retriever, query_tokens, doc_ids, k)
    logger.debug(
        "BM25 (%s): %d documents, %d queries in %.2f s",
        settings.language,
        len(doc_ids),
        len(query_ids),
        time.perf_counter() - started,
    )
    return {q: ranking for q, ranking in zip(query_ids, rankings, strict=True) if ranking}


def bm25_tokenize(texts: Sequence[str], settings: Bm25Settings = Bm25Settings()) -> list[list[str]]:
    """Tokenize texts as the built-in BM25 indexes them (module docstring).

    Args:
        texts: The texts.
        settings: Its ``language`` and ``stem_all_languages`` pick the tokenizer.

    Returns:
        One list of tokens (stemmed where a stemmer applies) per text.
    """
    stemmer_name = settings.stemmer
    stemmer = Stemmer.Stemmer(stemmer_name) if stemmer_name else None
    if settings.language == "en":
        tokens: list[list[str]] = bm25s.tokenize(
            list(texts), stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
        )
        return tokens
    split = [_split_words(text) for text in texts]
    if stemmer is None:
        return split
    return [stemmer.stemWords(words) for words in split]


def dataset_bm25(
    dataset: BeirDataset, *, k: int, language: str = "en"
) -> dict[str, tuple[str, ...]]:
    """Run the built-in BM25 over a data set's corpus for its judged queries.

    Args:
        dataset: The collection; every corpus document is indexed as `Document.full_text`.
        k: The most candidates kept per query.
        language: The tokenizer language (see `Bm25Settings`).

    Returns:
        Query id to candidate ids, best first, for each query that is in both
        ``dataset.qrels`` and ``dataset.queries`` and scores some document above 0.

    Raises:
        ValueError: If ``k`` is below 1 or the language is not supported.
    """
    settings = Bm25Settings(language=language)
    corpus = {doc_id: doc.full_text for doc_id, doc in dataset.corpus.items()}
    queries = {q: text for q, text in dataset.queries.items() if q in dataset.qrels}
    return bm25_candidates(corpus, queries, k=k, settings=settings)


def _top_k(
    retriever: Any, query_tokens: list[list[str]], doc_ids: list[str], k: int
) -> list[tuple[tuple[str, float], ...]]:
    """Select each query's ``k`` best positive-score documents, ties by document id.

    One batched ``retrieve`` fetches ``k + 1`` documents per query. A query whose last
    fetched score still equals its k-th one may have more documents tied at the cut, so
    it is fetched again, twice as deep, until the tie ends or the corpus is exhausted.
    """
    n_docs = len(doc_ids)
    fetch = min(n_docs, k + 1)
    rankings: list[tuple[tuple[str, float], ...]] = [()] * len(query_tokens)
    pending = list(range(len(query_tokens)))
    while pending:
        found, scores = retriever.retrieve(
            [query_tokens[i] for i in pending],
            k=fetch,
            show_progress=False,
            backend_selection="numpy",
        )
        unresolved: list[int] = []
        for row, index in enumerate(pending):
            row_scores = [float(s) for s in scores[row]]
            if fetch < n_docs and row_scores[-1] > 0 and row_scores[-1] == row_scores[k - 1]:
                unresolved.append(index)
                continue
            pairs = [(doc_ids[int(d)], s) for d, s in zip(found[row], row_scores, strict=True)]
            best = sorted((p for p in pairs if p[1] > 0), key=lambda p: (-p[1], p[0]))
            rankings[index] = tuple(best[:k])
        pending, fetch = unresolved, min(n_docs, fetch * 2)
    return rankings


def _split_words(text: str) -> list[str]:
    """Lower-cased letter/mark/number runs; Han or Thai runs become character bigrams."""
    tokens: list[str] = []
    for word in _word_pattern().findall(text.lower()):
        if len(word) > 1 and _BIGRAM_SCRIPTS.search(word):
            tokens.extend(word[i : i + 2] for i in range(len(word) - 1))
        else:
            tokens.append(word)
    return tokens


@lru_cache(maxsize=1)
def _word_pattern() -> re.Pattern[str]:
    """A regex for runs of Unicode letters, marks and numbers (general categories L, M, N).

    Python's ``\\w`` leaves out combining marks (Hindi vowel signs, Arabic harakat) and
    adds ``_``, so the class is built from the Unicode database once.
    """
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code))[0] not in "LMN":
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    body = "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in ranges
    )
    return re.compile(f"[{body}]+")


@lru_cache(maxsize=1)
def _stemmer_algorithms() -> frozenset[str]:
    return frozenset(Stemmer.algorithms())
