"""Command-line options generated from the settings declared in :mod:`openrerank.config`.

Every field declared with :func:`openrerank.config.setting` becomes one option: the flag
is the field's name in kebab case (or its ``Setting.flag``), the environment variable
``OPENRERANK_<FLAG>``, the type and default are the field's, the help is the Setting's.
A command takes a group of them with :func:`with_options` and turns the parsed values
back into config objects with :func:`values_for`; nothing about a setting is written here.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, cast

import typer

from openrerank.config import BACKENDS, PRECISIONS, SETTING, ModelConfig, Setting

ENV_PREFIX = "OPENRERANK_"
# The Literal aliases config.py imports only for type checking, resolved without
# importing openrerank.types (and numpy) at start-up.
_HINT_NAMES: dict[str, Any] = {"BackendName": Literal[BACKENDS], "Precision": Literal[PRECISIONS]}
_Command = TypeVar("_Command", bound=Callable[..., Any])


@dataclass(frozen=True)
class Option:
    """One declared setting as a command-line option.

    Attributes:
        owner: the config dataclass the value goes to.
        field: the field it sets.
        setting: the field's declaration.
        hint: the field's type.
        default: the field's default.
    """

    owner: type
    field: str
    setting: Setting
    hint: Any
    default: Any

    @property
    def flag(self) -> str:
        """The option's name, without the dashes."""
        return self.setting.flag or self.field.replace("_", "-")

    @property
    def param(self) -> str:
        """The parameter name typer passes the value as."""
        return self.flag.replace("-", "_")

    @property
    def envvar(self) -> str:
        return ENV_PREFIX + self.param.upper()

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The allowed values of a Literal-typed setting."""
        literal = _without_none(self.hint)
        if typing.get_origin(literal) is Literal:
            return tuple(str(value) for value in typing.get_args(literal))
        return None

    def to_value(self, raw: Any) -> Any:
        """The parsed flag as the field's value."""
        if raw is None:
            return self.default
        if self.setting.zero_is_none and raw == 0:
            return None
        if isinstance(raw, list):
            return tuple(raw)
        if isinstance(raw, enum.Enum):
            return raw.value
        return raw


def options(owner: type, *, only: Collection[str] | None = None) -> tuple[Option, ...]:
    """The declared settings of ``owner``'s fields (or of the fields in ``only``)."""
    hints = typing.get_type_hints(owner, localns=_HINT_NAMES)
    found = []
    for item in dataclasses.fields(owner):
        declared = item.metadata.get(SETTING)
        if declared is None or (only is not None and item.name not in only):
            continue
        default = item.default if item.default is not dataclasses.MISSING else None
        found.append(Option(owner, item.name, declared, hints[item.name], default))
    return tuple(found)


def with_options(
    group: Sequence[Option], *, envvars: bool = True
) -> Callable[[_Command], _Command]:
    """Add ``group``'s options to a typer command.

    The command declares its own parameters and a ``**settings`` catch-all; typer sees
    both, and the generated values arrive in ``settings`` under :attr:`Option.param`.
    ``envvars=False`` leaves out the ``OPENRERANK_*`` variables (they configure ``serve``;
    a one-off command should not pick up a server's environment).
    """

    def decorate(command: _Command) -> _Command:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        generated = [parameter(option, envvar=envvars) for option in group]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return command(*args, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*own, *generated])  # type: ignore[attr-defined]
        return cast(_Command, wrapper)

    return decorate


def parameter(option: Option, *, envvar: bool = True) -> inspect.Parameter:
    """The typer parameter of one option: flag, environment variable, type, help."""
    annotation, default = _typer_type(option)
    show: bool | str = True
    if option.setting.default_text is not None:
        show = option.setting.default_text
    elif _repeated(option):
        show = _shown(option.default)
    info = typer.Option(
        envvar=option.envvar if envvar else None,
        help=option.setting.help,
        show_default=show,
        case_sensitive=False,
    )
    return inspect.Parameter(
        option.param,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[annotation, info],
    )


