"""PromptTokenizer: the cards' prompts, their cuts, and windows beyond them.

The pairs are read back through the tokenizer's own decoder, an oracle independent of
how the ids were assembled; exact parity of ids and scores with each card's reference
implementation is in tests/integration/test_llm_parity.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from llm_models import Family
from openrerank.engine.documents.prepare import PrepareOptions, prepare
from openrerank.engine.model.recipes import RECIPES
from openrerank.engine.model.spec import read_spec
from openrerank.engine.tokenization.encoder import load_encoder
from openrerank.engine.tokenization.prompt import PromptTokenizer
from openrerank.errors import UnsupportedModelError

QWEN3 = RECIPES["qwen3-reranker"]
MXBAI = RECIPES["mxbai-rerank-v2"]
GEMMA = RECIPES["bge-reranker-v2-gemma"]
LONG = " ".join(f"Sentence {i} tells of vitamin D and bone health." for i in range(400))


@pytest.fixture(scope="module")
def folders(llm_model_factory: Callable[..., Path]) -> dict[Family, Path]:
    return {f: llm_model_factory(f) for f in ("qwen3", "qwen2", "gemma")}


def encoder(folder: Path, max_length: int | None = None) -> PromptTokenizer:
    built = load_encoder(folder, read_spec(folder, max_length=max_length))
    assert isinstance(built, PromptTokenizer)
    return built


def decode(folder: Path, ids: object) -> str:
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)  # type: ignore[attr-defined]


def options(max_tokens: int = 100_000, windows: int | None = None) -> PrepareOptions:
    return PrepareOptions(
        max_tokens_per_doc=max_tokens, max_windows_per_doc=windows, overlap=8,
        max_pairs=10_000, structured=False, rank_fields=None, keep_end=False, spans=False,
        span_tokens=64, chars_per_token=16, max_query_chars=100_000,
        max_document_chars=1_000_000,
    )  # fmt: skip


def one_pair(tok: PromptTokenizer, query: str, document: str, instruction: str | None) -> object:
    side = tok.encode_query(query, instruction)
    return tok.pair(side, tok.encode_texts([document])[0].ids)[0]


def test_qwen3_pair_reads_as_the_cards_prompt(folders: dict[Family, Path]) -> None:
    folder = folders["qwen3"]
    ids = one_pair(encoder(folder), "what is rickets", "Rickets is a bone disease.", "Judge X")
    body = "<Instruct>: Judge X\n<Query>: what is rickets\n<Document>: Rickets is a bone disease."
    assert decode(folder, ids) == QWEN3.lead[0] + body + QWEN3.tail[0]


def test_mxbai_pair_reads_as_the_cards_prompt_with_its_instruction_line(
    folders: dict[Family, Path],
) -> None:
    folder = folders["qwen2"]
    tok = encoder(folder)
    body = "query: what is rickets\ndocument: Rickets is a bone disease."
    plain = decode(folder, one_pair(tok, "what is rickets", "Rickets is a bone disease.", None))
    assert plain == MXBAI.lead[0] + body + "".join(MXBAI.tail)
    told = decode(
        folder, one_pair(tok, "what is rickets", "Rickets is a bone disease.", "Be strict")
    )
    assert told == MXBAI.lead[0] + "instruction: Be strict\n" + body + "".join(MXBAI.tail)


def test_gemma_pair_starts_with_bos_and_an_instruction_replaces_the_task_prompt(
    folders: dict[Family, Path],
) -> None:
    folder = folders["gemma"]
    tok = encoder(folder)
    default = decode(folder, one_pair(tok, "what is rickets", "A bone disease.", None))
    assert default == "<bos>A: what is rickets\nB: A bone disease.\n" + GEMMA.tail[1]
    custom = decode(folder, one_pair(tok, "what is rickets", "A bone disease.", "Is B about A?"))
    assert custom == "<bos>A: what is rickets\nB: A bone disease.\nIs B about A?"


def test_qwen3_first_window_fills_the_window_and_cuts_the_documents_end(
    folders: dict[Family, Path],
) -> None:
    folder = folders["qwen3"]
    tok = encoder(folder, max_length=160)
    pairs = prepare(tok, "bone health", [LONG], replace(options(), instruction="Find it")).pairs
    assert pairs[0].n_tokens == 160
    text = decode(folder, pairs[0].input_ids)
    assert text.startswith(QWEN3.lead[0] + "<Instruct>: Find it\n<Query>: bone health\n")
    assert "<Document>: Sentence 0 tells" in text and text.endswith(QWEN3.tail[0])


# a later window starts at a token, not a word: "document:" is followed by what that token reads
@pytest.mark.parametrize(("family", "marker"), [("qwen2", "document:"), ("gemma", "B:")])
def test_later_windows_carry_the_document_prefix_within_the_cards_budget(
    folders: dict[Family, Path], family: Family, marker: str
) -> None:
    folder = folders[family]
    tok = encoder(folder, max_length=128)
    pairs = prepare(tok, "bone health", [LONG], options(windows=4)).pairs
    assert len(pairs) == 4
    side = tok.encode_query("bone health", None)
    for pair in pairs:
        text = decode(folder, pair.input_ids)
        assert f"bone health\n{marker}" in text
        if family == "qwen2":  # mxbai: query part, "\n" and document part within max_length
            assert pair.n_tokens - len(tok.encode_query("", None).head) <= 128 + len(side.tail)
    assert len({pair.n_tokens for pair in pairs}) == 1


def test_no_pair_is_longer_than_the_models_positions(folders: dict[Family, Path]) -> None:
    folder = folders["gemma"]
    positions = read_spec(folder).max_positions
    tok = encoder(folder, max_length=positions)  # FlagEmbedding's rule allows more
    pairs = prepare(tok, "bone health", [LONG * 4], options(windows=1)).pairs
    assert pairs[0].n_tokens == positions


def test_a_huge_qwen3_query_is_cut_so_the_document_keeps_a_quarter(
    folders: dict[Family, Path],
) -> None:
    tok = encoder(folders["qwen3"], max_length=256)
    fixed = 256 - len(tok.encode_query("", None).head) - len(tok.encode_query("", None).tail)
    side = tok.encode_query("bones " * 500, "Find it")
    assert side.window >= int(fixed * (1 - QWEN3.query_share)) - 1


def test_a_scoring_token_the_vocabulary_splits_is_refused(folders: dict[Family, Path]) -> None:
    folder = folders["qwen3"]
    recipe = replace(QWEN3, score_tokens=("no", "antidisestablishmentarianism"))
    with pytest.raises(UnsupportedModelError, match="splits into"):
        PromptTokenizer(
            Tokenizer.from_file(str(folder / "tokenizer.json")), recipe,
            max_length=512, max_positions=40_960, pad_id=0, bos_id=None,
        )  # fmt: skip
