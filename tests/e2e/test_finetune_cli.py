"""``openrerank finetune`` end to end on a tiny model: the three data formats train, the
output folder is served, ranked, evaluated and batched like any model, and scores as
transformers does; resume continues a run; bad data and a busy folder exit 2."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from e2e.server_process import ServerProcess, server_env
from openrerank import Reranker
from openrerank.cli.main import app
from tiny_models import _CORPUS, transformers_logits

runner = CliRunner()
SENTENCES = list(_CORPUS)
QUERY = "vitamin deficiency and bone fractures"


def query_of(sentence: str) -> str:
    return " ".join(sentence.split()[:5])


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def cohere_rows() -> list[dict[str, object]]:
    return [
        {"query": query_of(s), "relevant_passages": [s]}
        | ({"hard_negatives": [SENTENCES[(i + 1) % len(SENTENCES)]]} if i % 2 else {})
        for i, s in enumerate(SENTENCES)
    ]


def write_beir(folder: Path) -> Path:
    folder.mkdir()
    corpus = [{"_id": f"d{i}", "title": "", "text": s} for i, s in enumerate(SENTENCES)]
    write_jsonl(folder / "corpus.jsonl", corpus)
    queries = [{"_id": f"q{i}", "text": query_of(s)} for i, s in enumerate(SENTENCES)]
    write_jsonl(folder / "queries.jsonl", queries)
    (folder / "qrels").mkdir()
    lines = ["query-id\tcorpus-id\tscore", *(f"q{i}\td{i}\t1" for i in range(len(SENTENCES)))]
    (folder / "qrels" / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def finetune(base: Path, out: Path, *flags: str) -> tuple[int, str, str]:
    small = ["--batch-size", "4", "--dev-k", "5", "--max-length", "48"]
    result = runner.invoke(
        app, ["finetune", "--model", str(base), "--out", str(out), *small, *flags]
    )
    failure = "" if result.exception is None else f"\n{result.exception!r}"
    return result.exit_code, result.stdout, result.stderr + failure


def facts_of(out: Path) -> dict[str, object]:
    facts: dict[str, object] = json.loads((out / "finetune.json").read_text(encoding="utf-8"))
    return facts


@pytest.fixture(scope="module")
def base_model(tiny_model_factory: Callable[..., Path]) -> Path:
    return tiny_model_factory("bert")


@pytest.fixture(scope="module")
def trained(base_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("finetuned")
    data = write_jsonl(folder / "train.jsonl", cohere_rows())
    out = folder / "model"
    code, stdout, stderr = finetune(
        base_model, out, "--data", str(data), "--max-steps", "4", "--lr", "1e-3", "--dev", "0.25"
    )
    assert code == 0, stderr
    return out, stdout


def test_cohere_jsonl_trains_and_the_card_tells_what_happened(
    trained: tuple[Path, str], base_model: Path
) -> None:
    out, stdout = trained
    facts = facts_of(out)
    assert facts["training"]["steps"] == 4  # type: ignore[index]
    assert facts["data"]["format"] == "cohere"  # type: ignore[index]
    assert facts["data"]["dev_queries"] == 6 and facts["data"]["train_queries"] == 18  # type: ignore[index]
    assert facts["data"]["given_negatives"] == 12  # type: ignore[index]
    assert facts["dev"]["queries"] == 6  # type: ignore[index]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"base_model: {base_model}" in card and "## Held-out results" in card
    assert "held-out: 6 queries" in stdout and "paired sign-flip p" in stdout
    assert not (out / "checkpoints").exists()
    documents = SENTENCES[:6]
    before = transformers_logits(base_model, QUERY, documents, max_length=48)
    after = transformers_logits(out, QUERY, documents, max_length=48)
    assert np.abs(after - before).max() > 1e-3  # training changed the weights


def test_the_output_scores_as_transformers_does_through_the_engine(
    trained: tuple[Path, str],
) -> None:
    out, _ = trained
    documents = SENTENCES[:8]
    want = 1 / (1 + np.exp(-transformers_logits(out, QUERY, documents, max_length=48)[:, 0]))
    for backend in ("onnx", "torch"):
        with Reranker(str(out), backend=backend, max_length=48) as reranker:  # type: ignore[arg-type]
            got = reranker.score(QUERY, documents, max_chunks_per_doc=1)  # truncated, as HF
        assert np.abs(got - want).max() <= 1e-4, backend


def test_the_output_ranks_batches_evaluates_and_serves(
    trained: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = trained
    documents = SENTENCES[:5]
    with Reranker(str(out)) as reranker:
        want = [(r.index, r.relevance_score) for r in reranker.rank(QUERY, documents)]
    docs_file = write_jsonl(tmp_path / "docs.jsonl", [{"text": d} for d in documents])
    ranked = runner.invoke(
        app, ["rank", "--model", str(out), "-q", QUERY, "-d", str(docs_file), "--format", "json"]
    )
    assert ranked.exit_code == 0, ranked.stderr
    rows = json.loads(ranked.stdout)["results"]
    assert [(r["index"], r["relevance_score"]) for r in rows] == want
    batch_in = write_jsonl(
        tmp_path / "rows.jsonl", [{"id": 1, "query": QUERY, "documents": documents}]
    )
    batch_out = tmp_path / "out.jsonl"
    batched = runner.invoke(
        app, ["batch", "--model", str(out), "--input", str(batch_in), "--output", str(batch_out)]
    )
    assert batched.exit_code == 0, batched.stderr
    results = json.loads(batch_out.read_text(encoding="utf-8"))["results"]
    assert [(r["index"], r["relevance_score"]) for r in results] == want
    beir = write_beir(tmp_path / "beir")
    evaluated = runner.invoke(
        app, ["eval", "--model", str(out), "--dataset", str(beir), "--split", "train", "--k", "5"]
    )
    assert evaluated.exit_code == 0, evaluated.stderr
    assert "nDCG@10" in evaluated.stdout
    env = server_env(
        hf_cache=os.environ.get("HF_HUB_CACHE", str(tmp_path / "hub")),
        openrerank_cache=tmp_path / "cache",
    )
    with ServerProcess(["--model", str(out)], env=env, log_path=tmp_path / "serve.log") as server:
        server.wait_ready()
        body = {"model": str(out), "query": QUERY, "documents": documents}
        answer = httpx.post(f"{server.url}/v2/rerank", json=body, timeout=30).json()
    served = [(r["index"], r["relevance_score"]) for r in answer["results"]]
    assert [i for i, _ in served] == [i for i, _ in want]
    assert np.allclose([s for _, s in served], [s for _, s in want], atol=1e-6)


def test_rows_train_with_bce_and_a_beir_split_with_lambda(base_model: Path, tmp_path: Path) -> None:
    rows = [
        {"query": query_of(s), "positive": s, "negatives": [SENTENCES[i - 1]]}
        for i, s in enumerate(SENTENCES)
    ]
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    code, stdout, stderr = finetune(
        base_model, tmp_path / "bce", "--data", str(data), "--loss", "bce", "--max-steps", "2",
        "--json",
    )  # fmt: skip
    assert code == 0, stderr
    assert json.loads(stdout) == facts_of(tmp_path / "bce")  # stdout is only the JSON
    assert facts_of(tmp_path / "bce")["data"]["format"] == "rows"  # type: ignore[index]
    beir = write_beir(tmp_path / "beir")
    code, stdout, stderr = finetune(
        base_model, tmp_path / "lambda", "--dataset", str(beir), "--loss", "lambda",
        "--max-steps", "2", "--dev", "0", "--negatives", "2",
    )  # fmt: skip
    assert code == 0, stderr
    facts = facts_of(tmp_path / "lambda")
    assert facts["data"]["format"] == "beir" and facts["dev"] is None  # type: ignore[index]
    assert facts["data"]["mined_negatives"] > 0  # type: ignore[index]
    assert "nothing to compare" in stdout


def test_resume_continues_from_the_newest_checkpoint(base_model: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", cohere_rows())
    out = tmp_path / "model"
    common = ["--data", str(data), "--save-steps", "1", "--dev", "0", "--keep-checkpoints"]
    code, _, stderr = finetune(base_model, out, *common, "--max-steps", "2")
    assert code == 0, stderr
    code, _, stderr = finetune(base_model, out, *common, "--max-steps", "3", "--resume")
    assert code == 0, stderr
    training = facts_of(out)["training"]
    assert training["steps"] == 3 and training["resumed_from"] == "checkpoint-2"  # type: ignore[index]
    code, _, stderr = finetune(base_model, out, *common, "--lr", "0.1", "--resume")
    assert code == 2 and "cannot resume: its run used other learning_rate" in stderr


def test_bad_data_and_a_busy_folder_exit_2_naming_what_is_wrong(
    base_model: Path, tmp_path: Path
) -> None:
    data = write_jsonl(
        tmp_path / "train.jsonl",
        [{"query": "fine", "relevant_passages": ["x"]}, {"query": " ", "relevant_passages": ["y"]}],
    )
    code, _, stderr = finetune(base_model, tmp_path / "out", "--data", str(data))
    assert code == 2 and f"error: {data}:2: empty query" in stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    good = write_jsonl(tmp_path / "good.jsonl", cohere_rows())
    code, _, stderr = finetune(base_model, busy, "--data", str(good))
    assert code == 2 and "pass --resume" in stderr


def test_a_bare_encoder_gets_a_new_head_and_its_untrained_start_is_the_base(
    base_model: Path, tmp_path: Path
) -> None:
    from transformers import AutoModel

    encoder = tmp_path / "encoder"
    AutoModel.from_pretrained(base_model).save_pretrained(encoder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (base_model / name).is_file():
            (encoder / name).write_bytes((base_model / name).read_bytes())
    data = write_jsonl(tmp_path / "train.jsonl", cohere_rows())
    code, stdout, stderr = finetune(
        encoder, tmp_path / "out", "--data", str(data), "--max-steps", "2", "--dev", "0.25"
    )
    assert code == 0, stderr
    facts = facts_of(tmp_path / "out")
    assert facts["base"]["new_head"] is True and facts["dev"] is not None  # type: ignore[index]
    assert "the one-logit head is new" in (tmp_path / "out" / "README.md").read_text()
    assert "held-out: 6 queries" in stdout


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--loss", "hinge"], "unknown --loss 'hinge'"),
        (["--precision", "fp8"], "precision must be one of"),
        (["--in-batch-negatives", "0"], "--in-batch-negatives"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--dev", "0.5", "--data", "ONE"], "pass --dev 0"),
    ],
)
def test_bad_flags_exit_2_in_one_line(
    base_model: Path, tmp_path: Path, flags: list[str], message: str
) -> None:
    one = write_jsonl(tmp_path / "one.jsonl", cohere_rows()[:1])
    good = write_jsonl(tmp_path / "good.jsonl", cohere_rows())
    flags = [str(one) if flag == "ONE" else flag for flag in flags]
    data = [] if "--data" in flags else ["--data", str(good)]
    code, _, stderr = finetune(base_model, tmp_path / "out", *data, *flags, "--max-steps", "1")
    assert code == 2 and message in stderr and "Traceback" not in stderr
