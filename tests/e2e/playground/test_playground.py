"""The playground in a real headless Chromium against a real server on the reference model.

Every expectation is computed from the server's own API answer to the same request
(never a stored score). Screenshots go to pytest's temporary folder
(``playground-screenshots*``): ranked results, relevant spans, the Cohere SDK snippet and
calibrated scores at 1280 px; relevant spans and a 401 on a phone (390 px).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, expect

from conftest import REFERENCE_MODEL
from e2e.conftest import StartReferenceServer
from e2e.playground.conftest import DESKTOP, PHONE, Playground, PlaygroundFactory
from e2e.scifact_oracle import SciFact
from e2e.server_process import REFERENCE_API_KEY, ServerProcess, server_env
from llm_cases import CUSTOM_INSTRUCTION, DOCUMENTS, MAX_LENGTH, QUERY
from openrerank.engine.model.calibration import Calibration

AUTH = {"Authorization": f"Bearer {REFERENCE_API_KEY}"}
SCORE_TOLERANCE = 1e-6  # separate requests may be batched differently
SNIPPET_TIMEOUT_S = 120
# A document with a character outside the BMP: span offsets count code points, which
# JavaScript strings do not, so a page that cut by UTF-16 units would miss by one.
EMOJI_DOCUMENT = (
    "\U0001f9ec The 1000 Genomes Project mapped genetic variation in 2,504 people. "
    "Museums in Paris open at nine."
)


def texts(scifact: SciFact, n: int) -> list[str]:
    """The first ``n`` SciFact candidates, one line each (the page takes one per line)."""
    return [" ".join(text.split()) for text in scifact.texts[:n]]


def api_rank(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    response = httpx.post(f"{url}/v2/rerank", json=body, headers=headers or AUTH, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def shown(results: list[Locator]) -> list[tuple[int, float]]:
    """(index, score) of each result on the page, best first."""
    return [(int(attribute(r, "data-index")), float(attribute(r, "data-score"))) for r in results]


def attribute(locator: Locator, name: str) -> str:
    value = locator.get_attribute(name)
    assert value is not None, f"{name} is missing"
    return value


def expected(answer: Any) -> list[tuple[int, float]]:
    return [(r["index"], r["relevance_score"]) for r in answer["results"]]


def assert_same_ranking(page: list[tuple[int, float]], api: list[tuple[int, float]]) -> None:
    assert [index for index, _ in page] == [index for index, _ in api]
    for (_, got), (_, want) in zip(page, api, strict=True):
        assert got == pytest.approx(want, abs=SCORE_TOLERANCE)


@pytest.fixture
def playground(reference_server: ServerProcess, open_playground: PlaygroundFactory) -> Playground:
    """The shared reference server's page, signed in with its key."""
    page = open_playground(reference_server.url)
    page.sign_in(REFERENCE_API_KEY)
    return page


def test_playground_ranks_pasted_documents_as_the_api_does(
    playground: Playground, reference_server: ServerProcess, scifact: SciFact, screenshots: Path
) -> None:
    documents = texts(scifact, 6)
    playground.fill(scifact.query, documents)
    results = playground.submit_and_wait(len(documents))
    model = playground.page.locator("#model").input_value()
    answer = api_rank(
        reference_server.url, {"model": model, "query": scifact.query, "documents": documents}
    )
    assert_same_ranking(shown(results), expected(answer))
    for result, ranked in zip(results, answer["results"], strict=True):
        assert result.locator(".document").text_content() == documents[ranked["index"]]
        assert f"{ranked['relevance_score']:.4f}" in (result.text_content() or "")
        assert result.locator(".bar .fill").count() == 1
    meta = playground.hook("meta").text_content() or ""
    assert f"{answer['meta']['billed_units']['search_units']} search unit(s) billed" in meta
    assert " ms" in meta
    playground.screenshot(screenshots / "ranked-1280.png")
    assert not playground.overflows()
    assert playground.console_errors == []


