"""``openrerank serve``: flags, environment and a config file -> one ServerConfig.

Precedence: a command-line flag, then ``OPENRERANK_<FLAG>``, then the ``--config``
TOML file (keys are the flag names), then the default. Multi-value environment
variables are separated by spaces.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from openrerank.cli.choices import (
    AUTO,
    FP32,
    VLLM,
    BackendChoice,
    PrecisionChoice,
    RerankCompatChoice,
)
from openrerank.cli.extras import needs_extra
from openrerank.config import (
    AGGREGATIONS,
    COHERE_MODEL_NAMES,
    DEFAULT_MODEL,
    Aggregation,
    BatchingConfig,
    ChunkingConfig,
    EngineConfig,
    HttpConfig,
    ModelConfig,
    RerankCompat,
    ServerConfig,
)

ENV_PREFIX = "OPENRERANK_"
logger = logging.getLogger(__name__)


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()


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
def serve(  # noqa: PLR0913 - every flag is one documented setting
    ctx: typer.Context,
    model: Annotated[
        list[str] | None,
        typer.Option(
            envvar=_env("model"),
            help=f"Hugging Face id or local directory; repeat to serve several, the first "
            f"is the default. [default: {DEFAULT_MODEL}]",
        ),
    ] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option(envvar=_env("alias"), help="ALIAS=MODEL: another name for a served model."),
    ] = None,
    default_aliases: Annotated[
        bool,
        typer.Option(
            envvar=_env("default_aliases"),
            help=f"Map Cohere names ({', '.join(COHERE_MODEL_NAMES)}) to the default model.",
        ),
    ] = True,
    host: Annotated[
        str, typer.Option(envvar=_env("host"), help="Interface to bind; 0.0.0.0 = all.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar=_env("port"), help="TCP port.")] = 8000,
    api_key: Annotated[
        list[str] | None,
        typer.Option(envvar=_env("api_key"), help="Accepted bearer key; repeat for several."),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(envvar=_env("api_key_file"), help="File of keys, one per line (# comments)."),
    ] = None,
    metrics_public: Annotated[
        bool, typer.Option(envvar=_env("metrics_public"), help="Serve /metrics without a key.")
    ] = False,
    backend: Annotated[
        BackendChoice, typer.Option(envvar=_env("backend"), help="Runtime; auto = onnx on CPU.")
    ] = AUTO,
    precision: Annotated[
        PrecisionChoice,
        typer.Option(
            envvar=_env("precision"),
            help="int8 on onnx (faster on CPU, slightly different scores); fp16/bf16 on torch.",
        ),
    ] = FP32,
    device: Annotated[str, typer.Option(envvar=_env("device"), help="cpu or cuda[:N].")] = "cpu",
    max_length: Annotated[
        int | None,
        typer.Option(envvar=_env("max_length"), help="Tokens per pair; default the model's."),
    ] = None,
    threads: Annotated[
        int | None, typer.Option(envvar=_env("threads"), help="Model threads; default all cores.")
    ] = None,
    max_batch_tokens: Annotated[
        int,
        typer.Option(
            envvar=_env("max_batch_tokens"),
            help="Padded tokens per model call: higher uses a GPU better, costs memory.",
        ),
    ] = BatchingConfig.max_batch_tokens,
    aggregation: Annotated[
        list[str] | None,
        typer.Option(
            envvar=_env("aggregation"),
            help="A long document's score from its windows' scores: max (default, Cohere's), "
            "mean or first; MODEL=METHOD sets it for one served model. Repeatable.",
        ),
    ] = None,
    calibration: Annotated[
        list[str] | None,
        typer.Option(
            envvar=_env("calibration"),
            help="A calibration file from `openrerank calibrate`: relevance_score becomes the "
            "calibrated probability of relevance. FILE for the only served model, "
            "MODEL=FILE for one of several. Repeatable.",
        ),
    ] = None,
    window_overlap: Annotated[
        int,
        typer.Option(envvar=_env("window_overlap"), help="Tokens shared by consecutive windows."),
    ] = ChunkingConfig.window_overlap,
    max_tokens_per_doc: Annotated[
        int,
        typer.Option(
            envvar=_env("max_tokens_per_doc"),
            help="Tokens of each document scored when a request does not say (Cohere: 4096).",
        ),
    ] = ChunkingConfig.max_tokens_per_doc,
    max_windows_per_request: Annotated[
        int,
        typer.Option(
            envvar=_env("max_windows_per_request"),
            help="Windows one request may score (bounds its memory); beyond it a 400.",
        ),
    ] = ChunkingConfig.max_windows_per_request,
    max_documents: Annotated[
        int, typer.Option(envvar=_env("max_documents"), help="Documents per request.")
    ] = EngineConfig.max_documents,
    max_query_chars: Annotated[
        int, typer.Option(envvar=_env("max_query_chars"), help="Characters per query.")
    ] = EngineConfig.max_query_chars,
    max_document_chars: Annotated[
        int, typer.Option(envvar=_env("max_document_chars"), help="Characters per document.")
    ] = EngineConfig.max_document_chars,
    max_queued_pairs: Annotated[
        int,
        typer.Option(
            envvar=_env("max_queued_pairs"),
            help="Pairs admitted at once per model; beyond it requests get 429 at once.",
        ),
    ] = EngineConfig.max_queued_pairs,
    score_cache_size: Annotated[
        int,
        typer.Option(
            envvar=_env("score_cache_size"),
            help="Reuse the scores of this many recent (query, window) pairs; 0 = off. "
            "Saves the model's time on repeated pairs, costs ~100 bytes per pair.",
        ),
    ] = EngineConfig.score_cache_size,
    max_queue_wait: Annotated[
        float,
        typer.Option(
            envvar=_env("max_queue_wait"),
            help="Seconds of queued work (at the measured throughput) beyond which new "
            "requests get 429 + Retry-After at once; 0 = no limit. Lower fails fast under "
            "overload, higher queues more for batch jobs.",
        ),
    ] = EngineConfig.max_queue_wait_s or 0.0,
    max_request_bytes: Annotated[
        int, typer.Option(envvar=_env("max_request_bytes"), help="Largest request body (413).")
    ] = HttpConfig.max_request_bytes,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            envvar=_env("cors_origin"),
            help="Browser origin allowed to call the API (* = any); repeatable. "
            "Default: none, no CORS headers.",
        ),
    ] = None,
    rerank_compat: Annotated[
        RerankCompatChoice,
        typer.Option(
            envvar=_env("rerank_compat"),
            help="Whose answer POST /rerank gives to the {query, documents} body: vllm "
            'returns a document as {"text": ...} (vLLM, Jina), infinity as the bare string '
            "(infinity's clients). TEI's {query, texts} body is answered as TEI does.",
        ),
    ] = VLLM,
    grace_period: Annotated[
        float,
        typer.Option(
            envvar=_env("grace_period"),
            help="On SIGTERM, seconds for requests in flight to finish while new ones get "
            "503; then exit 0. Keep it under the orchestrator's kill timeout.",
        ),
    ] = ServerConfig.shutdown_grace_s,
    trust_remote_code: Annotated[
        list[str] | None,
        typer.Option(
            envvar=_env("trust_remote_code"),
            help="MODEL: let this served model run Python code shipped with it (unsafe: "
            "only for models you trust). Repeatable; off for every other model.",
        ),
    ] = None,
    fallback_model: Annotated[
        str | None,
        typer.Option(
            envvar=_env("fallback_model"),
            help="Served instead of the default model when no --model is given and the "
            "default is neither cached nor reachable (`make serve` points it at the "
            "offline reference model of ../shared when that is present).",
        ),
    ] = None,
    print_config: Annotated[
        bool,
        typer.Option(
            "--print-config", help="Print the resolved settings (keys redacted) and exit."
        ),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            envvar=_env("config"),
            is_eager=True,
            callback=_load_config_file,
            help="TOML file of settings named like these flags.",
        ),
    ] = None,
) -> None:
    """Serve the Cohere-compatible HTTP API (v2/v1 rerank, TEI rerank, models, metrics)."""
    try:
        settings = server_config(ctx.params)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    if print_config:
        typer.echo(json.dumps(describe(settings), indent=2, default=str))
        return
    from openrerank.server.run import configure_logging, run_server

    configure_logging(ctx.find_root().params.get("log_level") or "info")
    if model is None and fallback_model is not None:
        settings = _default_or_fallback(ctx.params, fallback_model) or settings
    if not run_server(settings):
        raise typer.Exit(1)


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
        ValueError: a malformed alias or an out-of-range value.
        OSError: the API key file cannot be read.
    """
    model_options = {
        "backend": str(params["backend"]),
        "precision": str(params["precision"]),
        "device": params["device"],
        "max_length": params["max_length"],
        "threads": params["threads"],
    }
    names = params["model"] or [DEFAULT_MODEL]
    trusted = _trusted(params["trust_remote_code"] or [], names)
    methods = _aggregations(params["aggregation"] or [], names)
    calibrations = _calibrations(params["calibration"] or [], names)
    engines = tuple(
        EngineConfig(
            model=ModelConfig(
                name=name,
                calibration=calibrations.get(name),
                trust_remote_code=name in trusted,
                **model_options,
            ),
            batching=BatchingConfig(max_batch_tokens=params["max_batch_tokens"]),
            chunking=ChunkingConfig(
                aggregation=methods.get(name, "max"),
                window_overlap=params["window_overlap"],
                max_tokens_per_doc=params["max_tokens_per_doc"],
                max_windows_per_request=params["max_windows_per_request"],
            ),
            max_documents=params["max_documents"],
            max_query_chars=params["max_query_chars"],
            max_document_chars=params["max_document_chars"],
            max_queued_pairs=params["max_queued_pairs"],
            max_queue_wait_s=params["max_queue_wait"] or None,
            score_cache_size=params["score_cache_size"],
        )
        for name in names
    )
    http = HttpConfig(
        api_keys=_api_keys(params["api_key"] or [], params["api_key_file"]),
        metrics_public=params["metrics_public"],
        max_request_bytes=params["max_request_bytes"],
        cors_origins=tuple(params["cors_origin"] or ()),
        rerank_compat=cast(RerankCompat, str(params["rerank_compat"])),
    )
    return ServerConfig(
        models=engines,
        aliases=tuple(_parse_alias(item) for item in params["alias"] or []),
        default_aliases=params["default_aliases"],
        host=params["host"],
        port=params["port"],
        http=http,
        shutdown_grace_s=params["grace_period"],
    )


