"""The deployment files validate against their schemas and agree with the code.

Kubernetes manifests (deploy/kubernetes) are checked by ``kubernetes-validate`` (the
Kubernetes schemas it bundles, strict: unknown fields fail), the compose file by
``check-jsonschema``'s bundled compose-spec schema; both work offline. Then the
manifests, the compose file and the Containerfile must name only settings ``serve``
has, the port it serves, the probe routes the app has, and the image's user and volume.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml

from openrerank.cli.main import app
from openrerank.config import ServerConfig
from openrerank.server.routes.ops import router as ops_router

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").rglob("*.yaml"))
COMPOSE = DEPLOY / "compose.yaml"
CONTAINERFILE = ROOT / "Containerfile"
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
ENVIRONMENT_OF_THE_LIBRARY = {"OPENRERANK_CACHE"}
"""Variables read outside ``serve``'s options: ``config.default_cache_dir``."""


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def manifest(kind: str) -> dict[str, Any]:
    found = [doc for path in MANIFESTS for doc in documents(path) if doc["kind"] == kind]
    assert len(found) == 1, f"one {kind} in deploy/kubernetes, found {len(found)}"
    return found[0]


def container() -> dict[str, Any]:
    containers: list[dict[str, Any]] = manifest("Deployment")["spec"]["template"]["spec"][
        "containers"
    ]
    return containers[0]


def container_env() -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container()["env"]}


def compose_service() -> dict[str, Any]:
    service: dict[str, Any] = documents(COMPOSE)[0]["services"]["openrerank"]
    return service


def containerfile() -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The final stage's ENV values, ARG defaults and EXPOSEd ports (continuations joined)."""
    text = CONTAINERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    final = re.split(r"^FROM .*$", text, flags=re.MULTILINE)[-1]
    env: dict[str, str] = {}
    args: dict[str, str] = {}
    exposed: list[str] = []
    for line in final.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            env.update(item.split("=", 1) for item in rest.split())
        elif word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
        elif word == "EXPOSE":
            exposed.extend(rest.split())
    return env, args, exposed


def serve_envvars() -> set[str]:
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    return {param.envvar for param in serve.params if getattr(param, "envvar", None)}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifest_validates_against_kubernetes_schemas(path: Path, version: str) -> None:
    for doc in documents(path):
        kubernetes_validate.validate(doc, version, strict=True)


def test_kubernetes_validator_rejects_an_unknown_field() -> None:
    deployment = manifest("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"][
        "pathh"
    ] = "/ready"
    with pytest.raises(kubernetes_validate.ValidationError, match="pathh"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    return subprocess.run(
        [*command, str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def test_compose_file_validates_against_the_compose_spec() -> None:
    checked = check_compose(COMPOSE)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_compose_validator_rejects_an_unknown_field(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        COMPOSE.read_text(encoding="utf-8").replace("    ports:", "    portz:", 1),
        encoding="utf-8",
    )
    checked = check_compose(broken)
    assert checked.returncode != 0 and "portz" in checked.stdout + checked.stderr


def test_every_openrerank_variable_is_a_setting() -> None:
    env, _, _ = containerfile()
    named = {
        *container_env(),
        *compose_service()["environment"],
        *env,
    }
    ours = {name for name in named if name.startswith("OPENRERANK_")}
    unknown = ours - serve_envvars() - ENVIRONMENT_OF_THE_LIBRARY
    assert not unknown, f"not settings of openrerank serve: {sorted(unknown)}"
    assert {"OPENRERANK_MODEL", "OPENRERANK_PORT", "OPENRERANK_API_KEY_FILE"} <= ours


def test_port_is_the_servers_everywhere() -> None:
    env, _, exposed = containerfile()
    port = ServerConfig.__dataclass_fields__["port"].default
    (container_port,) = container()["ports"]
    service_port = manifest("Service")["spec"]["ports"][0]
    assert container_port["containerPort"] == port == int(env["OPENRERANK_PORT"])
    assert exposed == [str(port)]
    assert container_env()["OPENRERANK_PORT"] == str(port)
    assert service_port["targetPort"] == container_port["name"]
    assert compose_service()["ports"] == [f"{port}:{port}"]
    assert compose_service()["environment"]["OPENRERANK_PORT"] == str(port)


def test_probes_use_liveness_and_readiness_routes() -> None:
    routes = {getattr(route, "path", None) for route in ops_router.routes}
    kinds = ("livenessProbe", "readinessProbe", "startupProbe")
    paths = [container()[kind]["httpGet"]["path"] for kind in kinds]
    assert paths == ["/health", "/ready", "/ready"]
    assert {"/health", "/ready"} <= routes
    assert "/ready" in " ".join(compose_service()["healthcheck"]["test"])


def test_probes_get_through_when_keys_are_set() -> None:
    """A probe sends no key: with a key file, /ready must be public."""
    for env in (container_env(), compose_service()["environment"]):
        assert "OPENRERANK_API_KEY_FILE" in env
        assert env["OPENRERANK_READY_PUBLIC"] == "true"


def test_keys_file_lies_in_the_secret_mount() -> None:
    mounts = {mount["name"]: mount["mountPath"] for mount in container()["volumeMounts"]}
    assert Path(container_env()["OPENRERANK_API_KEY_FILE"]).parent == Path(mounts["keys"])
    assert compose_service()["environment"]["OPENRERANK_API_KEY_FILE"] == (
        f"/run/secrets/{compose_service()['secrets'][0]}"
    )


def test_cache_volume_is_the_images_data_folder() -> None:
    env, _, _ = containerfile()
    assert env["HF_HOME"] == "/data"
    assert Path(env["OPENRERANK_CACHE"]).is_relative_to("/data")
    mounts = {mount["name"]: mount["mountPath"] for mount in container()["volumeMounts"]}
    assert mounts["cache"] == "/data"
    assert "openrerank-cache:/data" in compose_service()["volumes"]


def test_pod_runs_as_the_images_user() -> None:
    _, args, _ = containerfile()
    security = manifest("Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == security["fsGroup"] == int(args["UID"])


def test_drain_ends_before_the_orchestrator_kills() -> None:
    grace = float(container_env()["OPENRERANK_GRACE_PERIOD"])
    pod = manifest("Deployment")["spec"]["template"]["spec"]
    assert grace < pod["terminationGracePeriodSeconds"]
    assert float(compose_service()["environment"]["OPENRERANK_GRACE_PERIOD"]) < float(
        compose_service()["stop_grace_period"].removesuffix("s")
    )
