"""Tests for openrerank.eval.bm25 on small hand-built corpora (bm25s does the scoring)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import MappingProxyType

import pytest

from openrerank.eval.bm25 import (
    SUPPORTED_LANGUAGES,
    Bm25Settings,
    bm25_candidates,
    bm25_scored_candidates,
    bm25_tokenize,
    dataset_bm25,
)
from openrerank.eval.datasets import BeirDataset, Document

PETS = {
    "cat-mat": "The cat sat on the mat.",
    "dogs": "Dogs bark loudly at night.",
    "cat-dog": "A cat and a dog became friends.",
    "weather": "Rain is expected tomorrow.",
}


def test_bm25_document_with_both_query_terms_ranks_first() -> None:
    result = bm25_candidates(PETS, {"q": "cat on a mat"})

    assert result["q"][0] == "cat-mat"
    assert set(result["q"]) == {"cat-mat", "cat-dog"}


def test_bm25_excludes_documents_scoring_zero() -> None:
    result = bm25_candidates(PETS, {"q": "barking loudly"})

    assert result == {"q": ("dogs",)}


def test_bm25_scores_are_positive_and_descending() -> None:
    ranking = bm25_scored_candidates(PETS, {"q": "cat mat dogs"})["q"]

    scores = [score for _, score in ranking]
    assert all(score > 0 for score in scores)
    assert scores == sorted(scores, reverse=True)
    ids = bm25_candidates(PETS, {"q": "cat mat dogs"})["q"]
    assert tuple(doc_id for doc_id, _ in ranking) == ids


def test_bm25_english_stemming_matches_running_and_runs() -> None:
    corpus = {"runs": "She runs every morning.", "swims": "He swims every evening."}

    assert bm25_candidates(corpus, {"q": "running"}) == {"q": ("runs",)}
    assert bm25_tokenize(["running runs"]) == [["run", "run"]]


def test_bm25_query_of_stop_words_only_matches_nothing() -> None:
    corpus = {"d1": "The cat is on the mat.", "d2": "It is a dog."}

    assert bm25_tokenize(["the is on a"]) == [[]]
    assert bm25_candidates(corpus, {"stop": "the is on a", "cat": "cat"}) == {"cat": ("d1",)}


def test_bm25_corpus_without_any_token_gives_no_candidates() -> None:
    assert bm25_candidates({"d1": "the and of", "d2": ""}, {"q": "the cat"}) == {}


def test_bm25_empty_corpus_or_queries_give_no_candidates() -> None:
    assert bm25_candidates({}, {"q": "cat"}) == {}
    assert bm25_candidates(PETS, {}) == {}


def test_bm25_k_caps_the_list_to_the_best_documents() -> None:
    corpus = {f"d{i}": "apple " * (i + 1) + "pear" for i in range(6)}

    full = bm25_candidates(corpus, {"q": "apple"}, k=6)["q"]
    capped = bm25_candidates(corpus, {"q": "apple"}, k=2)["q"]

    assert len(full) == 6
    assert capped == full[:2]


def test_bm25_k_below_one_raises() -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        bm25_candidates(PETS, {"q": "cat"}, k=0)


def test_bm25_equal_scores_are_ordered_by_document_id() -> None:
    corpus = {"b": "apple pie", "c": "apple pie", "a": "apple pie", "z": "pear tart"}

    assert bm25_candidates(corpus, {"q": "apple"}) == {"q": ("a", "b", "c")}


def test_bm25_tie_across_the_cut_keeps_the_lowest_document_ids() -> None:
    tied = {f"t{i}": "apple" for i in reversed(range(10))}
    other = {f"o{i}": f"pear number{i}" for i in range(10)}

    result = bm25_candidates({**tied, **other}, {"q": "apple"}, k=2)

    assert result == {"q": ("t0", "t1")}


def test_bm25_results_follow_query_order_and_are_deterministic() -> None:
    queries = {"q2": "dogs", "q1": "cat", "q3": "rain tomorrow"}

    first = bm25_candidates(PETS, queries)
    second = bm25_candidates(dict(reversed(PETS.items())), queries)

    assert list(first) == ["q2", "q1", "q3"]
    assert first == second


def test_bm25_chinese_is_split_into_character_bigrams() -> None:
    settings = Bm25Settings(language="zh")
    corpus = {"beijing": "我喜欢北京烤鸭", "shanghai": "上海天气很好"}

    assert bm25_tokenize(["北京烤鸭 猫"], settings) == [["北京", "京烤", "烤鸭", "猫"]]
    assert bm25_candidates(corpus, {"q": "去北京"}, settings=settings) == {"q": ("beijing",)}


def test_bm25_thai_is_split_into_character_bigrams() -> None:
    settings = Bm25Settings(language="th")
    corpus = {"thai": "ภาษาไทย", "cat": "แมวดำ"}

    assert bm25_tokenize(["ไทย"], settings) == [["ไท", "ทย"]]
    assert bm25_candidates(corpus, {"q": "คนไทย"}, settings=settings) == {"q": ("thai",)}


def test_bm25_generic_tokens_keep_combining_marks_and_are_lower_cased() -> None:
    hindi = "नमस्ते दुनिया"
    assert len(re.findall(r"\w+", hindi)) > 2  # Python's \w splits at the vowel signs

    assert bm25_tokenize([hindi], Bm25Settings(language="hi")) == [["नमस्ते", "दुनिया"]]
    assert bm25_tokenize(["Häuser UND Straße_2"], Bm25Settings(language="de")) == [
        ["häuser", "und", "straße", "2"]
    ]


def test_bm25_stems_other_languages_only_when_asked() -> None:
    plain = Bm25Settings(language="de")
    stemmed = Bm25Settings(language="de", stem_all_languages=True)

    assert plain.stemmer is None
    assert stemmed.stemmer == "german"
    assert bm25_tokenize(["Häuser"], stemmed) == bm25_tokenize(["Haus"], stemmed)
    assert bm25_tokenize(["Häuser"], plain) != bm25_tokenize(["Haus"], plain)


@pytest.mark.parametrize(("language", "stemmer"), [("en", "english"), ("zh", None), ("th", None)])
def test_bm25_settings_pick_the_snowball_stemmer_pystemmer_has(
    language: str, stemmer: str | None
) -> None:
    assert Bm25Settings(language=language, stem_all_languages=True).stemmer == stemmer


def test_bm25_every_supported_language_tokenizes() -> None:
    for language in SUPPORTED_LANGUAGES:
        assert bm25_tokenize(["Word 42"], Bm25Settings(language=language))[0]


def test_bm25_unknown_language_names_the_supported_ones() -> None:
    expected = "unknown BM25 language 'xx'; supported: ar de el en es hi ru th tr vi zh"
    with pytest.raises(ValueError, match=re.escape(expected)):
        Bm25Settings(language="xx")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"k1": -0.1}, "k1 must be"),
        ({"k1": float("nan")}, "k1 must be"),
        ({"b": 1.5}, "b must be in"),
        ({"method": "okapi"}, "unknown BM25 method 'okapi'"),
    ],
)
def test_bm25_settings_reject_bad_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(Bm25Settings(), **changes)


def test_bm25_settings_change_the_scores() -> None:
    queries = {"q": "cat mat dogs"}
    default = bm25_scored_candidates(PETS, queries)["q"]
    other = bm25_scored_candidates(PETS, queries, settings=Bm25Settings(k1=1.5, b=0.75))["q"]

    assert [score for _, score in default] != [score for _, score in other]


def test_dataset_bm25_indexes_title_and_text_for_judged_queries_only() -> None:
    dataset = BeirDataset(
        path=Path("tiny"),
        corpus=MappingProxyType(
            {
                "zinc": Document("zinc", "Zinc", "A metal that helps wounds heal."),
                "iron": Document("iron", "", "Iron is a metal."),
            }
        ),
        queries=MappingProxyType({"judged": "zinc", "unjudged": "iron", "other": "metal"}),
        qrels=MappingProxyType(
            {
                "judged": MappingProxyType({"zinc": 1}),
                "other": MappingProxyType({"iron": 1}),
                "no-text": MappingProxyType({"iron": 1}),
            }
        ),
        candidates=MappingProxyType({}),
    )

    result = dataset_bm25(dataset, k=10)

    assert result["judged"] == ("zinc",)
    assert set(result) == {"judged", "other"}
    assert set(result["other"]) == {"zinc", "iron"}


def test_dataset_bm25_unknown_language_raises() -> None:
    dataset = BeirDataset(Path("x"), {}, {}, {}, {})

    with pytest.raises(ValueError, match="supported"):
        dataset_bm25(dataset, k=10, language="klingon")
