"""The engine scores LLM rerankers as their cards do (tests/llm_reference.py, written on
transformers from the cards alone), on the tiny random models of tests/llm_models.py.

Per family, for the CausalLM and its converted seq-cls checkpoint, with the card's
default instruction and a custom one, on documents that fit the window, one the card
cuts, and documents whose first characters test how the prompt is put together: the
probability and the raw log-odds agree within 1e-4. Long documents are scored by their
first window only (``aggregation="first"``, no ``max_tokens_per_doc`` cut), which is the
card's truncation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from llm_cases import (
    AWKWARD_DOCUMENTS,
    CUSTOM_INSTRUCTION,
    DOCUMENTS,
    MAX_LENGTH,
    QUERY,
    SPECIAL_TOKEN_DOCUMENT,
    Family,
)
from llm_reference import reference_scores, reference_text
from openrerank import (
    ChunkingConfig,
    EngineConfig,
    InvalidInputError,
    ModelConfig,
    RerankService,
    UnsupportedModelError,
)
from openrerank.config import TemplateName

FAMILIES: tuple[Family, ...] = ("qwen3", "qwen2", "gemma")
ALL_DOCUMENTS = [*DOCUMENTS, *AWKWARD_DOCUMENTS]
TOLERANCE = 1e-4
WHOLE_DOCUMENT = 100_000
"""``max_tokens_per_doc``: no document is cut before the window."""

LlmFactory = Callable[..., Path]


def engine_config(
    folder: Path,
    max_length: int,
    *,
    template: TemplateName = "auto",
    instruction: str | None = None,
) -> EngineConfig:
    model = ModelConfig(
        name=str(folder),
        backend="torch",
        precision="fp32",
        max_length=max_length,
        template=template,
        instruction=instruction,
    )
    return EngineConfig(model=model, chunking=ChunkingConfig(aggregation="first"))


def engine_scores(
    config: EngineConfig, documents: Sequence[str], *, instruction: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The engine's (probabilities, raw log-odds) of ``documents`` for ``QUERY``."""

    async def run() -> tuple[np.ndarray, np.ndarray]:
        async with RerankService(config) as service:
            probabilities, raw = [
                await service.score(
                    QUERY,
                    documents,
                    raw=raw,
                    instruction=instruction,
                    max_tokens_per_doc=WHOLE_DOCUMENT,
                )
                for raw in (False, True)
            ]
        return np.asarray(probabilities), np.asarray(raw)

    return asyncio.run(run())


def assert_card_scores(
    got: np.ndarray,
    expected: Sequence[float],
    *,
    folder: Path,
    family: Family,
    documents: Sequence[str],
    instruction: str | None,
    max_length: int,
) -> None:
    """``got`` equals ``expected`` within TOLERANCE; else name each document that differs
    and the prompt the card builds for it."""
    wrong = np.flatnonzero(np.abs(got - np.asarray(expected)) > TOLERANCE)
    if wrong.size:
        lines = [
            f"document {i}: engine {got[i]:.6f}, card {expected[i]:.6f}; the card's prompt: "
            + repr(
                reference_text(
                    folder,
                    family,
                    QUERY,
                    documents[i],
                    instruction=instruction,
                    max_length=max_length,
                )
            )
            for i in wrong
        ]
        pytest.fail("\n".join(lines), pytrace=False)


@pytest.mark.parametrize("custom", [False, True], ids=["default", "instruction"])
@pytest.mark.parametrize("seq_cls", [False, True], ids=["causal-lm", "seq-cls"])
@pytest.mark.parametrize("family", FAMILIES)
def test_scores_are_the_card_s(
    family: Family, seq_cls: bool, custom: bool, llm_model_factory: LlmFactory
) -> None:
    folder = llm_model_factory(family, seq_cls=seq_cls)
    reference_folder = llm_model_factory(family)  # the CausalLM: full-vocabulary logits
    instruction = CUSTOM_INSTRUCTION if custom else None
    max_length = MAX_LENGTH[family]
    probabilities, raw = engine_scores(
        engine_config(folder, max_length), ALL_DOCUMENTS, instruction=instruction
    )
    for got, raw_wanted in ((probabilities, False), (raw, True)):
        expected = reference_scores(
            reference_folder,
            family,
            QUERY,
            ALL_DOCUMENTS,
            instruction=instruction,
            max_length=max_length,
            raw=raw_wanted,
        )
        assert_card_scores(
            got,
            expected,
            folder=reference_folder,
            family=family,
            documents=ALL_DOCUMENTS,
            instruction=instruction,
            max_length=max_length,
        )


