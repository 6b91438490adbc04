"""Optional extras: requirements read from metadata, one-line messages, exit code 2."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from openrerank.cli.extras import MISSING_EXTRA_EXIT, _missing, missing_requirements, needs_extra

DECLARED = [
    "numpy>=1.26",
    "no-such-distribution-a>=1; extra == 'alpha'",
    "numpy>=1.26; extra == 'alpha'",
    "openrerank[beta]; extra == 'alpha'",
    "no-such-distribution-b; extra == 'beta'",
    "no-such-distribution-c; sys_platform == 'no-such-os' and extra == 'alpha'",
    "no-such-distribution-d; extra == 'gamma'",
]


def test_missing_follows_nested_extras_and_platform_markers() -> None:
    assert _missing(DECLARED, "alpha", set()) == {
        "no-such-distribution-a",
        "no-such-distribution-b",
    }
    assert _missing(DECLARED, "gamma", set()) == {"no-such-distribution-d"}
    assert _missing(DECLARED, "unknown", set()) == set()


def test_the_dev_install_has_every_extra_it_names() -> None:
    for extra in ("onnx", "torch", "eval", "server", "bench", "dev"):
        assert missing_requirements(extra) == [], extra


def _app(error: ModuleNotFoundError | None) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @needs_extra("demo", "eval")
    def demo(name: str = "x") -> None:
        if error is not None:
            raise error
        typer.echo(f"ran {name}")

    return app


def test_a_module_missing_at_run_time_is_one_line_naming_the_extra() -> None:
    error = ModuleNotFoundError("No module named 'sklearn'", name="sklearn")
    result = CliRunner().invoke(_app(error), ["--name", "y"])
    assert result.exit_code == MISSING_EXTRA_EXIT
    lines = result.output.strip().splitlines()
    assert lines == [
        "error: `openrerank demo` needs the 'eval' extra (sklearn not installed): "
        "pip install 'openrerank[eval]'"
    ]


def test_the_decorated_command_keeps_its_flags_and_runs() -> None:
    result = CliRunner().invoke(_app(None), ["--name", "y"])
    assert result.exit_code == 0 and result.output == "ran y\n"


def test_a_missing_openrerank_module_is_a_bug_not_an_extra() -> None:
    error = ModuleNotFoundError("No module named 'openrerank.nope'", name="openrerank.nope")
    result = CliRunner().invoke(_app(error), [])
    assert isinstance(result.exception, ModuleNotFoundError)