def describe(config: ServerConfig) -> dict[str, Any]:
    """The settings as plain data, API keys replaced by a count."""
    data = dataclasses.asdict(config)
    data["http"]["api_keys"] = f"<{len(config.http.api_keys)} redacted>"
    return data


def _aggregations(items: list[str], models: list[str]) -> dict[str, Aggregation]:
    """``--aggregation`` values: ``METHOD`` for every model, ``MODEL=METHOD`` for one."""
    methods: dict[str, Aggregation] = {}
    for item in items:
        name, sep, method = item.rpartition("=")
        targets = [name.strip()] if sep else models
        if sep and name.strip() not in models:
            raise ValueError(f"--aggregation {item!r} names a model that is not served")
        if method.strip() not in AGGREGATIONS:
            raise ValueError(f"--aggregation takes one of {AGGREGATIONS}, got {item!r}")
        methods.update(dict.fromkeys(targets, cast(Aggregation, method.strip())))
    return methods


def _calibrations(items: list[str], models: list[str]) -> dict[str, Path]:
    """``--calibration`` values: ``MODEL=FILE`` for a served model, else ``FILE`` alone."""
    files: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if sep and name.strip() in models:
            files[name.strip()] = Path(path.strip())
        elif len(models) == 1:
            files[models[0]] = Path(item.strip())
        else:
            raise ValueError(
                f"--calibration {item!r}: with several models served, write MODEL=FILE "
                f"(one of {', '.join(models)})"
            )
    for file in files.values():
        if not file.is_file():
            raise ValueError(f"--calibration: {file} is not a file")
    return files


def _trusted(items: list[str], models: list[str]) -> set[str]:
    """``--trust-remote-code`` values: served model names, each trusted on its own."""
    unknown = [item for item in items if item not in models]
    if unknown:
        raise ValueError(
            f"--trust-remote-code names {', '.join(unknown)}, not served here "
            f"(served: {', '.join(models)})"
        )
    return set(items)


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
