"""First-stage candidates on ../shared data: the shared runs and the built-in BM25.

The expected figures are read from the "Reference numbers" table of
``../shared/data/README.md``, never typed in here, and compared at the precision the
README prints them (half a unit in the last digit).

The built-in BM25 (bm25s with the recipe the README gives) is checked against the shared
runs query by query: every shared list must be a BM25 ranking under our scores, i.e. the
same documents with the same scores in the same order up to the order of documents whose
scores are exactly equal. The shared runs kept bm25s's top-k selection order for such
ties (``np.argpartition`` + ``np.argsort``), which depends on numpy's CPU-specific
sorting kernels; the built-in BM25 orders them by document id instead, so whole lists and
tie-sensitive measures are compared after putting the shared run's ties in that order.

The README's XQuAD-R figures were computed from the scored runs, where pytrec_eval orders
tied scores by its own rule (document id, descending), not from the rank order the TSV
files keep. The two agree at 3 decimals except for xquad-r/de (0.7436 scored, printed
0.744; 0.7432 in rank order), so that one README check is an expected failure, and the
scored figures are checked against the README with the built-in BM25's scores.

No model runs here (about 45 s on 2 cores), so these checks are part of the default suite.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from conftest import require_shared
from openrerank.eval.bm25 import Bm25Settings, bm25_scored_candidates, dataset_bm25
from openrerank.eval.datasets import BeirDataset, load_beir, load_run
from openrerank.eval.measures import evaluate, ranking_to_run

XQUAD_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
SHARED_SETS = ("beir-scifact", "trec-dl-2019-passage", *(f"xquad-r/{x}" for x in XQUAD_LANGUAGES))
K = 100
RANK_ORDER_DIFFERS = pytest.mark.xfail(
    strict=True,
    reason="the README prints the scored run's nDCG@10 under pytrec_eval's tie order "
    "(0.7436 -> 0.744); the TSV's rank order gives 0.7432",
)

Expected = dict[str, tuple[float, int]]
"""Measure (``ir_measures`` syntax) to (value, decimals printed in the README)."""


@pytest.fixture(scope="session")
def dl19_dir() -> Path:
    """The TREC DL 2019 passage folder in ../shared/data."""
    return require_shared("data/trec-dl-2019-passage")


@pytest.fixture(scope="session")
def xquad_dir() -> Path:
    """The XQuAD-R folder in ../shared/data (one sub-folder per language)."""
    return require_shared("data/xquad-r")


@pytest.fixture(scope="session")
def reference_numbers(shared_data_dir: Path) -> dict[str, Expected]:
    """Data set folder to its BM25 figures, from the data README's reference table."""
    return parse_reference_numbers((shared_data_dir / "README.md").read_text(encoding="utf-8"))


def parse_reference_numbers(readme: str) -> dict[str, Expected]:
    """Parse the "Reference numbers" table: ``| set(s) | nDCG values | other measures |``.

    A row may cover several XQuAD-R languages (``xquad-r/ar de ...``), with one value per
    language in each cell; README measure names become ``ir_measures`` names
    (``MRR`` -> ``RR``, ``rel>=2`` -> ``rel=2``).
    """
    section = readme.split("### Reference numbers", 1)[1].splitlines()
    start = next(i for i, line in enumerate(section) if line.startswith("|"))
    end = next((i for i in range(start, len(section)) if not section[i].startswith("|")), None)
    header, _, *rows = section[start:end]
    ndcg_name = _cells(header)[1].split()[-1]
    table: dict[str, Expected] = {}
    for row in rows:
        set_cell, ndcg_cell, other_cell = _cells(row)
        prefix, _, members = set_cell.rpartition("/")
        names = [f"{prefix}/{m}" if prefix else m for m in members.split()]
        columns = [[ndcg_name, *ndcg_cell.split()]]
        columns += [item.split() for item in other_cell.split(",")]
        for measure, *values in columns:
            assert len(values) == len(names), f"README row {row!r}: {measure} has {values}"
            name = measure.replace("MRR", "RR").replace("rel>=", "rel=")
            for data_set, value in zip(names, values, strict=True):
                table.setdefault(data_set, {})[name] = (float(value), len(value.split(".")[1]))
    return table


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def tolerance(decimals: int) -> float:
    """Half a unit in the last printed digit, plus float noise."""
    return 0.5 * 10.0**-decimals + 1e-12


