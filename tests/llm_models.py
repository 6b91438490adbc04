"""Tiny, randomly initialised LLM rerankers built offline for tests.

``build_llm_reranker`` writes a complete Hugging Face folder (config.json,
model.safetensors, tokenizer.json, tokenizer_config.json, special_tokens_map.json) that
stands for one of the three LLM reranker families of docs/LLM_RERANKERS.md:

* ``qwen3``: Qwen3-Reranker (``Qwen3ForCausalLM``, scoring tokens ``yes`` / ``no``);
* ``qwen2``: mxbai-rerank-v2 (``Qwen2ForCausalLM``, scoring tokens ``1`` / ``0``);
* ``gemma``: bge-reranker-v2-gemma (``GemmaForCausalLM``, scoring token ``Yes``).

With ``seq_cls=True`` the folder is instead the checkpoint vLLM's
``convert_model_to_seq_cls.py`` makes from that CausalLM: a ``*ForSequenceClassification``
with one label whose head is ``lm_head[yes] - lm_head[no]`` (``from_2_way_softmax``) or,
for gemma, ``lm_head[Yes]`` (one token, raw).

The tokenizer is a byte-level BPE trained with the ``tokenizers`` trainer (deterministic)
on tests/tiny_models.py's corpus plus the recipes' prompt strings. Its pipeline is the
real Qwen2/Qwen3 one: NFC, the Qwen pre-tokenization regex (``Split``, isolated) then
``ByteLevel(add_prefix_space=False, use_regex=False)``, a ``ByteLevel`` decoder. That
matters: transformers 5's ``Qwen2Tokenizer`` rebuilds exactly this pipeline from the
vocabulary and merges and ignores the file's, so a GPT-2 ``use_regex=True`` pipeline
would make ``AutoTokenizer`` and ``tokenizer.json`` disagree. The gemma folder uses the
same pipeline (a real Gemma tokenizer is SentencePiece, which transformers would rebuild
differently), loaded verbatim as ``PreTrainedTokenizerFast``; like the real one its ids
start with ``<pad> <eos> <bos> <unk>`` and its post-processor prepends ``<bos>`` (only when
special tokens are asked for).

Weights: with transformers' default 0.02 initialisation every pair would score ~0.5, so
any parity test would pass vacuously. The weights are drawn wider (N(0, 0.3^2)), and the
scoring tokens' output rows (tied to the input embedding, as in the real checkpoints) are
then set along a direction in which the last position's hidden state varies between the
documents of calibration prompts (not the tests' documents) but not between their
queries and instructions, scaled so that probabilities spread over roughly 0.05-0.95.
Everything depends only on ``seed``; torch runs on one thread while building.

A random model of Qwen3-Reranker-0.6B's exact shape, for benchmarks, is
``openrerank bench random-llm`` (src/openrerank/bench/random_llm.py).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

from tiny_models import _CORPUS as _CROSS_ENCODER_CORPUS

Family = Literal["qwen3", "qwen2", "gemma"]
FAMILIES: tuple[Family, ...] = ("qwen3", "qwen2", "gemma")

VOCAB_SIZE = 640
"""Size of every vocabulary, added tokens included."""

QWEN_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
"""Qwen2/Qwen3's pre-tokenization regex, as in their tokenizer.json and transformers."""

# The recipes' fixed strings (docs/LLM_RERANKERS.md), so that they tokenize into
# reasonable pieces; tests/llm_reference.py keeps its own copies, written from the cards.
_QWEN3_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the "
    'Query and the Instruct provided. Note that the answer can only be "yes" or "no".'
    "<|im_end|>\n<|im_start|>user\n"
)
_QWEN3_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
_MXBAI_PREFIX = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\n<|im_start|>user\n"
)
_MXBAI_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"
_MXBAI_TASK = (
    "You are a search relevance expert who evaluates how well documents match search "
    "queries. For each query-document pair, carefully analyze the semantic relationship "
    "between them, then provide your binary relevance judgment (0 for not relevant, 1 for "
    "relevant).\nRelevance:"
)
_GEMMA_PROMPT = (
    "Given a query A and a passage B, determine whether the passage contains an answer to "
    "the query by providing a prediction of either 'Yes' or 'No'."
)
_RECIPE_TEXTS: tuple[str, ...] = (
    _QWEN3_PREFIX,
    "<Instruct>: Given a web search query, retrieve relevant passages that answer the "
    "query\n<Query>: what is the capital of France\n<Document>: Paris is the capital.",
    _QWEN3_SUFFIX,
    _MXBAI_PREFIX,
    "instruction: Find the passage that answers the question\nquery: what is insulin\n"
    "document: Insulin regulates the level of glucose in the blood.",
    _MXBAI_TASK,
    _MXBAI_SUFFIX,
    "A: how many legs does a spider have\nB: Spiders have eight legs.",
    _GEMMA_PROMPT,
)

