"""An independent implementation of each LLM reranker card's recipe, on transformers.

Written from docs/LLM_RERANKERS.md and the cards' reference code (the QwenLM/Qwen3-Embedding
README, mixedbread-ai/mxbai-rerank's ``MxbaiRerankV2.prepare_inputs``, FlagEmbedding's
``BaseLLMReranker``), never from openrerank's own source: it is what the engine's scores
are checked against. Everything runs in fp32 with ``transformers.AutoTokenizer`` and
``AutoModelForCausalLM`` computing the full vocabulary's logits at every position.

* :func:`reference_ids`: each pair's exact token ids, as the card builds them;
* :func:`reference_scores`: the card's probability per document (``raw=True``: the
  log-odds, i.e. ``z_yes - z_no``, ``z("1") - z("0")`` or ``z("Yes")``);
* :func:`scores_of_ids`: the card's score of given ids (to score altered prompts);
* :func:`reference_scores_seq_cls`: the same ids through
  ``AutoModelForSequenceClassification`` (a converted ``*-seq-cls`` checkpoint), the
  sigmoid of its one logit.

``max_length`` is each card's own parameter: Qwen3's total length, mxbai's
query-plus-document budget (the fixed prompt comes on top), FlagEmbedding's passage
length (``max_length`` of ``compute_score``; the query keeps 3/4 of it).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

from llm_models import one_torch_thread  # for speed only: no recipe comes from there

Family = Literal["qwen3", "qwen2", "gemma"]

# --- Qwen3-Reranker (QwenLM/Qwen3-Embedding README, "Transformers Usage") ----------------
QWEN3_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the "
    'Query and the Instruct provided. Note that the answer can only be "yes" or "no".'
    "<|im_end|>\n<|im_start|>user\n"
)
QWEN3_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
QWEN3_DEFAULT_INSTRUCTION = (
    "Given a web search query, retrieve relevant passages that answer the query"
)

# --- mxbai-rerank-v2 (mixedbread-ai/mxbai-rerank, mxbai_rerank_v2.py) -------------------
MXBAI_PREFIX = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\n<|im_start|>user\n"
)
MXBAI_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"
MXBAI_TASK = (
    "You are a search relevance expert who evaluates how well documents match search "
    "queries. For each query-document pair, carefully analyze the semantic relationship "
    "between them, then provide your binary relevance judgment (0 for not relevant, 1 for "
    "relevant).\nRelevance:"
)
MXBAI_SEP = "\n"

# --- bge-reranker-v2-gemma (FlagEmbedding, inference/reranker/decoder_only/base.py) -----
GEMMA_PROMPT = (
    "Given a query A and a passage B, determine whether the passage contains an answer to "
    "the query by providing a prediction of either 'Yes' or 'No'."
)
GEMMA_SEP = "\n"

SCORING_TOKENS: dict[Family, tuple[str, ...]] = {
    "qwen3": ("no", "yes"),
    "qwen2": ("0", "1"),
    "gemma": ("Yes",),
}
"""Each family's answer tokens: (negative, positive), or the one positive token."""


def reference_ids(
    directory: Path,
    family: Family,
    query: str,
    documents: Sequence[str],
    *,
    instruction: str | None = None,
    max_length: int,
) -> list[list[int]]:
    """Each (query, document) pair's token ids, exactly as ``family``'s card builds them."""
    directory = Path(directory)
    tokenizer = card_tokenizer(directory)
    if family == "qwen2":
        positions = _max_positions(directory)
        return [
            _mxbai_ids(tokenizer, query, doc, instruction, max_length, positions)
            for doc in documents
        ]
    build = {"qwen3": _qwen3_ids, "gemma": _gemma_ids}[family]
    return [build(tokenizer, query, doc, instruction, max_length) for doc in documents]


