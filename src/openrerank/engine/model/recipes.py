"""LLM rerankers' recipes: each family's prompt, truncation and scoring tokens.

A decoder LLM scores a (query, document) pair from the logits of one or two answer
tokens at the last position of a prompt that wraps the pair. The strings and rules
below are the model cards' (``docs/LLM_RERANKERS.md`` in the shared docs); getting any
of them slightly wrong gives scores that look plausible and rank badly.

A prompt is laid out as ``lead + query part + between + document part + tail``: each
string of ``lead``, ``between`` and ``tail`` is tokenized alone (as the cards do), the
query part and the document part are tokenized from their templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Budget = Literal["whole", "body", "passage"]
"""How a card spends ``max_length`` (see :class:`Recipe`)."""

QWEN3_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
_QWEN3_SYSTEM = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the "
    'Query and the Instruct provided. Note that the answer can only be "yes" or "no".'
    "<|im_end|>\n<|im_start|>user\n"
)
_QWEN3_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
_MXBAI_SYSTEM = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\n<|im_start|>user\n"
)
_MXBAI_TASK = (
    "You are a search relevance expert who evaluates how well documents match search "
    "queries. For each query-document pair, carefully analyze the semantic relationship "
    "between them, then provide your binary relevance judgment (0 for not relevant, 1 for "
    "relevant).\nRelevance:"
)
_MXBAI_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"
_GEMMA_PROMPT = (
    "Given a query A and a passage B, determine whether the passage contains an answer to "
    "the query by providing a prediction of either 'Yes' or 'No'."
)


@dataclass(frozen=True)
class Recipe:
    """One family's prompt and score.

    Attributes:
        name: the template name operators use (``--template MODEL=NAME``).
        model_types: the ``config.json`` ``model_type`` values detected as this family.
        lead: strings before the query part, each tokenized alone.
        query: the query part's template, with ``{query}`` and ``{instruction}``.
        instruction_line: with an instruction, how it reads inside ``{instruction}``;
            ``None`` when the instruction replaces ``tail``'s last string instead
            (FlagEmbedding's ``prompt``).
        default_instruction: used when neither the request nor the operator give one.
        between: strings between the query part and the document part.
        document: text before the document inside the document part.
        tail: strings after the document part, each tokenized alone.
        score_tokens: ``(negative, positive)``: the score is ``z_pos - z_neg``, the
            probability its sigmoid; or ``(positive,)``: the raw ``z_pos``.
        bos: prepend the BOS token when it differs from the padding token.
        budget: what ``max_length`` bounds: ``whole`` = the whole prompt (Qwen3: the
            document's end is cut); ``body`` = query part, between and document part
            (mxbai); ``passage`` = FlagEmbedding's rule, the document part to
            ``max_length`` and lead, query part, between and document part to
            ``max_length`` plus the prompt after it.
        query_share: the query part keeps at most this share of ``max_length``.
        default_max_length: the window when the operator does not set one (the card's).
    """

    name: str
    model_types: frozenset[str]
    lead: tuple[str, ...]
    query: str
    instruction_line: str | None
    default_instruction: str | None
    between: tuple[str, ...]
    document: str
    tail: tuple[str, ...]
    score_tokens: tuple[str, ...]
    bos: bool
    budget: Budget
    query_share: float
    default_max_length: int


RECIPES: dict[str, Recipe] = {
    "qwen3-reranker": Recipe(
        name="qwen3-reranker",
        model_types=frozenset({"qwen3"}),
        lead=(_QWEN3_SYSTEM,),
        # the card tokenizes "<Instruct>: ...<Document>: {doc}" as one text; a byte-level
        # BPE never merges across ": " (punctuation, then a space-led word), so the part
        # up to ":" and " {doc}" tokenize exactly as the whole does
        query="<Instruct>: {instruction}\n<Query>: {query}\n<Document>:",
        instruction_line="{instruction}",
        default_instruction=QWEN3_INSTRUCTION,
        between=(),
        document=" ",
        tail=(_QWEN3_SUFFIX,),
        score_tokens=("no", "yes"),
        bos=False,
        budget="whole",
        query_share=0.75,
        default_max_length=32_768,
    ),
    "mxbai-rerank-v2": Recipe(
        name="mxbai-rerank-v2",
        model_types=frozenset({"qwen2"}),
        lead=(_MXBAI_SYSTEM,),
        query="{instruction}query: {query}",
        instruction_line="instruction: {instruction}\n",
        default_instruction=None,
        between=("\n",),
        document="document: ",
        tail=("\n", _MXBAI_TASK, _MXBAI_SUFFIX),
        score_tokens=("0", "1"),
        bos=False,
        budget="body",
        query_share=0.75,
        default_max_length=8_192,
    ),
    "bge-reranker-v2-gemma": Recipe(
        name="bge-reranker-v2-gemma",
        model_types=frozenset({"gemma"}),
        lead=(),
        query="A: {query}",
        instruction_line=None,
        default_instruction=None,
        between=("\n",),
        document="B: ",
        tail=("\n", _GEMMA_PROMPT),
        score_tokens=("Yes",),
        bos=True,
        budget="passage",
        query_share=0.75,
        default_max_length=512,
    ),
}

_CAUSAL_SUFFIX = "ForCausalLM"
_SEQ_CLS_SUFFIX = "ForSequenceClassification"


def is_causal_lm(architecture: str) -> bool:
    """Whether a transformers class name is a decoder LM (``*ForCausalLM``)."""
    return architecture.endswith(_CAUSAL_SUFFIX)


def detect_recipe(
    model_type: str, architecture: str, num_labels: int, forced: str = "auto"
) -> Recipe | None:
    """The recipe a checkpoint is scored by, or ``None`` for a plain cross-encoder.

    A ``*ForCausalLM`` of a known family, or its one-label converted
    sequence-classification checkpoint (``*-seq-cls``), gets its family's recipe; an
    operator's ``forced`` name wins (``none`` = a plain cross-encoder).

    Raises:
        ValueError: ``forced`` is no template name.
    """
    if forced not in ("auto", "none") and forced not in RECIPES:
        raise ValueError(
            f"unknown template {forced!r}; templates: auto, none, {', '.join(RECIPES)}"
        )
    if forced == "none":
        return None
    if forced != "auto":
        return RECIPES[forced]
    causal = is_causal_lm(architecture)
    converted = architecture.endswith(_SEQ_CLS_SUFFIX) and num_labels == 1
    if not (causal or converted):
        return None
    return next((r for r in RECIPES.values() if model_type in r.model_types), None)