# Each scoring token as a word of its own, often enough to become one merged token.
_ANSWER_TEXTS: tuple[str, ...] = ("yes\nno\nYes\nNo\n1\n0\n",) * 8

CORPUS: tuple[str, ...] = _CROSS_ENCODER_CORPUS + _RECIPE_TEXTS + _ANSWER_TEXTS
"""What the BPE vocabulary is trained on."""


@dataclass(frozen=True)
class _FamilySpec:
    """What differs between the three families' folders."""

    name: Family
    causal_lm: str
    seq_cls: str
    model_type: str
    tokenizer_class: str
    specials_first: tuple[str, ...]
    """Special tokens at the start of the vocabulary (gemma's layout)."""
    specials_last: tuple[str, ...]
    """Special tokens after the BPE vocabulary (Qwen's layout)."""
    added_plain: tuple[str, ...]
    """Added tokens that are not special (Qwen3's ``<think>``)."""
    bos: str | None
    eos: str
    pad: str
    unk: str | None
    scoring: tuple[str, ...]
    """The tokens that must be whole: the card's (negative, positive) or (positive,)."""
    whole: tuple[str, ...]
    """Every token the builder checks is one id (the scoring tokens and their kin)."""
    max_position_embeddings: int
    config: dict[str, Any]


_QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

_SPECS: dict[Family, _FamilySpec] = {
    "qwen3": _FamilySpec(
        name="qwen3",
        causal_lm="Qwen3ForCausalLM",
        seq_cls="Qwen3ForSequenceClassification",
        model_type="qwen3",
        tokenizer_class="Qwen2Tokenizer",
        specials_first=(),
        specials_last=_QWEN_SPECIALS,
        added_plain=("<think>", "</think>"),
        bos=None,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        unk=None,
        scoring=("no", "yes"),
        whole=("yes", "no"),
        max_position_embeddings=40_960,
        config={"head_dim": 16, "rope_theta": 1_000_000.0, "rms_norm_eps": 1e-6},
    ),
    "qwen2": _FamilySpec(
        name="qwen2",
        causal_lm="Qwen2ForCausalLM",
        seq_cls="Qwen2ForSequenceClassification",
        model_type="qwen2",
        tokenizer_class="Qwen2TokenizerFast",
        specials_first=(),
        specials_last=_QWEN_SPECIALS,
        added_plain=(),
        bos=None,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        unk=None,
        scoring=("0", "1"),
        whole=("1", "0"),
        max_position_embeddings=32_768,
        config={"rope_theta": 1_000_000.0, "rms_norm_eps": 1e-6},
    ),
    "gemma": _FamilySpec(
        name="gemma",
        causal_lm="GemmaForCausalLM",
        seq_cls="GemmaForSequenceClassification",
        model_type="gemma",
        tokenizer_class="PreTrainedTokenizerFast",
        specials_first=("<pad>", "<eos>", "<bos>", "<unk>"),
        specials_last=(),
        added_plain=(),
        bos="<bos>",
        eos="<eos>",
        pad="<pad>",
        unk="<unk>",
        scoring=("Yes",),
        whole=("Yes", "No", "yes"),
        max_position_embeddings=8_192,
        config={"head_dim": 16, "hidden_activation": "gelu_pytorch_tanh", "rms_norm_eps": 1e-6},
    ),
}

_TINY_SIZE: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "tie_word_embeddings": True,
}

_INIT_STD = 0.3
"""Weights are drawn from N(0, 0.3^2): wide enough that attention is peaked and the last
position depends on the document (at 0.02 it barely does)."""

_TARGET_LOGIT_STD = 2.5
"""The spread of the raw score (log-odds) over the calibration prompts."""