def reference_text(
    directory: Path,
    family: Family,
    query: str,
    document: str,
    *,
    instruction: str | None = None,
    max_length: int,
) -> str:
    """The prompt the card's ids decode to (special tokens kept), for failure messages."""
    ids = reference_ids(
        directory, family, query, [document], instruction=instruction, max_length=max_length
    )[0]
    text: str = card_tokenizer(Path(directory)).decode(ids, skip_special_tokens=False)
    return text


def reference_scores(
    directory: Path,
    family: Family,
    query: str,
    documents: Sequence[str],
    *,
    instruction: str | None = None,
    max_length: int,
    raw: bool = False,
) -> list[float]:
    """The card's score per document: a probability, or with ``raw`` the log-odds.

    The pairs run as one left-padded batch through the CausalLM; the score is read from
    the full vocabulary's logits at the last position.
    """
    ids = reference_ids(
        directory, family, query, documents, instruction=instruction, max_length=max_length
    )
    return scores_of_ids(directory, family, ids, raw=raw)


def scores_of_ids(
    directory: Path, family: Family, ids: Sequence[Sequence[int]], *, raw: bool = False
) -> list[float]:
    """The card's score of each row of token ids (one left-padded CausalLM batch)."""
    directory = Path(directory)
    model = _causal_lm(directory)
    input_ids, mask = left_pad(ids, card_tokenizer(directory).pad_token_id)
    with torch.inference_mode(), one_torch_thread():
        logits = model(input_ids=input_ids, attention_mask=mask).logits[:, -1, :].float()
    columns = [_token_id(directory, token) for token in SCORING_TOKENS[family]]
    if len(columns) == 2:
        # Qwen3: log_softmax([z_no, z_yes])[:, 1].exp(); mxbai: sigmoid(z1 - z0).
        pair = logits[:, columns]
        log_odds = pair[:, 1] - pair[:, 0]
        probability = torch.log_softmax(pair, dim=-1)[:, 1].exp()
    else:
        log_odds = logits[:, columns[0]]
        probability = torch.sigmoid(log_odds)
    chosen = log_odds if raw else probability
    return [float(value) for value in chosen]