def test_playground_ranks_an_uploaded_jsonl_file_from_the_keyboard(
    playground: Playground, reference_server: ServerProcess, scifact: SciFact, tmp_path: Path
) -> None:
    strings = texts(scifact, 4)
    lines = [json.dumps(strings[0]), json.dumps({"text": strings[1], "id": "b"}), ""]
    lines += [json.dumps(strings[2]), json.dumps({"text": strings[3]})]
    upload = tmp_path / "documents.jsonl"
    upload.write_text("\n".join(lines) + "\n", encoding="utf-8")
    playground.hook("file").set_input_files(str(upload))
    playground.page.wait_for_function(
        "!document.getElementById('file-info').hidden", timeout=30_000
    )
    assert "4 documents from documents.jsonl" in (
        playground.page.locator("#file-info").text_content() or ""
    )
    playground.hook("query").fill(scifact.query)
    playground.hook("query").press("Control+Enter")
    results = playground.wait_for_results(len(strings))
    model = playground.page.locator("#model").input_value()
    answer = api_rank(
        reference_server.url, {"model": model, "query": scifact.query, "documents": strings}
    )
    assert_same_ranking(shown(results), expected(answer))
    assert playground.console_errors == []


def test_playground_names_the_line_of_a_malformed_jsonl_file(
    playground: Playground, tmp_path: Path
) -> None:
    upload = tmp_path / "broken.jsonl"
    upload.write_text('"a document"\n{"text": "unclosed\n', encoding="utf-8")
    playground.hook("file").set_input_files(str(upload))
    error = playground.hook("error")
    expect(error).to_be_visible()
    expect(error.locator(".message")).to_contain_text("broken.jsonl: line 2: not valid JSON")
    assert playground.hook("documents").input_value() == ""
    assert playground.console_errors == []


def test_playground_ranks_uploaded_yaml_records_as_sent(
    playground: Playground, reference_server: ServerProcess, scifact: SciFact, tmp_path: Path
) -> None:
    records = [
        f"title: {scifact.candidates[0]['title']}\ntext: {texts(scifact, 1)[0]}",
        "title: Opening hours\ntext: Museums in Paris open at nine.",
        "title: Variation\nabstract: The 1000 Genomes Project mapped genetic variation.",
    ]
    upload = tmp_path / "records.yaml"
    upload.write_text("---\n" + "\n---\n\n".join(records) + "\n", encoding="utf-8")
    playground.hook("file").set_input_files(str(upload))
    expect(playground.page.locator("#file-info")).to_have_text("3 documents from records.yaml")
    expect(playground.hook("documents")).to_be_disabled()  # multi-line records stay whole
    playground.hook("query").fill(scifact.query)
    results = playground.submit_and_wait(len(records))
    model = playground.page.locator("#model").input_value()
    answer = api_rank(
        reference_server.url, {"model": model, "query": scifact.query, "documents": records}
    )
    assert_same_ranking(shown(results), expected(answer))
    for result, ranked in zip(results, answer["results"], strict=True):
        assert result.locator(".document").text_content() == records[ranked["index"]]
    assert playground.console_errors == []


def test_playground_highlights_relevant_spans(
    reference_server: ServerProcess,
    open_playground: PlaygroundFactory,
    scifact: SciFact,
    screenshots: Path,
) -> None:
    documents = [EMOJI_DOCUMENT, *texts(scifact, 2)]
    body = {"query": scifact.query, "documents": documents, "top_n": 3}
    for width, viewport in (("1280", DESKTOP), ("390", PHONE)):
        playground = open_playground(reference_server.url, viewport)
        playground.sign_in(REFERENCE_API_KEY)
        playground.fill(scifact.query, documents)
        playground.hook("top-n").fill("3")
        playground.hook("spans").check()
        playground.hook("threshold").fill("0.5")
        results = playground.submit_and_wait(3)
        model = playground.page.locator("#model").input_value()
        spans = {"mode": "enabled", "threshold": 0.5}
        answer = api_rank(reference_server.url, {**body, "model": model, "relevant_spans": spans})
        assert_same_ranking(shown(results), expected(answer))
        marks_of = {}
        for result, ranked in zip(results, answer["results"], strict=True):
            text = documents[ranked["index"]]
            found = sorted(ranked.get("relevant_spans", []), key=lambda span: span["start"])
            marks = result.locator("mark").all_text_contents()
            assert marks == [text[span["start"] : span["end"]] for span in found]
            assert result.locator(".document").text_content() == text
            marks_of[ranked["index"]] = marks
        # the document that starts with an emoji has a span to highlight: offsets were
        # read as code points, or its text would be cut one character off
        assert marks_of[0], "no span reached the threshold in the emoji document"
        playground.screenshot(screenshots / f"spans-{width}.png")
        assert not playground.overflows(), f"wider than {width} px"
        assert playground.console_errors == []