_CALIBRATION_ROUNDS = 3

_CALIBRATION_TEXTS: tuple[str, ...] = (
    "the quick brown fox jumps over the lazy dog",
    "Rome is the capital of Italy and lies on the river Tiber.",
    "The pancreas makes hormones that control blood sugar.",
    "Ants have six legs and three body segments.",
    "The bus to the airport leaves every hour from the main square.",
    "Water boils at one hundred degrees Celsius at sea level.",
    "Sleep is important for memory, learning and the repair of the human body.",
    "Neural networks learn representations of text from large amounts of training data.",
    "maybe",
    "no",
    "The museum opened a new exhibition about ancient Egyptian art and writing.",
    "Is coffee good for your health? Moderate coffee intake may lower the risk of disease.",
)
"""Documents whose last-position hidden states (with each of the queries below) set the
scoring rows' direction and offset; they are not the tests' pairs, so the spread the tests
see is not fitted to them."""

_CALIBRATION_INSTRUCTIONS: tuple[str | None, ...] = (
    None,
    "Does passage B answer query A? Reply with 'Yes' or 'No'.",
)
"""The card's default instruction (prompt), and another (gemma's whole prompt)."""

_CALIBRATION_QUERIES: tuple[str, ...] = (
    "what does the document say",
    "how many legs does a spider have",
    "is coffee good for your health",
)


def build_llm_reranker(
    directory: Path, family: Family, *, seq_cls: bool = False, seed: int = 0
) -> Path:
    """Write a tiny random ``family`` LLM reranker into ``directory`` and return it.

    The weights depend only on ``seed`` (and are the same backbone for ``seq_cls`` or
    not); the tokenizer is the same for every call of one family.
    """
    if family not in _SPECS:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    spec = _SPECS[family]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = _write_tokenizer(directory, spec)
    with one_torch_thread():
        model = _causal_lm(family, seed)
        if seq_cls:
            model = _to_seq_cls(model, spec, tokenizer)
    model.save_pretrained(directory)
    return directory


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread: the tiny matrices here are 10-100x slower with several
    threads on a busy machine (spinning workers), and one thread makes the calibration's
    arithmetic the same on every machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# --- tokenizer ---------------------------------------------------------------------------


def _write_tokenizer(directory: Path, spec: _FamilySpec) -> Tokenizer:
    tokenizer = Tokenizer.from_str(_trained_tokenizer_json(spec.name))
    tokenizer.save(str(directory / "tokenizer.json"))
    _check_whole_tokens(tokenizer, spec)
    _write_tokenizer_config(directory, spec, tokenizer)
    return tokenizer


@functools.cache
def _trained_tokenizer_json(family: Family) -> str:
    """The family's trained tokenizer, serialised (trained once per process)."""
    return _train_tokenizer(_SPECS[family]).to_str()


def _train_tokenizer(spec: _FamilySpec) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    added = len(spec.specials_last) + len(spec.added_plain)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - added,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=list(spec.specials_first),
        show_progress=False,
    )
    # The special tokens must not be learnt as pieces: train on the text around them.
    texts = [_strip_specials(text, spec) for text in CORPUS]
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.add_special_tokens(
        [
            AddedToken(token, special=True, normalized=False)
            for token in (*spec.specials_first, *spec.specials_last)
        ]
    )
    tokenizer.add_tokens([AddedToken(token, normalized=False) for token in spec.added_plain])
    if spec.bos is not None:
        bos_id = tokenizer.token_to_id(spec.bos)
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{spec.bos} $A", pair=f"{spec.bos} $A $B", special_tokens=[(spec.bos, bos_id)]
        )
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    if tokenizer.get_vocab_size() != VOCAB_SIZE:
        raise AssertionError(f"vocabulary of {tokenizer.get_vocab_size()}, not {VOCAB_SIZE}")
    return tokenizer


def _strip_specials(text: str, spec: _FamilySpec) -> str:
    for token in (*_QWEN_SPECIALS, *spec.added_plain, "<think>", "</think>"):
        text = text.replace(token, "\n")
    return text


