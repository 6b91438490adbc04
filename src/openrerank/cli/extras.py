"""Optional extras: each command checks its own before it imports anything heavy.

The requirements of an extra are read from the installed distribution's metadata, so
``pyproject.toml`` stays the one place that lists them. A command whose extra is not
installed prints one line naming it, ``pip install 'openrerank[EXTRA]'``, and exits 2;
a module that still turns out to be missing while the command runs gets the same line,
never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:
    from packaging.requirements import Requirement

DISTRIBUTION = "openrerank"
MISSING_EXTRA_EXIT = 2

P = ParamSpec("P")
R = TypeVar("R")


def missing_requirements(extra: str) -> list[str]:
    """The distributions ``extra`` needs that are not installed (with nested extras).

    Empty when openrerank itself is not installed as a distribution (a bare source tree):
    then nothing can be checked up front, and a missing module is caught as it is imported.
    """
    from importlib import metadata

    try:
        declared = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    return sorted(_missing(declared, extra, set()))


def _missing(declared: list[str], extra: str, seen: set[str]) -> set[str]:
    seen.add(extra)
    missing: set[str] = set()
    for requirement in _requirements_of(declared, extra):
        if requirement.name == DISTRIBUTION:
            for nested in requirement.extras - seen:
                missing |= _missing(declared, nested, seen)
        elif not _installed(requirement.name):
            missing.add(requirement.name)
    return missing


def _requirements_of(declared: list[str], extra: str) -> list[Requirement]:
    """The requirements that apply on this platform when ``extra`` is asked for."""
    from packaging.requirements import InvalidRequirement, Requirement

    found = []
    for line in declared:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:  # pragma: no cover - metadata written by setuptools
            continue
        marker = requirement.marker
        if marker is not None and marker.evaluate({"extra": extra}) and not marker.evaluate():
            found.append(requirement)
    return found


def _installed(distribution: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def fail_missing(command: str, extra: str, missing: str) -> NoReturn:
    """Print the one-line message for a missing extra and exit 2."""
    typer.echo(
        f"error: `openrerank {command}` needs the '{extra}' extra ({missing} not installed): "
        f"pip install 'openrerank[{extra}]'",
        err=True,
    )
    raise typer.Exit(MISSING_EXTRA_EXIT)


def exit_code(exc: Exception, *usage: type[Exception]) -> int:
    """A command's exit status for ``exc``: 2 for what the user can fix in the command line
    or the install (a missing extra, invalid input, or one of ``usage``), 1 for the rest."""
    from openrerank.errors import BackendUnavailableError, InvalidInputError

    if isinstance(exc, BackendUnavailableError):
        return MISSING_EXTRA_EXIT
    return 2 if isinstance(exc, (InvalidInputError, *usage)) else 1


def needs_extra(command: str, extra: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a command: check ``extra`` before it runs; a missing module is one line."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            missing = missing_requirements(extra)
            if missing:
                fail_missing(command, extra, ", ".join(missing))
            try:
                return func(*args, **kwargs)
            except ModuleNotFoundError as exc:
                if exc.name is None or exc.name.partition(".")[0] == DISTRIBUTION:
                    raise
                fail_missing(command, extra, exc.name)

        return checked

    return decorate