def values_for(owner: type, group: Sequence[Option], params: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``owner`` from the parsed ``params`` (per-model ones left out)."""
    return {
        option.field: option.to_value(params.get(option.param))
        for option in group
        if option.owner is owner and option.setting.per_model is None
    }


def per_model_values(
    group: Sequence[Option], params: Mapping[str, Any], models: Sequence[str]
) -> dict[str, dict[type, dict[str, Any]]]:
    """Each served model's values of the per-model options, by owner and field.

    Raises:
        ValueError: an item names a model that is not served, or a value is not allowed.
    """
    found: dict[str, dict[type, dict[str, Any]]] = {name: {} for name in models}
    for option in group:
        if option.setting.per_model is None:
            continue
        for name, value in _per_model(option, list(params.get(option.param) or []), models):
            found[name].setdefault(option.owner, {})[option.field] = value
    return found


def _per_model(option: Option, items: list[str], models: Sequence[str]) -> list[tuple[str, Any]]:
    kind = option.setting.per_model
    if kind == "names":
        unknown = [item for item in items if item not in models]
        if unknown:
            raise ValueError(
                f"--{option.flag} names {', '.join(unknown)}, not served here "
                f"(served: {', '.join(models)})"
            )
        return [(item, True) for item in items]
    pairs: list[tuple[str, Any]] = []
    for item in items:
        pairs.extend(
            (name, _checked(option, value)) for name, value in _targets(option, item, models)
        )
    return pairs


def _targets(option: Option, item: str, models: Sequence[str]) -> list[tuple[str, str]]:
    """``MODEL=VALUE`` for a served model; else ``VALUE`` for every model (``any``) or
    for the only one (``own``)."""
    # ``any`` values never hold "=" (a model path may); ``own`` values may (a file path)
    split = item.rpartition if option.setting.per_model == "any" else item.partition
    name, sep, value = split("=")
    if sep and name.strip() in models:
        return [(name.strip(), value.strip())]
    if option.setting.per_model == "any":
        if sep:
            raise ValueError(f"--{option.flag} {item!r} names a model that is not served")
        return [(model, item.strip()) for model in models]
    if len(models) == 1:
        return [(models[0], item.strip())]
    raise ValueError(
        f"--{option.flag} {item!r}: with several models served, write MODEL=VALUE "
        f"(one of {', '.join(models)})"
    )


def _checked(option: Option, value: str) -> Any:
    choices = option.choices
    if choices is not None and value not in choices:
        raise ValueError(f"--{option.flag} takes one of {choices}, got {value!r}")
    if _without_none(option.hint) is Path:
        path = Path(value)
        if option.setting.existing_file and not path.is_file():
            raise ValueError(f"--{option.flag}: {path} is not a file")
        return path
    return value


def _typer_type(option: Option) -> tuple[Any, Any]:
    """The annotation typer parses the flag with, and the parameter's default."""
    if _repeated(option):
        return list[str] | None, None
    hint = _without_none(option.hint)
    if option.setting.zero_is_none:
        return hint, option.default or 0
    if option.choices is not None:
        choices = _choice_enum(option)
        return choices, None if option.default is None else choices(option.default)
    if option.default is None:
        return hint | None, None
    return hint, option.default


@functools.cache
def _choice_enum(option: Option) -> type[enum.StrEnum]:
    """A StrEnum of a Literal setting's values: every typer release parses Enums."""
    members = {value: value for value in option.choices or ()}
    return enum.StrEnum(option.param.title().replace("_", ""), members)  # type: ignore[return-value]


def _shown(default: Any) -> str:
    """A repeatable option's default as its help shows it (its parameter default is None)."""
    if isinstance(default, bool):
        return "on" if default else "off"
    return str(default) if default not in (None, ()) else "none"


def _repeated(option: Option) -> bool:
    """A per-model option, or a tuple-valued one, takes the flag repeatedly."""
    return option.setting.per_model is not None or typing.get_origin(option.hint) is tuple


def _without_none(hint: Any) -> Any:
    """``X`` for ``X | None``; any other type as it is."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint


MODEL_OPTIONS: tuple[Option, ...] = options(
    ModelConfig,
    only=(
        "revision",
        "backend",
        "precision",
        "device",
        "max_length",
        "threads",
        "activation",
        "template",
        "instruction",
    ),
)
"""The options that pick how one model runs, shared by every command that loads one
(``rank``, ``eval``, ``calibrate``, ``bench http-latency``, and what comes next)."""


MaxTokensPerDocOption = Annotated[
    int | None, typer.Option(min=1, help="Tokens of each document scored (default 4096).")
]
MaxChunksPerDocOption = Annotated[
    int | None, typer.Option(min=1, help="Windows per long document; 1 = truncate.")
]
"""The document options of the commands that rank (``rank``, ``batch``), as ``rank`` names
them."""


def model_config(name: str, settings: Mapping[str, Any]) -> ModelConfig:
    """The model ``name`` run as the :data:`MODEL_OPTIONS` in ``settings`` say.

    Raises:
        ValueError: a per-model value (``--template``, ``--instruction``) names another
            model, or is not allowed.
    """
    values = values_for(ModelConfig, MODEL_OPTIONS, settings)
    own = per_model_values(MODEL_OPTIONS, settings, [name])[name].get(ModelConfig, {})
    return ModelConfig(name=name, **values, **own)
