"""Tiny, randomly initialised cross-encoders built offline for tests.

``build_tiny_model`` writes a complete Hugging Face sequence-classification folder
(config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
special_tokens_map.json) whose tokenizer mimics the real model family it stands for:

* ``bert``: WordPiece, like cross-encoder/ms-marco-MiniLM-L-6-v2;
* ``electra``: the same WordPiece tokenizer, with an ELECTRA classifier;
* ``xlm-roberta``: SentencePiece-style Unigram with Metaspace, like BAAI/bge-reranker-v2-m3;
* ``modernbert``: byte-level BPE, like Alibaba-NLP/gte-reranker-modernbert-base.

Nothing is downloaded. Vocabularies come from the small fixed corpus below: byte-level
BPE through the ``tokenizers`` trainer, which is deterministic; WordPiece and Unigram
through a plain frequency count, because their ``tokenizers`` trainers break ties (and
sum floats) in hash-map order and so give a different vocabulary on every run.
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tokenizers import (
    AddedToken,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertTokenizer,
    PreTrainedTokenizerFast,
    XLMRobertaTokenizer,
)

ARCHITECTURES: tuple[str, ...] = ("bert", "xlm-roberta", "electra", "modernbert")

VOCAB_SIZE = 400
"""Size of every vocabulary, special tokens included."""

_CORPUS: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "A cross-encoder reads the query and the document together and returns a relevance score.",
    "Rerankers sort a short list of candidate passages by how well they answer the question.",
    "Vitamin D deficiency is associated with a higher risk of bone fractures in older adults.",
    "The mitochondria is the powerhouse of the cell and produces most of its energy.",
    "Search engines first retrieve documents with a fast index, then rerank the best ones.",
    "Climate change increases the frequency of heat waves, droughts and heavy rainfall.",
    "Python is a programming language that lets you work quickly and integrate systems.",
    "The patient was treated with antibiotics and recovered within two weeks.",
    "Proteins fold into three-dimensional structures that determine their function.",
    "What is the capital of France? Paris is the capital and largest city of France.",
    "How many legs does a spider have? Spiders have eight legs and two body segments.",
    "Neural networks learn representations of text from large amounts of training data.",
    "The study found no significant difference between the treatment and control groups.",
    "Water boils at one hundred degrees Celsius at sea level under normal pressure.",
    "Scientists measured the expression of genes in tumour cells before and after therapy.",
    "Reading documents in batches of similar length reduces the cost of padding tokens.",
    "The museum opened a new exhibition about ancient Egyptian art and writing.",
    "Researchers reported that the vaccine reduced hospital admissions by half.",
    "Sleep is important for memory, learning and the repair of the human body.",
    "Is coffee good for your health? Moderate coffee intake may lower the risk of disease.",
    "The train to the city leaves every twenty minutes from the central station.",
    "Open models can be hosted on your own servers without sending data to third parties.",
    "Insulin regulates the level of glucose in the blood after a meal.",
)

_MODEL_SIZE: dict[str, Any] = {
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "hidden_size": 32,
    "intermediate_size": 64,
    "max_position_embeddings": 128,
}

_WIDE_INIT: dict[str, Any] = {"initializer_range": 0.4}
"""With the default 0.02, a tiny BERT-style model gives every pair nearly the same logit
(spread under 1e-3); this spreads them over a few units, so scores depend on the input.
ModernBERT's own initialisation already does that."""

_SPECIAL_TOKEN_NAMES = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)

_TokenizerBuilder = Callable[[Path, int], tuple[Tokenizer, dict[str, Any]]]


def build_tiny_model(
    arch: str, out_dir: Path, *, num_labels: int = 1, seed: int = 0, max_length: int = 64
) -> Path:
    """Write a tiny random ``arch`` cross-encoder with ``num_labels`` outputs into ``out_dir``.

    The weights depend only on ``seed``; the tokenizer is the same for every call.
    ``max_length`` becomes the tokenizer's ``model_max_length``. Returns ``out_dir``.
    """
    if arch not in _TOKENIZER_BUILDERS:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {ARCHITECTURES}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer, config_overrides = _TOKENIZER_BUILDERS[arch](out_dir, max_length)
    config = AutoConfig.for_model(
        arch,
        vocab_size=tokenizer.get_vocab_size(),
        num_labels=num_labels,
        **{**_MODEL_SIZE, **config_overrides},
    )
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(config)
    model.save_pretrained(out_dir)
    return out_dir