def _check_whole_tokens(tokenizer: Tokenizer, spec: _FamilySpec) -> None:
    specials = (*spec.specials_first, *spec.specials_last, *spec.added_plain)
    for token in (*spec.whole, *specials):
        ids = tokenizer.encode(token, add_special_tokens=False).ids
        if len(ids) != 1:
            raise AssertionError(f"{token!r} is {len(ids)} tokens, not one: {ids}")


def _write_tokenizer_config(directory: Path, spec: _FamilySpec, tokenizer: Tokenizer) -> None:
    added = {
        str(tokenizer.token_to_id(token)): {
            "content": token,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": token not in spec.added_plain,
        }
        for token in (*spec.specials_first, *spec.specials_last, *spec.added_plain)
    }
    names = {"bos_token": spec.bos, "eos_token": spec.eos, "pad_token": spec.pad}
    if spec.unk is not None:
        names["unk_token"] = spec.unk
    config: dict[str, Any] = {
        "tokenizer_class": spec.tokenizer_class,
        "added_tokens_decoder": added,
        **names,
        "add_bos_token": spec.bos is not None,
        "add_eos_token": False,
        "padding_side": "left",
        "model_max_length": spec.max_position_embeddings,
        "clean_up_tokenization_spaces": False,
    }
    if spec.tokenizer_class.startswith("Qwen2"):
        config |= {"errors": "replace", "split_special_tokens": False}
    if spec.specials_last:
        config["additional_special_tokens"] = list(spec.specials_last[1:])
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    (directory / "tokenizer_config.json").write_text(text, encoding="utf-8")
    specials = {key: value for key, value in names.items() if value is not None}
    text = json.dumps(specials, indent=2, sort_keys=True) + "\n"
    (directory / "special_tokens_map.json").write_text(text, encoding="utf-8")


# --- model -------------------------------------------------------------------------------


def _token_ids(spec: _FamilySpec, tokenizer: Tokenizer) -> dict[str, int | None]:
    def token_id(token: str | None) -> int | None:
        return None if token is None else tokenizer.token_to_id(token)

    return {
        "pad_token_id": token_id(spec.pad),
        "bos_token_id": token_id(spec.bos),
        "eos_token_id": token_id(spec.eos),
    }


def _tiny_config(spec: _FamilySpec, tokenizer: Tokenizer, *, architecture: str) -> Any:
    return AutoConfig.for_model(
        spec.model_type,
        architectures=[architecture],
        vocab_size=tokenizer.get_vocab_size(),
        max_position_embeddings=spec.max_position_embeddings,
        initializer_range=_INIT_STD,
        **_TINY_SIZE,
        **spec.config,
        **_token_ids(spec, tokenizer),
    )


@functools.cache
def _causal_lm(family: Family, seed: int) -> torch.nn.Module:
    """The family's random CausalLM for ``seed`` (made once per process; not modified
    afterwards: the seq-cls conversion only reads it)."""
    spec = _SPECS[family]
    tokenizer = Tokenizer.from_str(_trained_tokenizer_json(spec.name))
    config = _tiny_config(spec, tokenizer, architecture=spec.causal_lm)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    # The rows are tied to the input embedding, and some scoring tokens occur in the
    # prompts (mxbai's "0 for not relevant, 1 for relevant"): settle in a few rounds.
    for _ in range(_CALIBRATION_ROUNDS):
        _set_scoring_rows(model, spec, tokenizer, seed)
    return model


def _set_scoring_rows(
    model: torch.nn.Module, spec: _FamilySpec, tokenizer: Tokenizer, seed: int
) -> None:
    """Point the scoring tokens' output rows where the last hidden state varies with the
    document.

    The calibration prompts come in groups of one (instruction, query) and several
    documents. The raw score (``z_yes - z_no``, or ``z_Yes``) becomes a unit direction in
    which the final hidden state varies between the documents of a group but not
    between the groups' means (so no one query or instruction pushes every score to 0
    or 1), scaled to a standard deviation of ``_TARGET_LOGIT_STD`` and centred on 0. The
    direction sums the top three such principal components with random signs from
    ``seed``, so it is aligned with no one document.
    """
    ids = [tokenizer.token_to_id(token) for token in spec.scoring]
    states = _last_hidden_states(model, tokenizer, spec)  # (groups, documents, hidden)
    mean = states.mean(dim=(0, 1))
    group_means = states.mean(dim=1)
    within = (states - group_means[:, None, :]).reshape(-1, states.shape[-1])
    _, _, between = torch.linalg.svd(group_means - mean, full_matrices=False)
    between = between[: group_means.shape[0] - 1]  # the span of the groups' differences
    within = within - (within @ between.T) @ between
    _, _, right = torch.linalg.svd(within, full_matrices=False)
    generator = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, (3,), generator=generator).float() * 2 - 1
    direction = (signs[:, None] * right[:3]).sum(dim=0)
    direction = direction / direction.norm()
    weight = direction * (_TARGET_LOGIT_STD / (within @ direction).std())
    # raw = weight . h, whose mean is weight . mean: remove it along the mean itself
    weight = weight - (weight @ mean) * mean / (mean @ mean)
    head = model.get_output_embeddings().weight
    with torch.no_grad():
        if len(ids) == 2:
            negative, positive = ids
            head[positive] = head[negative] + weight
        else:
            (positive,) = ids
            head[positive] = weight


