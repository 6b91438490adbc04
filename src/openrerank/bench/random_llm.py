"""A random-weight LLM reranker of a real model's exact shape, for speed and memory.

The real weights of Qwen3-Reranker cannot be downloaded here; speed and memory depend on
the shape, not the values. The tokenizer is a byte-level BPE trained on the benchmark's
own corpus (SciFact), so pairs have realistic lengths, with Qwen's special tokens and
whole ``yes``/``no`` tokens. A ``chat_template.jinja`` renders sentence-transformers'
(query, document) messages as the Qwen3-Reranker prompt, so its ``CrossEncoder`` scores
exactly the pairs openrerank scores. Never a quality model: its scores mean nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openrerank.engine.model.recipes import QWEN3_INSTRUCTION, RECIPES
from openrerank.eval.datasets import load_beir

if TYPE_CHECKING:
    from tokenizers import Tokenizer

QWEN3_0_6B: dict[str, Any] = {
    "architectures": ["Qwen3ForCausalLM"],
    "model_type": "qwen3",
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "vocab_size": 151_669,
    "max_position_embeddings": 40_960,
    "rope_theta": 1_000_000,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "hidden_act": "silu",
}
"""``Qwen/Qwen3-Reranker-0.6B``'s config.json, as far as it shapes compute and memory."""
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
ADDED = ("<think>", "</think>", "yes", "no")
TOKENIZER_VOCAB = 32_000


def build_random_qwen3(out: Path, data_dir: Path, *, layers: int | None = None) -> Path:
    """Write a random Qwen3-Reranker-0.6B-shaped model to ``out`` (``layers`` = fewer
    decoder layers, for a quick memory probe of long pairs); returns ``out``."""
    import torch
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=_train_tokenizer(data_dir),
        pad_token="<|endoftext|>",
        eos_token="<|im_end|>",
        padding_side="left",
        model_max_length=40_960,
    )
    tokenizer.save_pretrained(out)
    (out / "chat_template.jinja").write_text(_chat_template(), encoding="utf-8")
    shape = dict(QWEN3_0_6B, num_hidden_layers=layers or QWEN3_0_6B["num_hidden_layers"])
    config = Qwen3Config(**shape, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    Qwen3ForCausalLM(config).save_pretrained(out)
    return out


def _train_tokenizer(data_dir: Path) -> Tokenizer:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB,
        special_tokens=list(SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(data_dir), trainer)
    tokenizer.add_tokens(list(ADDED))
    return tokenizer


def _corpus(data_dir: Path) -> Iterator[str]:
    dataset = load_beir(data_dir / "beir-scifact")
    recipe = RECIPES["qwen3-reranker"]
    yield from (*recipe.lead, *recipe.tail, recipe.query, QWEN3_INSTRUCTION)
    yield from dataset.queries.values()
    yield from (document.text for document in dataset.corpus.values())


def _chat_template() -> str:
    """sentence-transformers' pair messages (roles ``query``, ``document``) rendered as
    the Qwen3-Reranker card's prompt with its default instruction."""
    recipe = RECIPES["qwen3-reranker"]
    query = '{{ messages | selectattr("role", "eq", "query") | map(attribute="content") | first }}'
    document = (
        '{{ messages | selectattr("role", "eq", "document") | map(attribute="content") | first }}'
    )
    body = recipe.query.format(instruction=QWEN3_INSTRUCTION, query=query)
    tail = recipe.tail[0]
    ending = tail[len(tail.rstrip("\n")) :]  # Jinja drops a template's final newline
    return (
        recipe.lead[0]
        + body
        + recipe.document
        + document
        + tail.rstrip("\n")
        + ("{{ " + repr(ending) + " }}")
    )