def test_playground_shows_the_servers_401_message(
    reference_server: ServerProcess, open_playground: PlaygroundFactory, screenshots: Path
) -> None:
    refused = httpx.post(
        f"{reference_server.url}/v2/rerank",
        json={"model": REFERENCE_MODEL, "query": "q", "documents": ["d"]},
        headers={"Authorization": "Bearer wrong-key"},
        timeout=30,
    )
    assert refused.status_code == 401
    playground = open_playground(reference_server.url, PHONE)
    playground.hook("api-key").fill("wrong-key")
    playground.fill("vitamin D and fractures", ["one document", "another document"])
    playground.hook("submit").click()
    error = playground.hook("error")
    expect(error.locator(".message")).to_have_text(refused.json()["message"], timeout=30_000)
    expect(error.locator(".status")).to_have_text("401")
    expect(error).to_be_visible()
    assert playground.hook("result").count() == 0
    playground.screenshot(screenshots / "error-401-390.png")
    # Chromium reports each refused request on the console; nothing else may be there.
    others = [e for e in playground.console_errors if "status of 401" not in e]
    assert others == []


def test_playground_never_puts_the_key_in_the_page_or_a_url(
    playground: Playground, scifact: SciFact
) -> None:
    requests: list[str] = []
    playground.page.on("request", lambda request: requests.append(request.url))
    playground.fill(scifact.query, texts(scifact, 2))
    playground.submit_and_wait(2)
    playground.page.get_by_text("Copy this request as code").click()
    html = playground.page.content()
    assert REFERENCE_API_KEY not in html
    assert not any(REFERENCE_API_KEY in url for url in requests)
    stored = playground.page.evaluate("sessionStorage.getItem('openrerank.apiKey')")
    assert stored == REFERENCE_API_KEY
    assert playground.console_errors == []


def snippet(playground: Playground, tab: str) -> str:
    playground.page.get_by_role("button", name=tab, exact=True).click()
    return playground.hook("snippet").text_content() or ""


def run_snippet(command: list[str]) -> str:
    env = {**os.environ, "CO_API_KEY": REFERENCE_API_KEY}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=SNIPPET_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def printed(stdout: str) -> list[tuple[int, float]]:
    return [
        (int(index), float(score))
        for index, score in (line.split() for line in stdout.splitlines())
    ]


@pytest.fixture
def ranked_with_options(
    playground: Playground, reference_server: ServerProcess, scifact: SciFact
) -> Iterator[tuple[Playground, list[tuple[int, float]]]]:
    """The page after a request with ``top_n``, ``max_tokens_per_doc`` and spans, and
    the API's ranking of the same request."""
    documents = texts(scifact, 5)
    playground.fill(scifact.query, documents)
    playground.hook("top-n").fill("3")
    playground.hook("max-tokens").fill("200")
    playground.hook("spans").check()
    playground.submit_and_wait(3)
    model = playground.page.locator("#model").input_value()
    body = {
        "model": model,
        "query": scifact.query,
        "documents": documents,
        "top_n": 3,
        "max_tokens_per_doc": 200,
        "relevant_spans": {"mode": "enabled", "threshold": 0.1},
    }
    playground.page.get_by_text("Copy this request as code").click()
    yield playground, expected(api_rank(reference_server.url, body))
    assert playground.console_errors == []


