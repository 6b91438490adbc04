"""The tiny LLM rerankers (tests/llm_models.py) and the card recipes written on
transformers (tests/llm_reference.py) are sound, so that parity with them means something.

The tokenizers keep the scoring and special tokens whole and agree with tokenizer.json;
the reference's ids decode to the cards' prompts, literally; a converted seq-cls
checkpoint scores as its CausalLM; the scores spread over the documents and move when one
word of the prompt changes (a parity test on these models can fail); a left-padded batch
scores as one pair at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from llm_cases import (
    AWKWARD_DOCUMENTS,
    CUSTOM_INSTRUCTION,
    DOCUMENTS,
    LONG_DOCUMENT,
    MAX_LENGTH,
    QUERY,
    SPECIAL_TOKEN_DOCUMENT,
    Family,
)
from llm_reference import (
    GEMMA_PROMPT,
    GEMMA_SEP,
    MXBAI_PREFIX,
    MXBAI_SEP,
    MXBAI_SUFFIX,
    MXBAI_TASK,
    SCORING_TOKENS,
    card_tokenizer,
    reference_ids,
    reference_scores,
    reference_scores_seq_cls,
    scores_of_ids,
)

FAMILIES: tuple[Family, ...] = ("qwen3", "qwen2", "gemma")
ALL_DOCUMENTS = [*DOCUMENTS, *AWKWARD_DOCUMENTS, SPECIAL_TOKEN_DOCUMENT]
SHORT = DOCUMENTS[0]

LlmFactory = Callable[..., Path]

# The cards' prompts for (QUERY, SHORT), written out from docs/LLM_RERANKERS.md.
CARD_PROMPTS: dict[tuple[Family, bool], str] = {
    ("qwen3", False): (
        "<|im_start|>system\nJudge whether the Document meets the requirements based on "
        'the Query and the Instruct provided. Note that the answer can only be "yes" or '
        '"no".<|im_end|>\n<|im_start|>user\n<Instruct>: Given a web search query, retrieve '
        "relevant passages that answer the query\n<Query>: how many legs does a spider "
        "have\n<Document>: Spiders have eight legs and two body segments.<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    ),
    ("qwen3", True): (
        "<|im_start|>system\nJudge whether the Document meets the requirements based on "
        'the Query and the Instruct provided. Note that the answer can only be "yes" or '
        '"no".<|im_end|>\n<|im_start|>user\n<Instruct>: Decide whether the passage '
        "answers the question about animals.\n<Query>: how many legs does a spider have\n"
        "<Document>: Spiders have eight legs and two body segments.<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    ),
    ("qwen2", False): (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\nquery: how many legs does a spider have\n"
        "document: Spiders have eight legs and two body segments.\nYou are a search "
        "relevance expert who evaluates how well documents match search queries. For each "
        "query-document pair, carefully analyze the semantic relationship between them, "
        "then provide your binary relevance judgment (0 for not relevant, 1 for "
        "relevant).\nRelevance:<|im_end|>\n<|im_start|>assistant\n"
    ),
    ("qwen2", True): (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\ninstruction: Decide whether the passage "
        "answers the question about animals.\nquery: how many legs does a spider have\n"
        "document: Spiders have eight legs and two body segments.\nYou are a search "
        "relevance expert who evaluates how well documents match search queries. For each "
        "query-document pair, carefully analyze the semantic relationship between them, "
        "then provide your binary relevance judgment (0 for not relevant, 1 for "
        "relevant).\nRelevance:<|im_end|>\n<|im_start|>assistant\n"
    ),
    ("gemma", False): (
        "<bos>A: how many legs does a spider have\nB: Spiders have eight legs and two body "
        "segments.\nGiven a query A and a passage B, determine whether the passage "
        "contains an answer to the query by providing a prediction of either 'Yes' or 'No'."
    ),
    ("gemma", True): (
        "<bos>A: how many legs does a spider have\nB: Spiders have eight legs and two body "
        "segments.\nDecide whether the passage answers the question about animals."
    ),
}

SPECIAL_TOKENS: dict[Family, tuple[str, ...]] = {
    "qwen3": ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"),
    "qwen2": ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
    "gemma": ("<bos>", "<eos>", "<pad>"),
}
WHOLE_TOKENS: dict[Family, tuple[str, ...]] = {
    "qwen3": ("yes", "no"),
    "qwen2": ("1", "0"),
    "gemma": ("Yes", "No", "yes"),
}


def instruction_of(custom: bool) -> str | None:
    return CUSTOM_INSTRUCTION if custom else None


def raw_tokenizer(folder: Path) -> Tokenizer:
    return Tokenizer.from_file(str(folder / "tokenizer.json"))


def max_abs_difference(left: list[float], right: list[float]) -> float:
    return max(abs(a - b) for a, b in zip(left, right, strict=True))


# --- tokenizers --------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_scoring_tokens_are_whole_tokens(family: Family, llm_model_factory: LlmFactory) -> None:
    folder = llm_model_factory(family)
    auto, raw = card_tokenizer(folder), raw_tokenizer(folder)
    assert set(SCORING_TOKENS[family]) <= set(WHOLE_TOKENS[family])
    for token in WHOLE_TOKENS[family]:
        ids = raw.encode(token, add_special_tokens=False).ids
        assert len(ids) == 1, (token, ids)
        assert auto(token, add_special_tokens=False)["input_ids"] == ids
        assert raw.id_to_token(ids[0]) == token  # no leading-space variant
    assert len({raw.token_to_id(token) for token in WHOLE_TOKENS[family]}) == len(
        WHOLE_TOKENS[family]
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_special_tokens_are_single_ids_inside_text(
    family: Family, llm_model_factory: LlmFactory
) -> None:
    folder = llm_model_factory(family)
    auto, raw = card_tokenizer(folder), raw_tokenizer(folder)
    for token in SPECIAL_TOKENS[family]:
        token_id = raw.token_to_id(token)
        assert token_id is not None, token
        ids = raw.encode(f"a{token}b", add_special_tokens=False).ids
        assert token_id in ids and len(ids) == 3, (token, ids)
        assert auto(f"a{token}b", add_special_tokens=False)["input_ids"] == ids
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["pad_token_id"] == auto.pad_token_id == raw.token_to_id(auto.pad_token)
    assert auto.padding_side == "left"


def test_qwen3_think_tags_are_added_tokens_that_are_not_special(
    llm_model_factory: LlmFactory,
) -> None:
    auto = card_tokenizer(llm_model_factory("qwen3"))
    ids = auto("<think>\n\n</think>", add_special_tokens=False)["input_ids"]
    assert auto.decode(ids, skip_special_tokens=True) == "<think>\n\n</think>"
    assert auto.decode(auto("<|im_end|>x")["input_ids"], skip_special_tokens=True) == "x"


def test_gemma_bos_comes_only_with_special_tokens_and_differs_from_pad(
    llm_model_factory: LlmFactory,
) -> None:
    folder = llm_model_factory("gemma")
    auto, raw = card_tokenizer(folder), raw_tokenizer(folder)
    assert auto.bos_token_id != auto.pad_token_id
    plain = raw.encode("Yes", add_special_tokens=False).ids
    assert raw.encode("Yes").ids == [auto.bos_token_id, *plain]  # like the real Gemma's
    assert auto("Yes", add_special_tokens=False)["input_ids"] == plain


@pytest.mark.parametrize("family", FAMILIES)
def test_auto_tokenizer_and_tokenizer_json_encode_alike(
    family: Family, llm_model_factory: LlmFactory
) -> None:
    """transformers rebuilds a Qwen2Tokenizer's pipeline; the engine reads tokenizer.json."""
    folder = llm_model_factory(family)
    auto, raw = card_tokenizer(folder), raw_tokenizer(folder)
    for document in ALL_DOCUMENTS:
        ids = reference_ids(folder, family, QUERY, [document], max_length=10_000)[0]
        text = auto.decode(ids, skip_special_tokens=False)
        assert auto(text, add_special_tokens=False)["input_ids"] == (
            raw.encode(text, add_special_tokens=False).ids
        ), text


