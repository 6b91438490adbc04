"""Property-based fuzzing of every operation in the app's own OpenAPI schema (schemathesis).

The contract held here: over at least :data:`MIN_REQUESTS` generated requests, schema-valid
("positive") and schema-violating ("negative") alike, no answer is a 5xx; every answer that
is not a 2xx is a JSON object with a non-blank string ``message``; 2xx answers match their
response schema; every status and content type is one the schema documents;
schema-violating requests are refused (400 or 422, or 404 when the model is unknown as
well); schema-valid ones are never refused as a wrong shape (422), only for what the schema
cannot express (an object document without ``text``, an unknown model, a per-deployment
limit: 400, 404, 413).

Each operation runs schemathesis' three phases (the schema's examples, its coverage cases
at the boundaries, then :data:`MAX_EXAMPLES` fuzzed cases in both modes), derandomized and
without an example database, once against an app without API keys and once against an app
with keys, sending the key. The schema is generated at import from the routers the app is
made of (no app is built at import; ``schemathesis.pytest.from_fixture`` would avoid that,
but schemathesis 4.32 sets ``Function._nodeid``, which pytest 9 no longer has);
:func:`test_fuzzed_schema_is_the_apps_own` checks it is the one the app serves. The app of
each test comes from ``build_app``; schemathesis' ASGI transport runs its lifespan from the
first request, and its pytest plugin stops it when the test ends. Every answer is counted
in :class:`FuzzLog`, and the last test of the module checks the totals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from hypothesis import HealthCheck, settings
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from e2e.conftest import ALIAS, MODEL, BuildApp
from openrerank import __version__
from openrerank.config import HttpConfig
from openrerank.server.app import ROUTERS

MAX_EXAMPLES = 300
"""Fuzzed cases per operation (operations without inputs stop at the one case they have)."""

MIN_REQUESTS = 2_000
API_KEY = "fuzz-key-0123456789"
SERVED_MODEL_PROBABILITY = 0.5
"""How often a generated ``model`` is replaced by a served name, so that positive cases
reach the model (and their 2xx answers get checked) instead of mostly answering 404."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]
CONFIG: dict[str, Any] = {
    "generation": {
        "mode": "all",
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
    },
    "dictionaries": {"served-models": {"values": [MODEL, ALIAS]}},
    "parameters": {
        "body.model": {"dictionary": "served-models", "probability": SERVED_MODEL_PROBABILITY}
    },
    "checks": {
        # A value that breaks a documented rule (top_n >= 1, a non-blank query) is checked
        # by the service, after the model is resolved: with an unknown model it is a 404.
        "negative_data_rejection": {"expected-statuses": [400, 404, 422]},
        # Never 422: what the schema admits, the validator admits. 400/404/413 are rules
        # the schema cannot state (object documents need `text`, served model names,
        # per-deployment limits).
        "positive_data_acceptance": {"expected-statuses": ["2XX", 400, 404, 413]},
    },
}
"""schemathesis' settings (the keys of ``schemathesis.toml``)."""

DOCUMENT = get_openapi(
    title="openrerank",
    version=__version__,
    routes=[route for router in ROUTERS for route in router.routes],
)
OPERATIONS = {
    f"{method.upper()} {path}" for path, item in DOCUMENT["paths"].items() for method in item
}
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))


@dataclass(frozen=True)
class FuzzTarget:
    """How the fuzzed app is configured, and what every request sends to it."""

    name: str
    api_keys: tuple[str, ...]

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header when keys are configured."""
        return {"Authorization": f"Bearer {self.api_keys[0]}"} if self.api_keys else {}


TARGETS = [FuzzTarget("open", ()), FuzzTarget("api-key", (API_KEY,))]

Key = tuple[str, str, str, int]


@dataclass
class FuzzLog:
    """Every answer: (target, operation, generation mode, status) -> count."""

    statuses: Counter[Key] = field(default_factory=Counter)

    def record(self, target: FuzzTarget, case: Case, response: Response) -> None:
        """Count one answer."""
        mode = case.meta.generation.mode.value if case.meta else "unknown"
        self.statuses[(target.name, case.operation.label, mode, response.status_code)] += 1

    @property
    def total(self) -> int:
        """Requests answered."""
        return sum(self.statuses.values())

    def count(self, position: int) -> Counter[Any]:
        """Requests by one part of the key (0 target, 1 operation, 2 mode, 3 status)."""
        counts: Counter[Any] = Counter()
        for key, n in self.statuses.items():
            counts[key[position]] += n
        return counts

    def server_errors(self) -> dict[Key, int]:
        """The 5xx answers."""
        return {key: n for key, n in self.statuses.items() if key[3] >= 500}

    def report(self) -> str:
        """The histogram, then the totals."""
        lines = [
            f"{t:8} {op:18} {mode:9} {s}: {n}"
            for (t, op, mode, s), n in sorted(self.statuses.items())
        ]
        for position in (1, 2, 3):
            lines.append(str(dict(sorted(self.count(position).items()))))
        lines.append(f"total: {self.total}")
        return "\n".join(lines)


@pytest.fixture(scope="module")
def fuzz_log() -> FuzzLog:
    """The answers of every fuzzed request in this module."""
    return FuzzLog()


@pytest.fixture(params=TARGETS, ids=[target.name for target in TARGETS])
def fuzz_target(request: pytest.FixtureRequest) -> FuzzTarget:
    """Without API keys, and with keys (every request sending one)."""
    target: FuzzTarget = request.param
    return target


@pytest.fixture
def fuzz_app(build_app: BuildApp, fuzz_target: FuzzTarget) -> FastAPI:
    """The app under test (started by the first request schemathesis sends)."""
    return build_app(http=HttpConfig(api_keys=fuzz_target.api_keys)).app


def assert_error_body(response: Response) -> None:
    """An answer other than 2xx is a JSON object with a non-blank string ``message``."""
    if 200 <= response.status_code < 300:
        return
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), (response.status_code, content_type)
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("message"), str), body
    assert body["message"].strip(), body


def test_fuzzed_schema_is_the_apps_own(build_app: BuildApp) -> None:
    served = build_app().app.openapi()
    assert served["paths"] == DOCUMENT["paths"]
    assert served["components"] == DOCUMENT["components"]
    assert len(OPERATIONS) >= 7, OPERATIONS


@schema.parametrize()
@settings(
    deadline=None,
    # One app serves every generated request of an operation, as a real server does: the
    # requests are independent, and its state carrying over is part of what is tested.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_operation_answers_without_5xx(
    case: Case, fuzz_target: FuzzTarget, fuzz_app: FastAPI, fuzz_log: FuzzLog
) -> None:
    response = case.call(app=fuzz_app, headers=fuzz_target.headers)
    fuzz_log.record(fuzz_target, case, response)
    assert_error_body(response)
    case.validate_response(response, checks=CHECKS, headers=fuzz_target.headers)


def test_fuzzing_sent_enough_requests_and_none_failed_with_5xx(fuzz_log: FuzzLog) -> None:
    """Runs last (pytest keeps the file's order): the totals of the fuzzing above."""
    print(fuzz_log.report())
    assert fuzz_log.total >= MIN_REQUESTS, f"run the whole module\n{fuzz_log.report()}"
    assert fuzz_log.server_errors() == {}, fuzz_log.report()
    assert set(fuzz_log.count(1)) == OPERATIONS
    assert set(fuzz_log.count(0)) == {target.name for target in TARGETS}
    modes = fuzz_log.count(2)
    assert modes[GenerationMode.POSITIVE.value] > 0 and modes[GenerationMode.NEGATIVE.value] > 0
