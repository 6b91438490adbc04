from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from openrerank.cli.main import app
from openrerank.cli.serve import SERVE_OPTIONS
from openrerank.cli.serve_table import END, START, flags_table
from openrerank.config import (
    COHERE_MODEL_NAMES,
    DEFAULT_MODEL,
    SETTING,
    BatchingConfig,
    ChunkingConfig,
    EngineConfig,
    HttpConfig,
    ModelConfig,
    ReplicaConfig,
    ServerConfig,
)

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


# --- options generated from the config declarations ---------------------------------------

COMPOSED = {
    (ServerConfig, "models"),
    (ServerConfig, "aliases"),
    (ServerConfig, "http"),
    (ServerConfig, "replicas"),
    (EngineConfig, "model"),
    (EngineConfig, "batching"),
    (EngineConfig, "chunking"),
    (ModelConfig, "name"),
    (ModelConfig, "cache_dir"),
}
"""Fields that are not one flag: built from several (models, aliases) or from the
environment (``OPENRERANK_CACHE``)."""
CONFIGS = (
    ServerConfig,
    HttpConfig,
    EngineConfig,
    ModelConfig,
    BatchingConfig,
    ChunkingConfig,
    ReplicaConfig,
)


def serve_flags() -> set[str]:
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    return {flag for param in serve.params for flag in getattr(param, "opts", [])}


def test_every_config_field_is_a_declared_setting_or_composed() -> None:
    undeclared = {
        (config, item.name)
        for config in CONFIGS
        for item in dataclasses.fields(config)
        if SETTING not in item.metadata
    }
    assert undeclared == COMPOSED


def test_serve_has_one_flag_per_declared_setting_revision_included() -> None:
    declared = [option.flag for option in SERVE_OPTIONS]
    assert len(declared) == len(set(declared))
    assert {f"--{flag}" for flag in declared} <= serve_flags()
    assert {"--revision", "--activation", "--max-batch-size", "--tokenizer-threads"} <= set(
        f"--{flag}" for flag in declared
    )


def test_serve_declared_settings_reach_the_config() -> None:
    data = resolved(
        ["--revision", "v1.2", "--activation", "sigmoid", "--max-batch-size", "7"],
        env={"OPENRERANK_SPAN_TOKENS": "9", "OPENRERANK_TOKENIZER_THREADS": "2"},
    )
    (engine,) = data["models"]
    assert (engine["model"]["revision"], engine["model"]["activation"]) == ("v1.2", "sigmoid")
    assert engine["batching"]["max_batch_size"] == 7
    assert (engine["chunking"]["span_tokens"], engine["tokenizer_threads"]) == (9, 2)
    assert resolved([])["models"][0]["model"]["revision"] is None


@pytest.mark.parametrize(
    ("root", "own", "env", "expected"),
    [
        ([], [], {}, "info"),
        (["--log-level", "debug"], [], {}, "debug"),
        ([], ["--log-level", "warning"], {}, "warning"),
        (["--log-level", "debug"], ["--log-level", "error"], {}, "error"),
        ([], [], {"OPENRERANK_LOG_LEVEL": "DEBUG"}, "debug"),
        ([], [], {"OPENRERANK_LOG_LEVEL": "WARN"}, "warning"),
        (["--log-level", "debug"], [], {"OPENRERANK_LOG_LEVEL": "error"}, "debug"),
    ],
)
def test_print_config_shows_the_log_level_that_will_run(
    root: list[str], own: list[str], env: dict[str, str], expected: str
) -> None:
    result = runner.invoke(app, [*root, "serve", *own, "--print-config"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["log_level"] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "a", "--model", "b", "--aggregation", "c=first"], "not served"),
        (["--aggregation", "median"], "takes one of"),
        (["--model", "a", "--model", "b", "--calibration", "x.json"], "MODEL=VALUE"),
        (["--calibration", "missing.json"], "is not a file"),
        (["--log-level", "loud"], "log_level"),
    ],
)
def test_serve_refuses_bad_per_model_values(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["serve", *args, "--print-config"])
    assert result.exit_code == 2
    assert message in result.output


def test_serve_per_model_values_apply_to_all_or_to_the_model_named(tmp_path: Path) -> None:
    fitted = tmp_path / "b.json"
    fitted.write_text("{}")
    models = ["--model", "a", "--model", "b"]
    data = resolved(
        [
            *models,
            "--aggregation",
            "mean",
            "--aggregation",
            "b=first",
            "--calibration",
            f"b={fitted}",
        ]
    )
    assert [m["chunking"]["aggregation"] for m in data["models"]] == ["mean", "first"]
    odd = resolved(["--model", "dir=1", "--model", "b", "--aggregation", "dir=1=first"])
    assert [m["chunking"]["aggregation"] for m in odd["models"]] == ["first", "max"]
    assert [m["model"]["calibration"] for m in data["models"]] == [None, str(fitted)]


def test_readme_flag_table_is_generated_from_the_serve_command() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    _, _, rest = readme.partition(START)
    table, found, _ = rest.partition(END)
    assert found, "README.md lost the markers of the serve flag table"
    assert table.strip() == flags_table(), (
        "the README's serve flag table is stale: run `python -m openrerank.cli.serve_table "
        "README.md`"
    )


def test_server_config_takes_a_log_level_in_any_case() -> None:
    engines = (EngineConfig(model=ModelConfig(name="m")),)
    assert ServerConfig(models=engines, log_level="INFO").log_level == "info"
    assert ServerConfig(models=engines, log_level="warn").log_level == "warning"
    with pytest.raises(ValueError, match="log_level"):
        ServerConfig(models=engines, log_level="loud")


def test_one_off_commands_take_the_model_options_but_not_the_servers_environment() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name in ("rank", "eval", "calibrate"):
        options = {param.name: param for param in commands[name].params}
        for option in ("revision", "backend", "precision", "device", "max_length", "threads"):
            assert options[option].envvar is None, (name, option)


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, True),
        (["--host", "0.0.0.0"], {}, False),
        (["--host", "0.0.0.0", "--playground"], {}, True),
        (["--no-playground"], {}, False),
        (["--host", "0.0.0.0"], {"OPENRERANK_PLAYGROUND": "true"}, True),
        ([], {"OPENRERANK_PLAYGROUND": "false"}, False),
    ],
)
def test_serve_playground_is_on_for_loopback_unless_told(
    args: list[str], env: dict[str, str], expected: bool
) -> None:
    assert resolved(args, env=env)["http"]["playground"] is expected
