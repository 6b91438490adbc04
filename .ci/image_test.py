"""The container image works as docs/DEPLOY.md says: ``make image-test`` (after ``make image``).

Standard library only; run with any python3: ``python3 .ci/image_test.py``. It runs the
image (``$IMAGE``, default ``localhost/openrerank:latest``) with podman (``$PODMAN``) on
host networking, bound to 127.0.0.1 on a free port, serving the reference model from
the Hugging Face cache of ``../shared`` (``$HF_HUB_CACHE`` when set) mounted read-only
at ``/data/hub`` with ``HF_HUB_OFFLINE=1``, a fresh named volume at ``/data``, an API
key from a mounted file, ``--ready-public`` and a read-only root filesystem. It checks:

* ``/health`` and ``/ready`` answer 200 (``/ready`` without the key), and ``POST
  /v2/rerank`` ranks the relevant document first with the key and is refused without it;
* the server runs as a non-root user;
* ``podman stop`` (SIGTERM) drains it and it exits 0, answering a request in flight;
* a second container on the same volume reuses the ONNX export of the first (its log
  has no "exporting" line) and starts faster;
* with ``$SLIM_IMAGE`` set (an image built with ``EXTRAS=server``, no torch), that image
  serves the model from the same volume's cached export.

It prints each timing (cold start to ``/ready``, restart, stop) and exits 1 naming the
failed check. Every wait is bounded; the containers and the volume are removed at the end.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "openrerank/minilm-l6-scifact-ce"
KEY = "sk-image-test-5b0e71"
READY_TIMEOUT_S = 300
STOP_TIMEOUT_S = 30
EXPORT_LOG = "exporting openrerank/minilm-l6-scifact-ce to ONNX"
QUERY = "How do I reset my password?"
PODMAN = shlex.split(os.environ.get("PODMAN", "podman"))
DOCUMENTS = ["The cat sat on the mat.", "To reset your password, open Settings > Account."]


class CheckFailed(Exception):
    """One check of the image failed; the message says which."""


def podman(*args: str, check: bool = True, timeout: float = 120) -> str:
    command = [*PODMAN, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise CheckFailed(f"{shlex.join(command)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request(
    url: str, body: object = None, key: str | None = None, timeout: float = 30
) -> tuple[int, str]:
    """(status, body) of a GET, or of a JSON POST when ``body`` is given; 0 = no answer."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data else {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers=headers), timeout=timeout
        ) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def hf_cache() -> Path:
    explicit = os.environ.get("HF_HUB_CACHE")
    cache = Path(explicit) if explicit else ROOT.parent / "shared" / "hf-cache"
    if not (cache / "models--openrerank--minilm-l6-scifact-ce").is_dir():
        raise CheckFailed(f"the reference model is not in {cache} (set HF_HUB_CACHE)")
    return cache


class Run:
    """One container of the image on ``port``, with the test's volume and key file."""

    def __init__(self, image: str, name: str, port: int, mounts: list[str]) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        env = {
            "OPENRERANK_HOST": "127.0.0.1",
            "OPENRERANK_PORT": str(port),
            "OPENRERANK_MODEL": MODEL,
            "OPENRERANK_API_KEY_FILE": "/run/secrets/openrerank/keys",
            "OPENRERANK_READY_PUBLIC": "true",
            "HF_HUB_OFFLINE": "1",
        }
        options = ["--network", "host", "--read-only", "--no-healthcheck", *mounts]
        options += [item for name_value in env.items() for item in ("-e", "=".join(name_value))]
        self.started = time.monotonic()
        podman("run", "-d", "--name", name, *options, image)

    def wait_ready(self) -> float:
        """Seconds from ``podman run`` to ``/ready`` 200 (liveness answering on the way)."""
        deadline = self.started + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            status, text = request(f"{self.url}/ready", timeout=5)
            if status == 200:
                return time.monotonic() - self.started
            if status not in (0, 503):  # no answer yet, or loading
                raise CheckFailed(f"GET /ready answered {status}: {text}")
            if podman("inspect", "-f", "{{.State.Running}}", self.name) != "true":
                raise CheckFailed(f"{self.name} exited before it was ready:\n{self.logs()}")
            time.sleep(0.25)
        raise CheckFailed(f"{self.name} not ready within {READY_TIMEOUT_S} s:\n{self.logs()}")

    def logs(self, last: int = 40) -> str:
        """The container's last ``last`` log lines (the server logs to stderr)."""
        command = [*PODMAN, "logs", "--tail", str(last), self.name]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        return done.stdout + done.stderr

    def stop(self) -> float:
        """Seconds ``podman stop`` (SIGTERM, then SIGKILL after 30 s) took; exit code 0."""
        started = time.monotonic()
        podman("stop", "-t", str(STOP_TIMEOUT_S), self.name, timeout=STOP_TIMEOUT_S + 30)
        took = time.monotonic() - started
        code = podman("inspect", "-f", "{{.State.ExitCode}}", self.name)
        if code != "0":
            raise CheckFailed(f"{self.name} exited {code} on SIGTERM, not 0:\n{self.logs()}")
        return took


