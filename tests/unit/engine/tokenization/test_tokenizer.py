from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from openrerank.engine.tokenization.tokenizer import PairTokenizer
from openrerank.errors import ModelLoadError, UnsupportedModelError
from openrerank.types import IntArray
from tiny_models import ARCHITECTURES

QUERY = "does the cross encoder read the query"
DOCUMENTS = [
    "A cross-encoder reads the query and the document together.",
    "",
    "Vitamin D deficiency is associated with fractures " * 20,
    "Ünïcödé text — with punctuation, numbers 12345 and emoji 🙂.",
]


def first_windows(
    tokenizer: PairTokenizer, query: str, documents: list[str]
) -> list[tuple[IntArray, IntArray]]:
    """Each document's first window next to the capped query, as the engine builds it."""
    query_ids = tokenizer.encode_query(query)
    window = tokenizer.document_window(query_ids)
    texts = tokenizer.encode_texts(documents)
    return [tokenizer.pair(query_ids, text.ids[:window]) for text in texts]


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
    pairs = first_windows(ours, QUERY, DOCUMENTS)
    assert [ids.tolist() for ids, _ in pairs] == expected["input_ids"]
    if "token_type_ids" in expected:
        assert [types.tolist() for _, types in pairs] == expected["token_type_ids"]
    assert ours.pad_id == reference.pad_token_id


def test_tokenizer_truncates_the_document_to_the_window(tiny_model_dir: Path) -> None:
    tokenizer = PairTokenizer.from_directory(tiny_model_dir, max_length=32)
    ((ids, type_ids),) = first_windows(tokenizer, "short query", ["the document " * 100])
    assert ids.shape[0] == 32
    assert int((type_ids == 0).sum()) == tokenizer.count_tokens("short query") + 2


def test_tokenizer_caps_the_query_to_half_the_text_window(tiny_model_dir: Path) -> None:
    tokenizer = PairTokenizer.from_directory(tiny_model_dir, max_length=32)
    long_query = "the quick brown fox jumps over the lazy dog " * 10
    ((ids, type_ids),) = first_windows(tokenizer, long_query, ["the document " * 100])
    query_tokens = int((type_ids == 0).sum()) - 2  # [CLS] and the first [SEP]
    assert query_tokens == tokenizer.query_max_tokens == (32 - 3) // 2
    assert ids.shape[0] == 32


def test_tokenizer_keeps_a_query_that_fits(tiny_model_dir: Path) -> None:
    tokenizer = PairTokenizer.from_directory(tiny_model_dir, max_length=64)
    assert tokenizer.cap_query("a short query") == "a short query"


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"garbage, not json", "not a valid tokenizer.json"),
        (b"", "not a valid tokenizer.json"),
        (b'{"version": "1.0"}', "not a valid tokenizer.json"),
        (b"\xff\xfe\x00", "not a valid tokenizer.json"),
    ],
)
def test_tokenizer_from_a_broken_file_is_a_one_line_load_error(
    tiny_model_dir: Path, tmp_path: Path, content: bytes, cause: str
) -> None:
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    (folder / "tokenizer.json").write_bytes(content)
    with pytest.raises(ModelLoadError, match=cause) as caught:
        PairTokenizer.from_directory(folder, max_length=32)
    message = str(caught.value)
    assert message.startswith(f"{folder / 'tokenizer.json'}: ") and "\n" not in message


def test_tokenizer_names_a_broken_special_tokens_map(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    (folder / "tokenizer_config.json").write_text("{}")
    (folder / "special_tokens_map.json").write_text('{"pad_token": ')
    with pytest.raises(ModelLoadError, match=r"special_tokens_map\.json: not valid JSON"):
        PairTokenizer.from_directory(folder, max_length=32)


def test_tokenizer_missing_file_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError, match=re.escape(f"{tmp_path} has no tokenizer.json")):
        PairTokenizer.from_directory(tmp_path, max_length=32)