def _words(tokenizer: Tokenizer) -> Counter[str]:
    """How often each pre-tokenized word of the corpus occurs, after normalisation."""
    words: Counter[str] = Counter()
    for text in _CORPUS:
        if tokenizer.normalizer is not None:
            text = tokenizer.normalizer.normalize_str(text)
        words.update(word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(text))
    return words


def _pieces(words: Counter[str], size: int, continuation: str = "") -> list[tuple[str, int]]:
    """All characters plus the ``size`` best longer pieces of ``words``, with their counts.

    Longer pieces (2 to 8 characters) rank by count times extra length, then
    alphabetically. With ``continuation`` (WordPiece's ``##``) a piece that does not
    start its word carries that prefix, and every character gets both forms.
    """
    chars: Counter[str] = Counter()
    longer: Counter[str] = Counter()
    for word, count in words.items():
        for start, char in enumerate(word):
            chars[(continuation if start else "") + char] += count
            for end in range(start + 2, min(len(word), start + 8) + 1):
                longer[(continuation if start else "") + word[start:end]] += count
    if continuation:
        for char in [c for c in chars if not c.startswith(continuation)]:
            chars.setdefault(continuation + char, 0)

    def gain(item: tuple[str, int]) -> tuple[int, str]:
        return -item[1] * (len(item[0].removeprefix(continuation)) - 1), item[0]

    return sorted(chars.items()) + sorted(longer.items(), key=gain)[:size]


def _wordpiece(out_dir: Path, max_length: int, tokenizer_class: str) -> Tokenizer:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    pieces = _pieces(_words(tokenizer), VOCAB_SIZE, continuation="##")
    vocab = specials + [piece for piece, _ in pieces][: VOCAB_SIZE - len(specials)]
    tokenizer.model = models.WordPiece(
        {piece: i for i, piece in enumerate(vocab)}, unk_token="[UNK]", max_input_chars_per_word=100
    )
    tokenizer.add_special_tokens(specials)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    hf_tokenizer = BertTokenizer(
        tokenizer_object=tokenizer, do_lower_case=True, model_max_length=max_length
    )
    hf_tokenizer.save_pretrained(out_dir)
    _finish_tokenizer_files(out_dir, tokenizer_class=tokenizer_class)
    return tokenizer


def _bert(out_dir: Path, max_length: int) -> tuple[Tokenizer, dict[str, Any]]:
    tokenizer = _wordpiece(out_dir, max_length, "BertTokenizer")
    return tokenizer, {"pad_token_id": 0, "type_vocab_size": 2, **_WIDE_INIT}


def _electra(out_dir: Path, max_length: int) -> tuple[Tokenizer, dict[str, Any]]:
    tokenizer = _wordpiece(out_dir, max_length, "ElectraTokenizer")
    overrides = {"pad_token_id": 0, "type_vocab_size": 2, "embedding_size": 32, **_WIDE_INIT}
    return tokenizer, overrides