# --- the reference's ids -----------------------------------------------------------------


@pytest.mark.parametrize("custom", [False, True], ids=["default", "instruction"])
@pytest.mark.parametrize("family", FAMILIES)
def test_reference_ids_decode_to_the_card_prompt(
    family: Family, custom: bool, llm_model_factory: LlmFactory
) -> None:
    folder = llm_model_factory(family)
    ids = reference_ids(
        folder, family, QUERY, [SHORT], instruction=instruction_of(custom), max_length=512
    )[0]
    decoded = card_tokenizer(folder).decode(ids, skip_special_tokens=False)
    assert decoded == CARD_PROMPTS[family, custom]
    assert raw_tokenizer(folder).decode(ids, skip_special_tokens=False) == decoded


@pytest.mark.parametrize("family", FAMILIES)
def test_a_long_document_is_cut_at_its_end_to_the_card_window(
    family: Family, llm_model_factory: LlmFactory
) -> None:
    folder = llm_model_factory(family)
    tokenizer = card_tokenizer(folder)
    max_length = MAX_LENGTH[family]
    cut = reference_ids(folder, family, QUERY, [LONG_DOCUMENT], max_length=max_length)[0]
    short_prompt = CARD_PROMPTS[family, False]
    head, tail = short_prompt.split(SHORT)
    text = tokenizer.decode(cut, skip_special_tokens=False)
    assert text.startswith(head) and text.endswith(tail), text
    kept = text.removeprefix(head).removesuffix(tail)
    assert LONG_DOCUMENT.startswith(kept) and kept != LONG_DOCUMENT, kept
    if family == "qwen3":  # the whole prompt is max_length
        assert len(cut) == max_length
    elif family == "qwen2":  # query + "\n" + document is max_length, the rest comes on top
        fixed = (MXBAI_PREFIX, MXBAI_SEP, MXBAI_TASK, MXBAI_SUFFIX)
        assert len(cut) == max_length + sum(plain_length(folder, part) for part in fixed)
    else:  # the passage ("B: ...") is max_length; bos, query, separators and prompt on top
        fixed = (f"A: {QUERY}", GEMMA_SEP, GEMMA_SEP, GEMMA_PROMPT)
        assert len(cut) == max_length + 1 + sum(plain_length(folder, part) for part in fixed)


