"""Prose is scored as sent: every document of the shared SciFact and TREC DL 2019 corpora.

A string document is read as a record only when it is unambiguously one: a JSON object, or
a YAML mapping of at least two non-blank lines (a leading ``---`` line aside). A one-line
text that merely parses as a YAML mapping (``"Grazing": a high-risk behavior. ...``) is
prose, and must reach the model character for character.

Each whole corpus (``title + " " + text``, as the evaluation scores it) is checked with one
query, the collection's first judged test query, truncated to the model window
(``max_chunks_per_doc=1``), on the library's v2 path (strings read as records, the
default). The independent reference is Hugging Face on the raw text with the
sentence-transformers ``CrossEncoder`` truncation (``longest_first``). The records the
rule exempts are found here by a check of our own (``json.loads`` gives an object, or
``yaml.safe_load`` does and the text has two content lines), not by the renderer under
test.

Two tiers, because scoring ~9,500 documents twice takes a quarter of an hour on 2 cores:

* CI (unmarked, about a minute): for *every* document, the v2 preparation step
  (:func:`openrerank.engine.documents.prepare.prepare` with the options the service derives for the
  request) builds exactly the pair token ids (``input_ids`` and ``token_type_ids``) that
  the ``transformers`` tokenizer builds from the raw text. Equal ids into the same
  weights give equal logits, which the backend parity tests establish; to tie the two
  ends together here, :meth:`openrerank.Reranker.score` logits are compared with
  ``transformers`` for the one-line YAML mappings and an evenly spaced sample of each
  corpus.
* Quality (``@pytest.mark.quality``, ``make quality``): the logits of every document
  through :meth:`openrerank.Reranker.score` against ``transformers``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from conftest import REFERENCE_MODEL
from openrerank import Reranker
from openrerank.config import EngineConfig, ModelConfig
from openrerank.engine.documents.prepare import prepare
from openrerank.engine.service import prepare_options_for
from openrerank.engine.tokenization.tokenizer import PairTokenizer
from openrerank.eval.datasets import BeirDataset, load_beir
from tiny_models import transformers_logits

CORPORA = ("beir-scifact", "trec-dl-2019-passage")
# sentence-transformers' CrossEncoder.predict default, as in test_scifact_subset.py
REFERENCE_BATCH = 32
TOKENIZER_BATCH = 512  # texts per call of the Hugging Face tokenizer
SAMPLE_SIZE = 120  # documents per corpus whose logits the CI tier compares, besides the mappings
LOGIT_TOLERANCE = 1e-4
CORPUS_SIZES = {"beir-scifact": 5_183, "trec-dl-2019-passage": 4_297}  # data/README.md
# Measured: no document of either corpus has two lines, so no document is a record.
EXPECTED_RECORDS: dict[str, list[str]] = {"beir-scifact": [], "trec-dl-2019-passage": []}
# The documents that parse as one-line YAML mappings, which the renderer used to rewrite.
ONE_LINE_MAPPINGS = {
    "beir-scifact": {"20130904", "34198460"},
    "trec-dl-2019-passage": {"1126299", "3860555", "6010966", "8402974"},
}
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SHOWN_MISMATCHES = 10


@dataclass(frozen=True)
class Corpus:
    """One whole corpus, its query, and the documents the rule reads as records."""

    name: str
    query: str
    doc_ids: list[str]
    texts: list[str]
    records: list[str]  # ids of the documents the rule reads as records

    def prose(self) -> list[int]:
        """Positions of the documents that must reach the model as sent."""
        exempt = set(self.records)
        return [i for i, doc_id in enumerate(self.doc_ids) if doc_id not in exempt]

    def logit_sample(self) -> list[int]:
        """The one-line YAML mappings plus every k-th other prose document, corpus order."""
        known = ONE_LINE_MAPPINGS[self.name]
        prose = self.prose()
        mappings = [i for i in prose if self.doc_ids[i] in known]
        others = [i for i in prose if self.doc_ids[i] not in known]
        step = max(1, len(others) // SAMPLE_SIZE)
        return sorted(mappings + others[::step][:SAMPLE_SIZE])


@dataclass(frozen=True)
class Scored:
    """One whole corpus scored by openrerank and by transformers, on the same raw texts."""

    corpus: Corpus
    openrerank: np.ndarray  # raw logits, one per document
    reference: np.ndarray


def is_record(text: str) -> bool:
    """The documented rule, checked independently of the renderer."""
    if text.lstrip().startswith("{"):
        try:
            if isinstance(json.loads(text), dict):
                return True
        except (ValueError, RecursionError):
            pass
    if content_lines(text) < 2:
        return False
    try:
        return isinstance(yaml.load(text, Loader=YAML_LOADER), dict)
    except yaml.YAMLError:
        return False


def content_lines(text: str) -> int:
    """Non-blank lines, a leading ``---`` marker line not counted."""
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and lines[0].strip() == "---":
        return len(lines) - 1
    return len(lines)


def first_judged_query(dataset: BeirDataset) -> str:
    return next(text for query_id, text in dataset.queries.items() if query_id in dataset.qrels)


@pytest.fixture(scope="module")
def max_length(reference_model_dir: Path) -> int:
    config = json.loads((reference_model_dir / "tokenizer_config.json").read_text("utf-8"))
    window = config["model_max_length"]
    assert isinstance(window, int)
    return window


@pytest.fixture(scope="module")
def engine_config(reference_onnx_cache: Path) -> EngineConfig:
    """The configuration the reranker runs under (``Reranker(REFERENCE_MODEL)``'s, over the
    session's ONNX export)."""
    return EngineConfig(model=ModelConfig(name=REFERENCE_MODEL, cache_dir=reference_onnx_cache))


@pytest.fixture(scope="module")
def reranker(
    engine_config: EngineConfig, reference_model_dir: Path, max_length: int
) -> Iterator[Reranker]:
    with Reranker.from_config(engine_config) as opened:
        info = opened.info
        assert (info.backend, info.precision, info.max_length) == ("onnx", "fp32", max_length)
        assert info.revision == reference_model_dir.name, "the snapshot the reference reads"
        yield opened


@pytest.fixture(scope="module")
def pair_tokenizer(reranker: Reranker, reference_model_dir: Path) -> PairTokenizer:
    """The service's tokenizer, loaded as the service loads it (``RerankService._load``)."""
    return PairTokenizer.from_directory(reference_model_dir, max_length=reranker.info.max_length)


@pytest.fixture(scope="module")
def hf_tokenizer(reference_model_dir: Path) -> PreTrainedTokenizerBase:
    tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(reference_model_dir)
    return tokenizer


@pytest.fixture(scope="module", params=CORPORA)
def corpus(request: pytest.FixtureRequest, shared_data_dir: Path, scifact_dir: Path) -> Corpus:
    name: str = request.param
    dataset = load_beir(scifact_dir if name == "beir-scifact" else shared_data_dir / name, run=None)
    doc_ids = list(dataset.corpus)
    texts = [dataset.document_text(doc_id) for doc_id in doc_ids]
    records = [doc_id for doc_id, text in zip(doc_ids, texts, strict=True) if is_record(text)]
    return Corpus(name, first_judged_query(dataset), doc_ids, texts, records)


@pytest.fixture(scope="module")
def scored(
    corpus: Corpus, reference_model_dir: Path, reranker: Reranker, max_length: int
) -> Scored:
    """Every document's logits both ways: the quality tier's (a quarter of an hour)."""
    mine = reranker.score(corpus.query, corpus.texts, raw=True, max_chunks_per_doc=1)
    reference = reference_logits(reference_model_dir, corpus.query, corpus.texts, max_length)
    return Scored(corpus, np.asarray(mine, np.float64), reference)


def reference_logits(folder: Path, query: str, texts: list[str], max_length: int) -> np.ndarray:
    """transformers' single logit per text, in batches of similar lengths (less padding)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    logits = np.empty(len(texts), np.float64)
    for start in range(0, len(order), REFERENCE_BATCH):
        batch = order[start : start + REFERENCE_BATCH]
        out = transformers_logits(
            folder,
            query,
            [texts[i] for i in batch],
            max_length=max_length,
            truncation="longest_first",
        )
        assert out.shape == (len(batch), 1)
        logits[batch] = out[:, 0]
    return logits


def reference_ids(
    tokenizer: PreTrainedTokenizerBase, query: str, texts: list[str], max_length: int
) -> list[tuple[list[int], list[int]]]:
    """Hugging Face's ``(input_ids, token_type_ids)`` per pair, as ``transformers_logits``
    builds them (without the padding)."""
    ids: list[tuple[list[int], list[int]]] = []
    for start in range(0, len(texts), TOKENIZER_BATCH):
        batch = texts[start : start + TOKENIZER_BATCH]
        encoded = tokenizer(
            [query] * len(batch), batch, truncation="longest_first", max_length=max_length
        )
        ids += zip(encoded["input_ids"], encoded["token_type_ids"], strict=True)
    return ids


def test_every_prose_document_is_tokenized_as_its_raw_text(
    corpus: Corpus,
    engine_config: EngineConfig,
    pair_tokenizer: PairTokenizer,
    hf_tokenizer: PreTrainedTokenizerBase,
    max_length: int,
) -> None:
    assert len(corpus.doc_ids) == CORPUS_SIZES[corpus.name], "the whole corpus"
    compared = corpus.prose()
    texts = [corpus.texts[i] for i in compared]
    options = prepare_options_for(engine_config, {"max_chunks_per_doc": 1})
    prepared = prepare(pair_tokenizer, corpus.query, texts, options)
    assert prepared.n_windows == len(prepared.pairs) == len(texts), "one window per document"
    expected = reference_ids(hf_tokenizer, corpus.query, texts, max_length)
    mismatched = [
        f"{corpus.doc_ids[compared[pair.doc_index]]}: {texts[pair.doc_index][:120]!r}"
        for pair, (input_ids, type_ids) in zip(prepared.pairs, expected, strict=True)
        if pair.input_ids.tolist() != input_ids or pair.type_ids.tolist() != type_ids
    ]
    assert [pair.doc_index for pair in prepared.pairs] == list(range(len(texts)))
    full = sum(len(input_ids) == max_length for input_ids, _ in expected)
    print(
        f"\n{corpus.name}: {len(compared)} documents' pair token ids compared "
        f"({full} cut to the {max_length}-token window), {len(corpus.records)} records exempt, "
        f"{len(mismatched)} differ"
    )
    assert not mismatched, (
        f"{len(mismatched)} documents are not tokenized as sent, e.g.\n"
        + "\n".join(mismatched[:SHOWN_MISMATCHES])
    )


def test_sampled_documents_score_as_their_raw_text(
    corpus: Corpus, reference_model_dir: Path, reranker: Reranker, max_length: int
) -> None:
    sample = corpus.logit_sample()
    texts = [corpus.texts[i] for i in sample]
    mine = np.asarray(
        reranker.score(corpus.query, texts, raw=True, max_chunks_per_doc=1), np.float64
    )
    reference = reference_logits(reference_model_dir, corpus.query, texts, max_length)
    gaps = np.abs(mine - reference)
    worst = int(np.argmax(gaps))
    lengths = [len(text) for text in texts]
    print(
        f"\n{corpus.name}: {len(sample)} documents' logits compared ({min(lengths)} to "
        f"{max(lengths)} characters), max |openrerank - transformers| logit difference "
        f"{gaps[worst]:.2e}"
    )
    assert gaps[worst] <= LOGIT_TOLERANCE, texts[worst][:200]


def test_the_records_exempted_are_the_ones_measured(corpus: Corpus) -> None:
    shown = {doc_id: corpus.texts[corpus.doc_ids.index(doc_id)][:80] for doc_id in corpus.records}
    assert corpus.records == EXPECTED_RECORDS[corpus.name], shown


def test_the_one_line_yaml_mappings_are_among_the_compared(corpus: Corpus) -> None:
    known = ONE_LINE_MAPPINGS[corpus.name]
    texts = dict(zip(corpus.doc_ids, corpus.texts, strict=True))
    assert known <= texts.keys() - set(corpus.records)
    assert known <= {corpus.doc_ids[i] for i in corpus.logit_sample()}, "their logits too"
    for doc_id in known:  # what made them hazardous: each parses as a YAML mapping
        assert isinstance(yaml.load(texts[doc_id], Loader=YAML_LOADER), dict), doc_id


@pytest.mark.quality
def test_every_prose_document_scores_as_its_raw_text(scored: Scored) -> None:
    corpus = scored.corpus
    assert len(corpus.doc_ids) == CORPUS_SIZES[corpus.name], "the whole corpus"
    compared = corpus.prose()
    gaps = np.abs(scored.openrerank[compared] - scored.reference[compared])
    worst = int(np.argmax(gaps))
    print(
        f"\n{corpus.name}: {len(compared)} documents compared, {len(corpus.records)} records "
        f"exempt, max |openrerank - transformers| logit difference {gaps[worst]:.2e}"
    )
    assert gaps[worst] <= LOGIT_TOLERANCE, corpus.texts[compared[worst]][:200]