def _xlm_roberta(out_dir: Path, max_length: int) -> tuple[Tokenizer, dict[str, Any]]:
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tokenizer = Tokenizer(models.Unigram())
    # What transformers' XLMRobertaTokenizer rebuilds from a tokenizer.json that has no
    # SentencePiece charsmap: no normaliser, split on whitespace, then Metaspace.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(prepend_scheme="always")]
    )
    tokenizer.decoder = decoders.Metaspace(prepend_scheme="always")
    pieces = _pieces(_words(tokenizer), VOCAB_SIZE)[: VOCAB_SIZE - len(specials) - 1]
    total = sum(count for _, count in pieces)
    # As in XLM-R: <s> <pad> </s> <unk> first, <mask> last, special scores 0.
    vocab = [(token, 0.0) for token in specials]
    pieces.sort(key=lambda item: (-item[1], item[0]))
    vocab += [(piece, math.log(count / total)) for piece, count in pieces]
    vocab.append(("<mask>", 0.0))
    tokenizer.model = models.Unigram(vocab, unk_id=3, byte_fallback=False)
    tokenizer.add_special_tokens([*specials, AddedToken("<mask>", lstrip=True, special=True)])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    hf_tokenizer = XLMRobertaTokenizer(tokenizer_object=tokenizer, model_max_length=max_length)
    hf_tokenizer.save_pretrained(out_dir)
    _finish_tokenizer_files(out_dir, tokenizer_class="XLMRobertaTokenizer")
    overrides = {
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "type_vocab_size": 1,
        # RoBERTa positions start after the padding index, so 128 tokens need 130.
        "max_position_embeddings": 130,
        **_WIDE_INIT,
    }
    return tokenizer, overrides


def _modernbert(out_dir: Path, max_length: int) -> tuple[Tokenizer, dict[str, Any]]:
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS, trainer=trainer)
    # As in ModernBERT, the special tokens come after the BPE vocabulary.
    tokenizer.add_special_tokens(
        [AddedToken(token, lstrip=token == "[MASK]", special=True) for token in specials]
    )
    ids = {token: tokenizer.token_to_id(token) for token in specials}
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    hf_tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        model_max_length=max_length,
        model_input_names=["input_ids", "attention_mask"],
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
    )
    hf_tokenizer.save_pretrained(out_dir)
    _finish_tokenizer_files(out_dir, tokenizer_class="PreTrainedTokenizerFast")
    overrides = {
        "pad_token_id": ids["[PAD]"],
        "cls_token_id": ids["[CLS]"],
        "bos_token_id": ids["[CLS]"],
        "sep_token_id": ids["[SEP]"],
        "eos_token_id": ids["[SEP]"],
        # Global attention, then a 16-token sliding window: short enough that test
        # inputs exercise the local attention mask.
        "layer_types": ["full_attention", "sliding_attention"],
        "local_attention": 16,
        "classifier_pooling": "mean",
    }
    return tokenizer, overrides


def _finish_tokenizer_files(out_dir: Path, **config_values: Any) -> None:
    """Set ``config_values`` in tokenizer_config.json; write special_tokens_map.json."""
    path = out_dir / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.update(config_values)
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    specials = {name: config[name] for name in _SPECIAL_TOKEN_NAMES if config.get(name)}
    text = json.dumps(specials, indent=2) + "\n"
    (out_dir / "special_tokens_map.json").write_text(text, encoding="utf-8")


_TOKENIZER_BUILDERS: dict[str, _TokenizerBuilder] = {
    "bert": _bert,
    "xlm-roberta": _xlm_roberta,
    "electra": _electra,
    "modernbert": _modernbert,
}


def transformers_logits(
    folder: Path,
    query: str,
    documents: list[str],
    *,
    max_length: int,
    truncation: Literal["only_second", "longest_first"] = "only_second",
) -> np.ndarray:
    """The reference: transformers' logits for (query, document) pairs, padded as one batch.

    ``truncation="longest_first"`` is sentence-transformers' ``CrossEncoder`` recipe
    (``truncation=True``); it equals ``"only_second"`` whenever the query fits in half
    the window. The model is loaded once per folder.
    """
    tokenizer, model = _transformers_model(folder)
    # a batch of pairs: transformers treats an empty string as a real second segment here
    encoded = tokenizer(
        [query] * len(documents),
        documents,
        truncation=truncation,
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )
    with torch.inference_mode():
        logits: np.ndarray = model(**encoded).logits.float().numpy()
        return logits


@functools.cache
def _transformers_model(folder: Path) -> tuple[Any, torch.nn.Module]:
    """transformers' tokenizer and model (in eval mode) for ``folder``."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    return tokenizer, model