def reference_scores_seq_cls(
    directory: Path,
    family: Family,
    query: str,
    documents: Sequence[str],
    *,
    instruction: str | None = None,
    max_length: int,
    raw: bool = False,
) -> list[float]:
    """The card's ids through a converted seq-cls checkpoint: sigmoid of its one logit."""
    directory = Path(directory)
    ids = reference_ids(
        directory, family, query, documents, instruction=instruction, max_length=max_length
    )
    model = _seq_cls(directory)
    input_ids, mask = left_pad(ids, card_tokenizer(directory).pad_token_id)
    with torch.inference_mode(), one_torch_thread():
        logit = model(input_ids=input_ids, attention_mask=mask).logits[:, 0].float()
    chosen = logit if raw else torch.sigmoid(logit)
    return [float(value) for value in chosen]


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``rows`` padded on the left to one length: (input_ids, attention_mask)."""
    width = max(len(row) for row in rows)
    input_ids = torch.tensor([[pad_id] * (width - len(row)) + list(row) for row in rows])
    mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows])
    return input_ids, mask


# --- the cards' token ids ----------------------------------------------------------------


def _plain(tokenizer: Any, text: str, **kwargs: Any) -> list[int]:
    ids: list[int] = tokenizer(text, add_special_tokens=False, **kwargs)["input_ids"]
    return ids


def _qwen3_ids(
    tokenizer: Any, query: str, document: str, instruction: str | None, max_length: int
) -> list[int]:
    """prefix + body (cut to max_length - prefix - suffix) + suffix."""
    prefix = _plain(tokenizer, QWEN3_PREFIX)
    suffix = _plain(tokenizer, QWEN3_SUFFIX)
    if instruction is None:
        instruction = QWEN3_DEFAULT_INSTRUCTION
    body_text = f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"
    # The card calls the tokenizer with its default add_special_tokens (a Qwen tokenizer
    # adds none) and truncation='longest_first' on the one text: the end is cut.
    body: list[int] = tokenizer(
        body_text,
        truncation="longest_first",
        max_length=max_length - len(prefix) - len(suffix),
    )["input_ids"]
    return prefix + body + suffix


def _mxbai_ids(
    tokenizer: Any,
    query: str,
    document: str,
    instruction: str | None,
    max_length: int,
    model_max_length: int,
) -> list[int]:
    """``MxbaiRerankV2.prepare_inputs`` for one pair (``model_max_length`` is the config's
    ``max_position_embeddings``, as the library reads it)."""
    prefix = _plain(tokenizer, MXBAI_PREFIX)
    suffix = _plain(tokenizer, MXBAI_SUFFIX)
    task = _plain(tokenizer, MXBAI_TASK)
    sep = _plain(tokenizer, MXBAI_SEP)
    predefined = len(prefix) + len(task) + len(suffix) + len(sep)
    if max_length + predefined > model_max_length:
        max_length = model_max_length - predefined
    query_text = f"query: {query}"
    if instruction:
        query_text = f"instruction: {instruction}{MXBAI_SEP}{query_text}"
    query_ids = _plain(tokenizer, query_text, truncation=True, max_length=max_length * 3 // 4)
    doc_budget = min(model_max_length - len(query_ids) - predefined, max_length)
    doc_ids = _plain(tokenizer, f"document: {document}", truncation=True, max_length=doc_budget)
    content = query_ids + _only_second(query_ids, sep + doc_ids, max_length)
    return prefix + content + sep + task + suffix


def _gemma_ids(
    tokenizer: Any, query: str, passage: str, instruction: str | None, max_length: int
) -> list[int]:
    """FlagEmbedding ``BaseLLMReranker.compute_score`` for one pair (``prompt=instruction``)."""
    prompt = _plain(tokenizer, GEMMA_PROMPT if instruction is None else instruction)
    sep = _plain(tokenizer, GEMMA_SEP)
    encode_max_length = max_length + len(sep) + len(prompt)
    query_ids = _plain(tokenizer, f"A: {query}", truncation=True, max_length=max_length * 3 // 4)
    passage_ids = _plain(tokenizer, f"B: {passage}", truncation=True, max_length=max_length)
    bos, pad = tokenizer.bos_token_id, tokenizer.pad_token_id
    first = [bos, *query_ids] if bos is not None and bos != pad else query_ids
    second = _only_second(first, sep + passage_ids, encode_max_length)
    return first + second + sep + prompt


def _only_second(first: list[int], second: list[int], max_length: int) -> list[int]:
    """``prepare_for_model(first, second, truncation='only_second', max_length=...)``'s
    second sequence: its end cut so that both fit in ``max_length``."""
    excess = len(first) + len(second) - max_length
    if excess <= 0:
        return second
    if excess >= len(second):
        # transformers logs an error and truncates nothing; no test input gets here
        raise ValueError(f"the first sequence alone ({len(first)}) exceeds {max_length}")
    return second[:-excess]


# --- loading -----------------------------------------------------------------------------


@functools.cache
def card_tokenizer(directory: Path) -> Any:
    """transformers' tokenizer of ``directory``, left padding, as the cards load it."""
    tokenizer = AutoTokenizer.from_pretrained(directory, padding_side="left")
    return tokenizer


@functools.cache
def _max_positions(directory: Path) -> int:
    """The config's ``max_position_embeddings`` (mxbai's ``model_max_length``)."""
    positions: int = AutoConfig.from_pretrained(directory).max_position_embeddings
    return positions


def _token_id(directory: Path, token: str) -> int:
    ids = _plain(card_tokenizer(directory), token)
    if len(ids) != 1:
        raise ValueError(f"{token!r} is not one token in {directory}: {ids}")
    return ids[0]


@functools.cache
def _causal_lm(directory: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()


@functools.cache
def _seq_cls(directory: Path) -> torch.nn.Module:
    return AutoModelForSequenceClassification.from_pretrained(directory, dtype=torch.float32).eval()
