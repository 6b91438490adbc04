"""``openrerank serve``: flags, environment and a config file -> one ServerConfig.

Precedence: a command-line flag, then ``OPENRERANK_<FLAG>``, then the ``--config``
TOML file (keys are the flag names), then the default. Multi-value environment
variables are separated by spaces. Every setting of the config dataclasses is an
option here, generated from its declaration (:mod:`openrerank.cli.settings`); this
module writes only the options that are not one field: the served models, aliases, the
key file, the fallback model, ``--print-config`` and ``--config``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

import typer

from openrerank.cli.extras import fail_missing, missing_requirements, needs_extra
from openrerank.cli.settings import Option, options, per_model_values, values_for, with_options
from openrerank.config import (
    DEFAULT_MODEL,
    BatchingConfig,
    ChunkingConfig,
    EngineConfig,
    HttpConfig,
    ModelConfig,
    ReplicaConfig,
    ServerConfig,
)

logger = logging.getLogger(__name__)
_Config = TypeVar("_Config")
SERVE_OPTIONS: tuple[Option, ...] = (
    *options(ServerConfig),
    *options(HttpConfig),
    *options(ModelConfig),
    *options(EngineConfig),
    *options(BatchingConfig),
    *options(ChunkingConfig),
    *options(ReplicaConfig),
)
"""Every declared setting: the options ``serve`` generates."""


def _load_config_file(ctx: typer.Context, param: typer.CallbackParam, value: Path | None) -> None:
    """Eager callback: the file's values become the command's defaults."""
    if value is None:
        return
    try:
        data = tomllib.loads(value.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {value}: {exc}") from None
    known = {p.name for p in ctx.command.params if p.name} - {"config"}
    settings = {key.replace("-", "_"): item for key, item in data.items()}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise typer.BadParameter(f"{value}: unknown settings {unknown}; valid: {sorted(known)}")
    ctx.default_map = {**(ctx.default_map or {}), **settings}


@needs_extra("serve", "server")
@with_options(SERVE_OPTIONS)
def serve(
    ctx: typer.Context,
    model: Annotated[
        list[str] | None,
        typer.Option(
            envvar="OPENRERANK_MODEL",
            help="Hugging Face id or local directory; repeat to serve several, the first "
            "is the default.",
            show_default=DEFAULT_MODEL,
        ),
    ] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option(
            envvar="OPENRERANK_ALIAS", help="ALIAS=MODEL: another name for a served model."
        ),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            envvar="OPENRERANK_API_KEY_FILE", help="File of keys, one per line (# comments)."
        ),
    ] = None,
    fallback_model: Annotated[
        str | None,
        typer.Option(
            envvar="OPENRERANK_FALLBACK_MODEL",
            help="Served instead of the default model when no --model is given and the "
            "default is neither cached nor reachable (`make serve` points it at the "
            "offline reference model of ../shared when that is present).",
        ),
    ] = None,
    print_config: Annotated[
        bool,
        typer.Option(
            "--print-config", help="Print the settings that would run (keys redacted) and exit."
        ),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            envvar="OPENRERANK_CONFIG",
            is_eager=True,
            callback=_load_config_file,
            help="TOML file of settings named like these flags.",
        ),
    ] = None,
    **settings: Any,
) -> None:
    """Serve the Cohere-compatible HTTP API (v2/v1 rerank, TEI rerank, models, metrics)."""
    from openrerank.server.run import configure_logging

    params = {**ctx.params, "log_level": _log_level(ctx)}
    try:
        resolved = server_config(params)
        configure_logging(resolved.log_level)
        if model is None and fallback_model is not None:
            resolved = _default_or_fallback(params, fallback_model) or resolved
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    if print_config:
        typer.echo(json.dumps(describe(resolved), indent=2, default=str))
        return
    if not _run(resolved):
        raise typer.Exit(1)


def _run(config: ServerConfig) -> bool:
    """One uvicorn process, or replicas on Ray Serve with ``--ray``."""
    if config.replicas.ray is None:
        from openrerank.server.run import run_server

        return run_server(config)
    missing = missing_requirements("ray")
    if missing:
        fail_missing("serve --ray", "ray", ", ".join(missing))
    from openrerank.cluster.serve import run_on_ray_serve

    return run_on_ray_serve(config)


def _log_level(ctx: typer.Context) -> str:
    """The level a flag names (``serve --log-level`` first, then ``openrerank
    --log-level``), else serve's from the environment or the file, else the root's
    environment, else the server's default."""
    root = ctx.find_root()
    own, given = ctx.params.get("log_level"), root.params.get("log_level")
    own_source = _source(ctx, "log_level")
    if own_source == "COMMANDLINE" or (
        own_source != "DEFAULT" and _source(root, "log_level") != "COMMANDLINE"
    ):
        return str(own)
    return str(given or own)