@pytest.mark.parametrize("family", ["qwen3", "qwen2"])
def test_special_token_text_in_a_document_is_read_as_the_card_s_tokenizer_reads_it(
    family: Family, llm_model_factory: LlmFactory
) -> None:
    folder, max_length = llm_model_factory(family), MAX_LENGTH[family]
    documents = [SPECIAL_TOKEN_DOCUMENT]
    probabilities, _ = engine_scores(engine_config(folder, max_length), documents)
    expected = reference_scores(folder, family, QUERY, documents, max_length=max_length)
    assert_card_scores(
        probabilities,
        expected,
        folder=folder,
        family=family,
        documents=documents,
        instruction=None,
        max_length=max_length,
    )


def test_an_operator_instruction_is_the_default_and_a_request_s_wins(
    llm_model_factory: LlmFactory,
) -> None:
    folder, max_length = llm_model_factory("qwen3"), MAX_LENGTH["qwen3"]
    config = engine_config(folder, max_length, instruction=CUSTOM_INSTRUCTION)
    requested_instruction = "Find what spiders look like."
    served_default, _ = engine_scores(config, DOCUMENTS)
    requested, _ = engine_scores(config, DOCUMENTS, instruction=requested_instruction)
    for got, instruction in (
        (served_default, CUSTOM_INSTRUCTION),
        (requested, requested_instruction),
    ):
        expected = reference_scores(
            folder, "qwen3", QUERY, DOCUMENTS, instruction=instruction, max_length=max_length
        )
        assert np.abs(got - np.asarray(expected)).max() <= TOLERANCE, (instruction, got)


def test_a_forced_template_picks_that_card_s_recipe(llm_model_factory: LlmFactory) -> None:
    """``qwen3-reranker`` on a qwen3 model is what auto detects; ``mxbai-rerank-v2`` on
    the same weights is mxbai's prompt and ``1``/``0`` score (the tokens exist in the
    qwen3 tokenizer), which the reference computes on these weights too."""
    folder = llm_model_factory("qwen3")
    cases: tuple[tuple[TemplateName, Family], ...] = (
        ("qwen3-reranker", "qwen3"),
        ("mxbai-rerank-v2", "qwen2"),
    )
    for template, recipe in cases:
        max_length = MAX_LENGTH[recipe]
        config = engine_config(folder, max_length, template=template)
        probabilities, _ = engine_scores(config, DOCUMENTS)
        expected = reference_scores(folder, recipe, QUERY, DOCUMENTS, max_length=max_length)
        assert np.abs(probabilities - np.asarray(expected)).max() <= TOLERANCE, template


def test_rerank_orders_by_the_card_s_scores(llm_model_factory: LlmFactory) -> None:
    folder, max_length = llm_model_factory("gemma"), MAX_LENGTH["gemma"]
    config = engine_config(folder, max_length)

    async def run() -> list[int]:
        async with RerankService(config) as service:
            outcome = await service.rerank(
                QUERY, list(DOCUMENTS), max_tokens_per_doc=WHOLE_DOCUMENT
            )
        return [result.index for result in outcome.results]

    expected = reference_scores(folder, "gemma", QUERY, DOCUMENTS, max_length=max_length)
    assert asyncio.run(run()) == np.argsort(-np.asarray(expected), kind="stable").tolist()


def test_a_cross_encoder_refuses_an_instruction(tiny_model_factory: LlmFactory) -> None:
    config = EngineConfig(model=ModelConfig(name=str(tiny_model_factory("bert")), backend="torch"))

    async def run() -> None:
        async with RerankService(config) as service:
            assert len(await service.score(QUERY, list(DOCUMENTS))) == len(DOCUMENTS)
            with pytest.raises(InvalidInputError, match="takes no instruction"):
                await service.score(QUERY, list(DOCUMENTS), instruction="x")

    asyncio.run(run())


def test_an_operator_instruction_for_a_cross_encoder_stops_its_start(
    tiny_model_factory: LlmFactory,
) -> None:
    folder = str(tiny_model_factory("bert"))
    config = EngineConfig(model=ModelConfig(name=folder, backend="torch", instruction="x"))

    async def run() -> None:
        async with RerankService(config):
            pass

    with pytest.raises(UnsupportedModelError, match="takes no instruction"):
        asyncio.run(run())