def assert_matches_readme(measured: Mapping[str, float], expected: Expected, label: str) -> None:
    for name, (value, decimals) in expected.items():
        assert abs(measured[name] - value) <= tolerance(decimals), (label, name, measured[name])


def judged(dataset: BeirDataset) -> dict[str, str]:
    return {q: text for q, text in dataset.queries.items() if q in dataset.qrels}


def full_ranking(dataset: BeirDataset, language: str) -> dict[str, tuple[tuple[str, float], ...]]:
    """Every positive-score document with its score, for every judged query."""
    corpus = {doc_id: doc.full_text for doc_id, doc in dataset.corpus.items()}
    settings = Bm25Settings(language=language)
    return bm25_scored_candidates(corpus, judged(dataset), k=len(corpus), settings=settings)


def same_up_to_ties(shared: Sequence[str], ranking: Sequence[tuple[str, float]]) -> bool:
    """Whether ``shared`` is a top-K list of ``ranking``: the same score at every rank."""
    scores = dict(ranking)
    top = ranking[:K]
    return [scores.get(d, 0.0) for d in shared] == [score for _, score in top]


def ties_by_doc_id(
    shared: Mapping[str, Sequence[str]], full: Mapping[str, Sequence[tuple[str, float]]]
) -> dict[str, tuple[str, ...]]:
    """The shared lists with equal-score documents put in document id order."""
    scores = {q: dict(ranking) for q, ranking in full.items()}
    return {q: tuple(sorted(ids, key=lambda d: (-scores[q][d], d))) for q, ids in shared.items()}


def scored_shared_run(
    shared: Mapping[str, Sequence[str]], full: Mapping[str, Sequence[tuple[str, float]]]
) -> dict[str, dict[str, float]]:
    """The shared lists with each document's built-in BM25 score, ties left to pytrec_eval."""
    scores = {q: dict(ranking) for q, ranking in full.items()}
    return {q: {d: scores[q][d] for d in ids} for q, ids in shared.items()}


def compare_with_shared_run(dataset: BeirDataset, language: str) -> dict[str, float]:
    """Run the built-in BM25 and check it against the shared run; return both figures."""
    started = time.perf_counter()
    built_in = dataset_bm25(dataset, k=K, language=language)
    seconds = time.perf_counter() - started
    full = full_ranking(dataset, language)
    queries = judged(dataset)
    assert set(built_in) == set(full) == set(dataset.candidates) & set(queries)
    for query_id in queries:
        ranking = full.get(query_id, ())
        assert built_in.get(query_id, ()) == tuple(d for d, _ in ranking[:K]), query_id
        assert same_up_to_ties(dataset.candidates.get(query_id, ()), ranking), query_id
    identical = sum(built_in.get(q, ()) == dataset.candidates.get(q, ()) for q in queries)
    measures = ("nDCG@10", "R@100", "RR@10")
    mine = evaluate(dataset.qrels, ranking_to_run(built_in), measures)
    shared = evaluate(dataset.qrels, ranking_to_run(dataset.candidates), measures)
    tied_run = ranking_to_run(ties_by_doc_id(dataset.candidates, full))
    tied = evaluate(dataset.qrels, tied_run, measures)
    for name in measures:
        assert mine[name] == pytest.approx(tied[name], abs=1e-12), name
    scored = evaluate(dataset.qrels, scored_shared_run(dataset.candidates, full), measures)
    print(
        f"\n{dataset.path.name}: built-in BM25 {seconds:.2f} s; {identical}/{len(queries)} lists "
        f"identical, all equal up to ties; nDCG@10 {mine['nDCG@10']:.5f} vs shared run "
        f"{shared['nDCG@10']:.5f} ({mine['nDCG@10'] - shared['nDCG@10']:+.5f})"
    )
    return {
        **mine,
        **{f"shared {name}": value for name, value in shared.items()},
        **{f"scored shared {name}": value for name, value in scored.items()},
    }