def plain_length(folder: Path, text: str) -> int:
    return len(card_tokenizer(folder)(text, add_special_tokens=False)["input_ids"])


# --- the reference's scores --------------------------------------------------------------


@pytest.mark.parametrize("custom", [False, True], ids=["default", "instruction"])
@pytest.mark.parametrize("family", FAMILIES)
def test_seq_cls_checkpoint_scores_as_its_causal_lm(
    family: Family, custom: bool, llm_model_factory: LlmFactory
) -> None:
    causal, seq_cls = llm_model_factory(family), llm_model_factory(family, seq_cls=True)
    options = {"instruction": instruction_of(custom), "max_length": MAX_LENGTH[family]}
    for raw, tolerance in ((False, 1e-5), (True, 1e-4)):
        expected = reference_scores(causal, family, QUERY, ALL_DOCUMENTS, raw=raw, **options)
        got = reference_scores_seq_cls(seq_cls, family, QUERY, ALL_DOCUMENTS, raw=raw, **options)
        assert max_abs_difference(got, expected) <= tolerance, (raw, got, expected)


@pytest.mark.parametrize("custom", [False, True], ids=["default", "instruction"])
@pytest.mark.parametrize("family", FAMILIES)
def test_scores_spread_over_the_documents(
    family: Family, custom: bool, llm_model_factory: LlmFactory
) -> None:
    scores = reference_scores(
        llm_model_factory(family),
        family,
        QUERY,
        DOCUMENTS,
        instruction=instruction_of(custom),
        max_length=MAX_LENGTH[family],
    )
    assert max(scores) - min(scores) >= 0.3, scores
    assert all(0.0 < score < 1.0 for score in scores), scores


@pytest.mark.parametrize("family", FAMILIES)
def test_a_one_word_change_in_the_prompt_moves_the_scores(
    family: Family, llm_model_factory: LlmFactory
) -> None:
    folder = llm_model_factory(family)
    max_length = MAX_LENGTH[family]
    ids = reference_ids(folder, family, QUERY, DOCUMENTS, max_length=max_length)
    scores = scores_of_ids(folder, family, ids)
    no_last_token = scores_of_ids(folder, family, [row[:-1] for row in ids])
    assert max_abs_difference(no_last_token, scores) > 1e-3
    default = CARD_PROMPTS[family, False]
    if family == "gemma":
        one_word = default.split("\n")[-1].replace("passage contains", "passage holds")
    else:
        one_word = "Given a web search query, retrieve relevant passages that answer the question"
    other = reference_scores(
        folder, family, QUERY, DOCUMENTS, instruction=one_word, max_length=max_length
    )
    if family == "qwen3":  # an explicit default instruction is the default prompt
        default_instruction = one_word.replace("question", "query")
        same = reference_scores(
            folder, family, QUERY, DOCUMENTS, instruction=default_instruction, max_length=max_length
        )
        assert same == scores
    assert max_abs_difference(other, scores) > 1e-3
    query_word = reference_scores(
        folder, family, QUERY.replace("spider", "insect"), DOCUMENTS, max_length=max_length
    )
    assert max_abs_difference(query_word, scores) > 1e-3


@pytest.mark.parametrize("family", FAMILIES)
def test_a_left_padded_batch_scores_as_one_pair_at_a_time(
    family: Family, llm_model_factory: LlmFactory
) -> None:
    for seq_cls in (False, True):
        folder = llm_model_factory(family, seq_cls=seq_cls)
        score = reference_scores_seq_cls if seq_cls else reference_scores
        options = {"max_length": MAX_LENGTH[family]}
        batch = score(folder, family, QUERY, ALL_DOCUMENTS, **options)
        one_by_one = [score(folder, family, QUERY, [doc], **options)[0] for doc in ALL_DOCUMENTS]
        assert max_abs_difference(batch, one_by_one) <= 1e-5, (seq_cls, batch, one_by_one)


@pytest.mark.parametrize("seq_cls", [False, True], ids=["causal-lm", "seq-cls"])
@pytest.mark.parametrize("family", FAMILIES)
def test_configs_are_shaped_like_the_real_checkpoints(
    family: Family, seq_cls: bool, llm_model_factory: LlmFactory
) -> None:
    config = json.loads(
        (llm_model_factory(family, seq_cls=seq_cls) / "config.json").read_text(encoding="utf-8")
    )
    names = {"qwen3": "Qwen3", "qwen2": "Qwen2", "gemma": "Gemma"}
    head = "ForSequenceClassification" if seq_cls else "ForCausalLM"
    assert config["architectures"] == [names[family] + head]
    assert config["model_type"] == family
    assert config["tie_word_embeddings"] is True
    assert config["pad_token_id"] is not None
    assert (
        config["max_position_embeddings"]
        == {"qwen3": 40_960, "qwen2": 32_768, "gemma": 8_192}[family]
    )
    if seq_cls:
        assert config["id2label"] == {"0": "LABEL_0"}
