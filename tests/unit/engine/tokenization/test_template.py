"""PairTemplate and PairTokenizer.pair: joining token ids as the model's tokenizer would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tokenizers import Encoding, Tokenizer, models, pre_tokenizers, processors

from openrerank.engine.model.spec import read_spec
from openrerank.engine.tokenization.template import PairTemplate
from openrerank.engine.tokenization.tokenizer import PairTokenizer
from openrerank.errors import UnsupportedModelError
from pair_oracle import library_pairs
from tiny_models import ARCHITECTURES

DETERMINISTIC = settings(max_examples=60, deadline=None, derandomize=True)
MODELS = (*ARCHITECTURES, "reference")
Oracle = Callable[[str, str], Encoding]
ALPHABET = st.sampled_from(
    [*"abcdefghijklmnopqrstuvwxyz", *"ABCXYZ", *"  \n\t", *".,;:!?'\"()-", "é", "ü", "ß",
     "日", "本", "語", "。", "🙂", "1", "3"]
)  # fmt: skip
texts = st.text(alphabet=ALPHABET, max_size=60)
words = st.lists(st.sampled_from(["the", "quick", "fox", "cross", "encoder", "query"]), max_size=30)


@pytest.fixture(scope="module", params=MODELS)
def model(
    request: pytest.FixtureRequest, tiny_model_factory: Callable[..., Path]
) -> tuple[Path, int]:
    """Each tiny architecture with a 256-token window, then the reference model (which
    needs ../shared) with its own."""
    if request.param != "reference":
        return tiny_model_factory(request.param), 256
    reference: Path = request.getfixturevalue("reference_model_dir")
    return reference, read_spec(reference).max_length


@pytest.fixture(scope="module")
def pair_tokenizer(model: tuple[Path, int]) -> PairTokenizer:
    folder, max_length = model
    return PairTokenizer.from_directory(folder, max_length=max_length)


@pytest.fixture(scope="module")
def oracle(model: tuple[Path, int], pair_tokenizer: PairTokenizer) -> Oracle:
    """The tokenizers library's pair of the (capped) query and a document."""

    def encode(query: str, document: str) -> Encoding:
        capped = pair_tokenizer.cap_query(query)
        (encoding,) = library_pairs(model[0], capped, [document], max_length=model[1])
        return encoding

    return encode


def pair_matches_the_tokenizer(
    tokenizer: PairTokenizer, oracle: Oracle, query: str, document: str
) -> bool:
    """Assert that ``pair`` gives the tokenizer's own pair; false if the document does not fit."""
    query_ids = tokenizer.encode_query(query)
    (document_tokens,) = tokenizer.encode_texts([document])
    if document_tokens.n_tokens > tokenizer.document_window(query_ids):
        return False
    ids, type_ids = tokenizer.pair(query_ids, document_tokens.ids)
    expected = oracle(query, document)
    assert not expected.overflowing
    assert ids.tolist() == expected.ids
    assert type_ids.tolist() == expected.type_ids
    assert ids.dtype == type_ids.dtype == np.int64
    assert ids.shape[0] == query_ids.shape[0] + document_tokens.n_tokens + tokenizer.pair_specials
    return True


@DETERMINISTIC
@given(query=texts.filter(str.strip), document=texts)
def test_template_pair_equals_the_tokenizers_pair_for_any_text(
    pair_tokenizer: PairTokenizer, oracle: Oracle, query: str, document: str
) -> None:
    assume(pair_matches_the_tokenizer(pair_tokenizer, oracle, query, document))


@DETERMINISTIC
@given(query=words.map(" ".join).filter(str.strip), document=words.map(" ".join))
def test_template_pair_equals_the_tokenizers_pair_for_word_sequences(
    pair_tokenizer: PairTokenizer, oracle: Oracle, query: str, document: str
) -> None:
    assume(pair_matches_the_tokenizer(pair_tokenizer, oracle, query, document))


