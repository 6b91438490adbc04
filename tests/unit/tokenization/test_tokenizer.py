from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from openrerank.tokenization.tokenizer import PairTokenizer
from tiny_models import ARCHITECTURES

QUERY = "does the cross encoder read the query"
DOCUMENTS = [
    "A cross-encoder reads the query and the document together.",
    "",
    "Vitamin D deficiency is associated with fractures " * 20,
    "Ünïcödé text — with punctuation, numbers 12345 and emoji 🙂.",
]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_tokenizer_pairs_match_transformers_only_second_truncation(
    arch: str, tiny_model_factory: Callable[..., Path]
) -> None:
    folder = tiny_model_factory(arch)
    ours = PairTokenizer.from_directory(folder, max_length=48)
    reference = AutoTokenizer.from_pretrained(folder)
    expected = reference(
        [QUERY] * len(DOCUMENTS), DOCUMENTS, truncation="only_second", max_length=48
    )
    pairs = ours.encode(QUERY, DOCUMENTS)
    assert [p.input_ids.tolist() for p in pairs] == expected["input_ids"]
    if "token_type_ids" in expected:
        assert [p.type_ids.tolist() for p in pairs] == expected["token_type_ids"]
    assert [p.doc_index for p in pairs] == [0, 1, 2, 3]
    assert ours.pad_id == reference.pad_token_id


def test_tokenizer_truncates_the_document_to_the_window(tiny_model_dir: Path) -> None:
    tokenizer = PairTokenizer.from_directory(tiny_model_dir, max_length=32)
    (pair,) = tokenizer.encode("short query", ["the document " * 100])
    assert pair.n_tokens == 32
    assert int((pair.type_ids == 0).sum()) == tokenizer.count_tokens("short query") + 2


def test_tokenizer_caps_the_query_to_half_the_text_window(tiny_model_dir: Path) -> None:
    tokenizer = PairTokenizer.from_directory(tiny_model_dir, max_length=32)
    long_query = "the quick brown fox jumps over the lazy dog " * 10
    (pair,) = tokenizer.encode(long_query, ["the document " * 100])
    query_tokens = int((pair.type_ids == 0).sum()) - 2  # [CLS] and the first [SEP]
    assert query_tokens == tokenizer.query_max_tokens == (32 - 3) // 2
    assert pair.n_tokens == 32


def test_tokenizer_keeps_a_query_that_fits(tiny_model_dir: Path) -> None:
    tokenizer = PairTokenizer.from_directory(tiny_model_dir, max_length=64)
    assert tokenizer.cap_query("a short query") == "a short query"
