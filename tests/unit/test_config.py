"""Settings resolved at start-up: the playground is on for a loopback bind only."""

from __future__ import annotations

import pytest

from openrerank.config import EngineConfig, HttpConfig, ModelConfig, ServerConfig, is_loopback

ENGINES = (EngineConfig(model=ModelConfig(name="m")),)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.internal", False),
    ],
)
def test_is_loopback_knows_local_binds(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("host", "expected"), [("127.0.0.1", True), ("0.0.0.0", False)])
def test_server_config_decides_the_playground_from_the_bind_host(host: str, expected: bool) -> None:
    config = ServerConfig(models=ENGINES, host=host)
    assert config.http.playground is expected


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
@pytest.mark.parametrize("chosen", [True, False])
def test_server_config_keeps_an_explicit_playground_choice(host: str, chosen: bool) -> None:
    http = HttpConfig(api_keys=("k",), playground=chosen)
    config = ServerConfig(models=ENGINES, host=host, http=http)
    assert config.http.playground is chosen
    assert config.http.api_keys == ("k",)


def test_http_config_alone_leaves_the_playground_undecided() -> None:
    assert HttpConfig().playground is None