def check_serving(run: Run) -> None:
    status, _ = request(f"{run.url}/health")
    if status != 200:
        raise CheckFailed(f"GET /health answered {status}")
    body = {"model": MODEL, "query": QUERY, "documents": DOCUMENTS}
    status, _ = request(f"{run.url}/v2/rerank", body)
    if status != 401:
        raise CheckFailed(f"POST /v2/rerank without the key answered {status}, not 401")
    status, text = request(f"{run.url}/v2/rerank", body, key=KEY)
    if status != 200:
        raise CheckFailed(f"POST /v2/rerank answered {status}: {text}")
    results = json.loads(text)["results"]
    if [item["index"] for item in results] != [1, 0]:
        raise CheckFailed(f"POST /v2/rerank ranked {results}; the password document is first")


def stop_while_answering(run: Run) -> float:
    """SIGTERM while a long request is in flight: it is answered, then the server exits 0."""
    documents = [f"Step {i} of resetting a password, told at length. " * 4 for i in range(400)]
    body = {"model": MODEL, "query": QUERY, "documents": documents}
    answer: list[int] = []
    worker = threading.Thread(
        target=lambda: answer.append(request(f"{run.url}/v2/rerank", body, KEY, timeout=120)[0])
    )
    worker.start()
    time.sleep(1.0)
    took = run.stop()
    worker.join(timeout=60)
    if answer != [200]:
        raise CheckFailed(f"the request in flight at SIGTERM got {answer}, not 200")
    if "draining: 1 request(s) in flight" not in run.logs(last=1000):
        raise CheckFailed(f"the request ended before SIGTERM; nothing drained:\n{run.logs()}")
    return took


def check_non_root(run: Run) -> str:
    uid = podman("exec", run.name, "id", "-u")
    if uid == "0":
        raise CheckFailed("the server runs as root")
    return uid


def scenario(image: str, slim: str | None, tag: str, mounts: list[str]) -> dict[str, float]:
    """Every check, in order; the timings measured on the way."""
    timings: dict[str, float] = {}
    first = Run(image, f"{tag}-first", free_port(), mounts)
    timings["cold start, export included (run -> /ready 200)"] = first.wait_ready()
    check_serving(first)
    print(f"runs as uid {check_non_root(first)}")
    if EXPORT_LOG not in first.logs(last=1000):
        raise CheckFailed(f"the first start did not export the model:\n{first.logs()}")
    timings["first stop (SIGTERM -> exit 0)"] = first.stop()
    again = Run(image, f"{tag}-restart", free_port(), mounts)
    timings["restart on the same volume (run -> /ready 200)"] = again.wait_ready()
    if EXPORT_LOG in again.logs(last=1000):
        raise CheckFailed("the restart exported the model again instead of reusing it")
    check_serving(again)
    timings["second stop, a 400-document request in flight (drained, exit 0)"] = (
        stop_while_answering(again)
    )
    if slim:  # an image without torch serves the export the first one cached
        lean = Run(slim, f"{tag}-slim", free_port(), mounts)
        timings[f"{slim} on the same volume (run -> /ready 200)"] = lean.wait_ready()
        check_serving(lean)
        check_non_root(lean)
        timings[f"{slim} stop (SIGTERM -> exit 0)"] = lean.stop()
    return timings


def main() -> int:
    image = os.environ.get("IMAGE", "localhost/openrerank:latest")
    slim = os.environ.get("SLIM_IMAGE") or None
    tag = f"openrerank-image-test-{os.getpid()}"
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        keys = Path(scratch) / "keys"
        keys.write_text(f"# one key per line\n{KEY}\n", encoding="utf-8")
        keys.chmod(0o644)
        mounts = [
            "-v", f"{tag}:/data",
            "-v", f"{hf_cache()}:/data/hub:ro",
            "-v", f"{keys}:/run/secrets/openrerank/keys:ro",
        ]  # fmt: skip
        try:
            podman("volume", "create", tag)
            timings = scenario(image, slim, tag, mounts)
        except (CheckFailed, subprocess.TimeoutExpired) as exc:
            print(f"image test FAILED: {exc}", file=sys.stderr)
            return 1
        finally:
            for name in ("first", "restart", "slim"):
                podman("rm", "-f", "-t", "0", f"{tag}-{name}", check=False)
            podman("volume", "rm", "-f", tag, check=False)
    for name in filter(None, (image, slim)):
        size = int(podman("image", "inspect", "--format", "{{.Size}}", name))
        print(f"image {name}: {size / 1e6:.0f} MB")
    print("image test passed:")
    for what, seconds in timings.items():
        print(f"  {what}: {seconds:.1f} s")
    print(f"  the whole test: {time.monotonic() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