def test_template_pair_equals_the_tokenizers_pair_for_a_capped_query(
    pair_tokenizer: PairTokenizer, oracle: Oracle
) -> None:
    tokenizer = pair_tokenizer
    query = "the quick brown fox jumps over the lazy dog " * 200
    assert tokenizer.encode_query(query).shape[0] == tokenizer.query_max_tokens
    assert pair_matches_the_tokenizer(tokenizer, oracle, query, "a short document")


def test_template_special_tokens_are_the_models_own(
    pair_tokenizer: PairTokenizer, oracle: Oracle
) -> None:
    tokenizer = pair_tokenizer
    empty = np.zeros(0, dtype=np.int64)
    ids, _ = tokenizer.pair(empty, empty)
    assert ids.shape[0] == tokenizer.pair_specials
    assert ids.tolist() == oracle("", "").ids


def test_template_learned_from_bert_and_roberta_style_post_processors() -> None:
    bert = _tokenizer("[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1")
    template = PairTemplate.learn(bert)
    cls, sep = bert.token_to_id("[CLS]"), bert.token_to_id("[SEP]")
    assert [part.tolist() for part in template.ids] == [[cls], [sep], [sep]]
    assert [part.tolist() for part in template.type_ids] == [[0], [0], [1]]
    assert (template.first_type, template.second_type) == (0, 1)

    roberta = PairTemplate.learn(_tokenizer("[CLS] $A [SEP] [SEP] $B [SEP]"))
    assert [part.tolist() for part in roberta.ids] == [[cls], [sep, sep], [sep]]
    assert (roberta.first_type, roberta.second_type) == (0, 0)
    ids, types = roberta.join(np.array([7, 8]), np.array([9]))
    assert ids.tolist() == [cls, 7, 8, sep, sep, 9, sep]
    assert types.tolist() == [0] * 7


def test_template_refuses_a_tokenizer_that_puts_the_second_text_first() -> None:
    with pytest.raises(UnsupportedModelError, match="pair template"):
        PairTemplate.learn(_tokenizer("[CLS]:0 $B:1 [SEP]:1 $A:0 [SEP]:0"))


def _tokenizer(pair: str) -> Tokenizer:
    """A word-level tokenizer over a tiny vocabulary with the given pair template."""
    vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "a": 3, "b": 4}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(["[CLS]", "[SEP]"])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair=pair, special_tokens=[("[CLS]", 1), ("[SEP]", 2)]
    )
    return tokenizer


# --- the query's share --------------------------------------------------------------------

query_words = st.lists(
    st.sampled_from(["the", "water", "cross", "encoder", "naïve", "café", "日本語", "🙂", "x"]),
    min_size=1,
    max_size=200,
).map(" ".join)


@DETERMINISTIC
@given(query=query_words)
def test_encode_query_caps_any_query_to_its_share(
    pair_tokenizer: PairTokenizer, oracle: Oracle, query: str
) -> None:
    ids = pair_tokenizer.encode_query(query)
    assert 0 < ids.shape[0] <= pair_tokenizer.query_max_tokens
    assert pair_matches_the_tokenizer(pair_tokenizer, oracle, query, "water boils")


@pytest.mark.parametrize(
    ("arch", "query"),
    [
        # the 14th token is a bare "▁" sharing its character with the next token
        ("xlm-roberta", "the the water cross cross encoder"),
        # the 14th token is the first byte of "ï", sharing its character with the second
        ("modernbert", "the fox naïve naïve"),
    ],
)
def test_encode_query_caps_a_query_whose_cut_falls_inside_a_character(
    tiny_model_factory: Callable[..., Path], arch: str, query: str
) -> None:
    tokenizer = PairTokenizer.from_directory(tiny_model_factory(arch), max_length=32)
    assert tokenizer.count_tokens(query) > tokenizer.query_max_tokens == 14
    ids = tokenizer.encode_query(query)
    assert 0 < ids.shape[0] <= tokenizer.query_max_tokens
    (water,) = tokenizer.encode_texts(["water"])
    pair_ids, _ = tokenizer.pair(ids, water.ids)
    assert pair_ids.shape[0] <= 32
