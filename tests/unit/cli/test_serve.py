from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from openrerank.cli.main import app
from openrerank.config import COHERE_MODEL_NAMES, DEFAULT_MODEL, ServerConfig

runner = CliRunner()


def resolved(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    result = runner.invoke(app, ["serve", *args, "--print-config"], env=env or {})
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_serve_defaults_to_the_default_model_on_loopback() -> None:
    data = resolved([])
    assert [m["model"]["name"] for m in data["models"]] == [DEFAULT_MODEL]
    assert (data["host"], data["port"]) == ("127.0.0.1", 8000)
    assert data["http"]["api_keys"] == "<0 redacted>"


def test_serve_flag_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    config = tmp_path / "openrerank.toml"
    config.write_text('model = ["file-a", "file-b"]\nport = 9001\nhost = "10.0.0.1"\n')
    data = resolved(
        ["--config", str(config), "--host", "127.0.0.2"],
        env={"OPENRERANK_PORT": "9002", "OPENRERANK_MAX_DOCUMENTS": "500"},
    )
    assert [m["model"]["name"] for m in data["models"]] == ["file-a", "file-b"]
    assert (data["host"], data["port"]) == ("127.0.0.2", 9002)
    assert {m["max_documents"] for m in data["models"]} == {500}


def test_serve_reads_repeated_flags_and_space_separated_environment() -> None:
    data = resolved(
        ["--alias", "rerank-v3.5=b"], env={"OPENRERANK_MODEL": "a b", "OPENRERANK_API_KEY": "k1 k2"}
    )
    assert [m["model"]["name"] for m in data["models"]] == ["a", "b"]
    assert data["aliases"] == [["rerank-v3.5", "b"]]
    assert data["http"]["api_keys"] == "<2 redacted>"


def test_serve_reads_an_api_key_file_and_never_prints_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# operators\nsecret-one\n\nsecret-two\nsecret-one\n")
    result = runner.invoke(
        app, ["serve", "--api-key-file", str(keys), "--api-key", "secret-three", "--print-config"]
    )
    assert result.exit_code == 0
    assert "secret" not in result.stdout
    assert json.loads(result.stdout)["http"]["api_keys"] == "<3 redacted>"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--alias", "no-equals-sign"], "ALIAS=MODEL"),
        (["--alias", "x=not-served"], "not served"),
        (["--max-queued-pairs", "5"], "max_queued_pairs"),
        (["--port", "70000"], "port"),
        (["--trust-remote-code", "not-served"], "not served"),
        (["--max-queue-wait", "-1"], "max_queue_wait_s"),
        (["--grace-period", "-1"], "shutdown_grace_s"),
    ],
)
def test_serve_refuses_bad_settings_before_loading_anything(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["serve", *args, "--print-config"])
    assert result.exit_code == 2
    assert message in result.output


def test_serve_trusts_remote_code_only_for_the_models_named() -> None:
    data = resolved(["--model", "a", "--model", "b", "--trust-remote-code", "b"])
    assert [m["model"]["trust_remote_code"] for m in data["models"]] == [False, True]
    assert not any(m["model"]["trust_remote_code"] for m in resolved(["--model", "a"])["models"])


def test_serve_reliability_settings_reach_the_config() -> None:
    data = resolved(
        ["--grace-period", "7.5", "--max-queue-wait", "2", "--cors-origin", "https://a.example"],
        env={"OPENRERANK_CORS_ORIGIN": "https://ignored.example"},
    )
    assert data["shutdown_grace_s"] == 7.5
    assert {m["max_queue_wait_s"] for m in data["models"]} == {2.0}
    assert data["http"]["cors_origins"] == ["https://a.example"]
    defaults = resolved([])
    assert defaults["http"]["cors_origins"] == []
    assert {m["max_queue_wait_s"] for m in defaults["models"]} == {10.0}
    assert {m["max_queue_wait_s"] for m in resolved(["--max-queue-wait", "0"])["models"]} == {None}


def test_serve_rerank_compat_reaches_the_config_from_a_flag_or_the_environment() -> None:
    assert resolved([])["http"]["rerank_compat"] == "vllm"
    assert resolved(["--rerank-compat", "infinity"])["http"]["rerank_compat"] == "infinity"
    from_env = resolved([], env={"OPENRERANK_RERANK_COMPAT": "infinity"})
    assert from_env["http"]["rerank_compat"] == "infinity"
    result = runner.invoke(app, ["serve", "--rerank-compat", "tei", "--print-config"])
    assert result.exit_code == 2 and "rerank-compat" in result.output


def test_serve_refuses_unknown_keys_in_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("modle = 'typo'\n")
    result = runner.invoke(app, ["serve", "--config", str(config), "--print-config"])
    assert result.exit_code == 2
    assert "modle" in result.output


def test_server_config_aliases_cohere_names_to_the_default_model() -> None:
    data = resolved(["--model", "first", "--model", "second", "--alias", "rerank-v3.5=second"])
    config = ServerConfig(
        models=tuple(_engines(data)), aliases=(("rerank-v3.5", "second"),), default_aliases=True
    )
    table = config.alias_table()
    assert table["rerank-v3.5"] == "second"
    assert {table[name] for name in COHERE_MODEL_NAMES if name != "rerank-v3.5"} == {"first"}
    without = ServerConfig(models=config.models, default_aliases=False)
    assert without.alias_table() == {}


def _engines(data: dict[str, Any]) -> list[Any]:
    from openrerank.config import EngineConfig, ModelConfig

    return [EngineConfig(model=ModelConfig(name=m["model"]["name"])) for m in data["models"]]