def _last_hidden_states(
    model: torch.nn.Module, tokenizer: Tokenizer, spec: _FamilySpec
) -> torch.Tensor:
    """The final-norm hidden state at the last position of card-like prompts (one
    left-padded batch), shaped (instruction x query, document, hidden)."""
    rows = []
    for instruction, query, text in itertools.product(
        _CALIBRATION_INSTRUCTIONS, _CALIBRATION_QUERIES, _CALIBRATION_TEXTS
    ):
        segments = _calibration_segments(spec, query, text, instruction)
        ids = [i for s in segments for i in tokenizer.encode(s, add_special_tokens=False).ids]
        rows.append(ids if spec.bos is None else [tokenizer.token_to_id(spec.bos), *ids])
    width = max(len(ids) for ids in rows)
    pad = tokenizer.token_to_id(spec.pad)
    input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in rows])
    mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in rows])
    with torch.inference_mode():
        output = model.model(input_ids=input_ids, attention_mask=mask)
    states = output.last_hidden_state[:, -1].float().clone()
    return states.reshape(-1, len(_CALIBRATION_TEXTS), states.shape[-1])


def _calibration_segments(
    spec: _FamilySpec, query: str, document: str, instruction: str | None
) -> list[str]:
    """A prompt shaped like the family's card, as the texts the card encodes one by one
    (the reference module builds the real one); ``None`` = the card's default."""
    if spec.model_type == "qwen3":
        instruction = instruction or "Given a web search query, retrieve relevant passages"
        body = f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"
        return [_QWEN3_PREFIX, body, _QWEN3_SUFFIX]
    if spec.model_type == "qwen2":
        query_text = f"query: {query}"
        if instruction:
            query_text = f"instruction: {instruction}\n{query_text}"
        return [
            _MXBAI_PREFIX,
            query_text,
            "\n",
            f"document: {document}",
            "\n",
            _MXBAI_TASK,
            _MXBAI_SUFFIX,
        ]
    return [f"A: {query}", "\n", f"B: {document}", "\n", instruction or _GEMMA_PROMPT]


def _to_seq_cls(
    causal_lm: torch.nn.Module, spec: _FamilySpec, tokenizer: Tokenizer
) -> torch.nn.Module:
    """vLLM's conversion: one label, head = lm_head[yes] - lm_head[no] (or lm_head[Yes])."""
    config = _tiny_config(spec, tokenizer, architecture=spec.seq_cls)
    config.num_labels = 1
    model = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32).eval()
    missing, unexpected = model.model.load_state_dict(causal_lm.model.state_dict(), strict=True)
    if missing or unexpected:
        raise AssertionError(f"backbone mismatch: {missing} {unexpected}")
    head = causal_lm.get_output_embeddings().weight.detach().float()
    ids = [tokenizer.token_to_id(token) for token in spec.scoring]
    row = head[ids[1]] - head[ids[0]] if len(ids) == 2 else head[ids[0]]
    with torch.no_grad():
        model.score.weight.copy_(row[None, :])
    if model.score.bias is not None:
        raise AssertionError("the converted score head has no bias")
    return model


def scoring_token_ids(directory: Path, family: Family) -> Sequence[int]:
    """The ids of ``family``'s scoring tokens in ``directory``'s tokenizer.json."""
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    return [tokenizer.token_to_id(token) for token in _SPECS[family].scoring]