def test_playground_copies_a_curl_command_that_runs(
    ranked_with_options: tuple[Playground, list[tuple[int, float]]],
) -> None:
    playground, api = ranked_with_options
    answer = json.loads(run_snippet(["bash", "-c", snippet(playground, "curl")]))
    assert_same_ranking(expected(answer), api)


def test_playground_copies_cohere_sdk_and_langchain_code_that_runs(
    ranked_with_options: tuple[Playground, list[tuple[int, float]]], screenshots: Path
) -> None:
    playground, api = ranked_with_options
    cohere_code = snippet(playground, "Cohere Python SDK")
    assert "cohere.ClientV2(base_url=" in cohere_code
    playground.screenshot(screenshots / "copy-as-cohere-1280.png")
    assert_same_ranking(printed(run_snippet([sys.executable, "-c", cohere_code])), api)
    langchain_code = snippet(playground, "LangChain")
    assert "CohereRerank(" in langchain_code
    assert_same_ranking(printed(run_snippet([sys.executable, "-c", langchain_code])), api)


def test_playground_shows_raw_beside_calibrated_scores_without_a_key(
    start_reference_server: StartReferenceServer,
    reference_model_dir: Path,
    open_playground: PlaygroundFactory,
    scifact: SciFact,
    tmp_path: Path,
    screenshots: Path,
) -> None:
    fitted = Calibration("platt", slope=2.0, intercept=-1.0, revision=reference_model_dir.name)
    calibration = tmp_path / "calibration.json"
    calibration.write_text(json.dumps(fitted.to_dict()), encoding="utf-8")
    documents = texts(scifact, 3)
    with start_reference_server("--calibration", str(calibration), api_key=None) as server:
        playground = open_playground(server.url)
        playground.wait_for_models()
        assert "calibrated:platt" in (playground.page.locator("#model-info").text_content() or "")
        playground.fill(scifact.query, documents)
        results = playground.submit_and_wait(len(documents))
        model = playground.page.locator("#model").input_value()
        body = {"model": model, "query": scifact.query, "documents": documents}
        answer = api_rank(server.url, body, headers={})
        raw = httpx.post(f"{server.url}/rerank", json={**body, "raw_scores": True}, timeout=120)
        assert raw.status_code == 200, raw.text
        logits = {r["index"]: r["relevance_score"] for r in raw.json()["results"]}
        assert_same_ranking(shown(results), expected(answer))
        for result in results:
            index = int(attribute(result, "data-index"))
            assert float(attribute(result, "data-raw")) == pytest.approx(
                logits[index], abs=SCORE_TOLERANCE
            )
        playground.screenshot(screenshots / "calibrated-1280.png")
        assert playground.console_errors == []


def test_playground_sends_an_instruction_to_an_llm_reranker(
    llm_model_factory: Callable[..., Path],
    open_playground: PlaygroundFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("llm-server")
    env = server_env(hf_cache=os.environ["HF_HUB_CACHE"], openrerank_cache=folder / "cache")
    args = ["--model", str(llm_model_factory("qwen3")), "--backend", "torch"]
    args += ["--max-length", str(MAX_LENGTH["qwen3"])]
    with ServerProcess(args, env=env, log_path=folder / "serve.log") as server:
        server.wait_ready()
        playground = open_playground(server.url)
        playground.wait_for_models()
        card = httpx.get(f"{server.url}/v1/models", timeout=30).json()["models"][0]
        instruction = playground.hook("instruction")
        expect(instruction).to_be_visible()
        expect(instruction).to_have_attribute("placeholder", card["instruction"])
        playground.fill(QUERY, list(DOCUMENTS))
        instruction.fill(CUSTOM_INSTRUCTION)
        results = playground.submit_and_wait(len(DOCUMENTS))
        body = {"model": card["name"], "query": QUERY, "documents": list(DOCUMENTS)}
        plain = api_rank(server.url, body, headers={})
        told = api_rank(server.url, {**body, "instruction": CUSTOM_INSTRUCTION}, headers={})
        assert expected(plain) != expected(told)  # the instruction changes the scores
        assert_same_ranking(shown(results), expected(told))
        assert playground.console_errors == []