def test_readme_reference_table_covers_every_shared_set(
    reference_numbers: dict[str, Expected],
) -> None:
    assert set(reference_numbers) == set(SHARED_SETS)
    assert set(reference_numbers["beir-scifact"]) == {"nDCG@10", "R@100", "RR@10"}
    assert set(reference_numbers["trec-dl-2019-passage"]) == {
        "nDCG@10",
        "R(rel=2)@100",
        "RR(rel=2)@10",
    }


@pytest.mark.parametrize(
    "data_set",
    [
        pytest.param(name, marks=RANK_ORDER_DIFFERS) if name == "xquad-r/de" else name
        for name in SHARED_SETS
    ],
)
def test_shared_run_reproduces_the_readme_reference_numbers(
    data_set: str, shared_data_dir: Path, reference_numbers: dict[str, Expected]
) -> None:
    dataset = load_beir(shared_data_dir / data_set)
    expected = reference_numbers[data_set]

    measured = evaluate(dataset.qrels, ranking_to_run(dataset.candidates), list(expected))

    assert_matches_readme(measured, expected, data_set)


@pytest.mark.parametrize("data_set", ["beir-scifact", "trec-dl-2019-passage"])
def test_shared_trec_run_holds_the_same_ranking_as_the_tsv_run(
    data_set: str, shared_data_dir: Path
) -> None:
    run_dir = shared_data_dir / data_set / "run"

    assert load_run(run_dir / "bm25_top100.trec") == load_run(run_dir / "bm25_top100.tsv")


def test_load_run_reads_a_gzipped_shared_run(xquad_dir: Path) -> None:
    dataset = load_beir(xquad_dir / "zh")

    assert load_run(xquad_dir / "zh" / "run" / "bm25_top100.tsv.gz") == dataset.candidates


def test_builtin_bm25_reproduces_the_scifact_run(
    scifact_dir: Path, reference_numbers: dict[str, Expected]
) -> None:
    dataset = load_beir(scifact_dir)

    measured = compare_with_shared_run(dataset, "en")

    assert_matches_readme(measured, reference_numbers["beir-scifact"], "built-in BM25")
    for name in ("nDCG@10", "R@100", "RR@10"):
        assert measured[name] == measured[f"shared {name}"], name


def test_builtin_bm25_scores_equal_the_scifact_trec_scores(scifact_dir: Path) -> None:
    dataset = load_beir(scifact_dir, run=None)
    scores = {q: dict(ranking) for q, ranking in full_ranking(dataset, "en").items()}
    lines = (scifact_dir / "run" / "bm25_top100.trec").read_text(encoding="utf-8").splitlines()

    differing = []
    for line in lines:
        query_id, _, doc_id, _, printed, _ = line.split()
        if f"{scores[query_id][doc_id]:.6f}" != printed:
            differing.append(line)

    print(f"\nSciFact: {len(lines) - len(differing)}/{len(lines)} run scores printed identically")
    assert differing == []


@pytest.mark.parametrize("language", XQUAD_LANGUAGES)
def test_builtin_bm25_reproduces_the_xquad_r_run(
    xquad_dir: Path, language: str, reference_numbers: dict[str, Expected]
) -> None:
    dataset = load_beir(xquad_dir / language)

    measured = compare_with_shared_run(dataset, language)

    expected = reference_numbers[f"xquad-r/{language}"]
    scored = {name: measured[f"scored shared {name}"] for name in expected}
    assert_matches_readme(scored, expected, f"xquad-r/{language} scored")