class _Sourced(Protocol):
    def get_parameter_source(self, name: str) -> Any: ...


def _source(ctx: _Sourced, name: str) -> str:
    """Where a parameter's value came from: COMMANDLINE, ENVIRONMENT, DEFAULT_MAP, DEFAULT."""
    source = ctx.get_parameter_source(name)
    return source.name if source is not None else "DEFAULT"


def _default_or_fallback(params: Mapping[str, Any], fallback: str) -> ServerConfig | None:
    """The settings with ``fallback`` served when the default model cannot be found.

    Logged first, either way: which model is served, and why.
    """
    from openrerank.engine.model.resolve import resolve_model
    from openrerank.errors import ModelNotFoundError

    try:
        resolve_model(DEFAULT_MODEL, weights=False)
    except ModelNotFoundError as exc:
        logger.warning(
            "serving %s instead of the default model %s, which is neither cached nor "
            "reachable (%s)",
            fallback,
            DEFAULT_MODEL,
            exc,
        )
        return server_config({**params, "model": [fallback]})
    logger.info("serving the default model %s", DEFAULT_MODEL)
    return None


def server_config(params: Mapping[str, Any]) -> ServerConfig:
    """The one settings object for a server, from the parsed flags.

    Raises:
        ValueError: a malformed alias or per-model value, or an out-of-range value.
        OSError: the API key file cannot be read.
    """
    names = list(params.get("model") or [DEFAULT_MODEL])
    own = per_model_values(SERVE_OPTIONS, params, names)
    engines = tuple(_engine_config(params, name, own[name]) for name in names)
    http = values_for(HttpConfig, SERVE_OPTIONS, params)
    http["api_keys"] = _api_keys(list(http["api_keys"]), params.get("api_key_file"))
    return ServerConfig(
        models=engines,
        aliases=tuple(_parse_alias(item) for item in params.get("alias") or []),
        http=HttpConfig(**http),
        replicas=ReplicaConfig(**values_for(ReplicaConfig, SERVE_OPTIONS, params)),
        **values_for(ServerConfig, SERVE_OPTIONS, params),
    )


def _engine_config(
    params: Mapping[str, Any], name: str, own: Mapping[type, Mapping[str, Any]]
) -> EngineConfig:
    """One served model's engine: the shared values, then its own per-model ones."""

    def build(owner: type[_Config], **fixed: Any) -> _Config:
        return owner(**values_for(owner, SERVE_OPTIONS, params), **own.get(owner, {}), **fixed)

    return build(
        EngineConfig,
        model=build(ModelConfig, name=name),
        batching=build(BatchingConfig),
        chunking=build(ChunkingConfig),
    )


def describe(config: ServerConfig) -> dict[str, Any]:
    """The settings as plain data, API keys replaced by a count."""
    data = dataclasses.asdict(config)
    data["http"]["api_keys"] = f"<{len(config.http.api_keys)} redacted>"
    return data


def _parse_alias(item: str) -> tuple[str, str]:
    name, sep, target = item.partition("=")
    if not sep or not name.strip() or not target.strip():
        raise ValueError(f"--alias takes ALIAS=MODEL, got {item!r}")
    return name.strip(), target.strip()


def _api_keys(keys: list[str], key_file: Path | None) -> tuple[str, ...]:
    collected = list(keys)
    if key_file is not None:
        for line in key_file.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                collected.append(stripped)
    return tuple(dict.fromkeys(collected))
