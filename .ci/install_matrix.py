"""Fresh installs tell the truth: each install line the README documents, in a new venv.

Run by ``.ci/run`` before ``make test`` (and by ``make install-matrix``), with the
interpreter that makes the venvs: ``python3 .ci/install_matrix.py [--keep DIR]``.
Standard library only. Every venv is built from the working tree, never editable, with
nothing but the install line; pip's own cache is used. Through each venv it checks:

* ``openrerank --help`` and ``--version`` work, and ``import openrerank`` pulls in no web
  framework or model runtime;
* every command whose extra is missing prints one line naming
  ``pip install 'openrerank[EXTRA]'`` and exits 2, with no traceback;
* where the extras are installed (``make serve``'s line): ``openrerank serve`` starts on the
  reference model, answers ``POST /v2/rerank`` and serves the playground page and its
  files (package data of the wheel); with the default model out of reach
  and ``--fallback-model`` given it serves the fallback and its first log line says so;
  ``openrerank rank`` prints a ranking;
* with the ``ray`` extra (README's line for it): ``openrerank batch --ray local`` ranks a
  file and ``openrerank serve --ray local`` answers ``POST /v2/rerank``.
* with the ``finetune`` extra (README's line for it): ``openrerank finetune`` trains the
  reference model two steps on Cohere's fine-tune JSONL, prints the held-out table, and
  ``openrerank rank`` ranks with the folder it wrote.

Servers listen on 127.0.0.1 only and every step has a timeout. Exit status 1 names the
failed check.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REFERENCE_REPO = "models--openrerank--minilm-l6-scifact-ce"
TORCH = "torch==2.13.0"  # the Makefile's pin: the local CPU wheel
INSTALL_TIMEOUT_S = 900
COMMAND_TIMEOUT_S = 180
READY_TIMEOUT_S = 240
HEAVY_MODULES = ("fastapi", "starlette", "uvicorn", "torch", "onnxruntime", "transformers")
EXTRA_COMMANDS = {
    "serve": ("server", ["serve"]),
    "eval": ("eval", ["eval", "--dataset", "."]),
    "calibrate": ("eval", ["calibrate", "--dataset", "."]),
    **{
        f"bench {tool}": ("bench", ["bench", tool])
        for tool in ("compare", "latency", "http-latency", "long-documents", "reliability")
    },
    "bench llm": ("bench", ["bench", "llm", "--model", "."]),
    "batch": ("batch", ["batch", "--input", "rows.jsonl", "--output", "out.jsonl"]),
    "serve --ray": ("ray", ["serve", "--ray", "local"]),
    "bench random-llm": ("bench", ["bench", "random-llm", "."]),
    "bench scaling": ("bench", ["bench", "scaling"]),
    "finetune": ("finetune", ["finetune", "--model", ".", "--out", "out", "--data", "x.jsonl"]),
}
PASSWORD_DOCUMENTS = ("The cat sat on the mat.", "To reset your password, open Settings.")
BENCH_TOOLS = tuple(name for name in EXTRA_COMMANDS if name.startswith("bench "))


@dataclass(frozen=True)
class Install:
    """One documented install line and what it must be able to do."""

    name: str
    requirements: tuple[str, ...]
    without: tuple[str, ...]
    """Commands whose extra this line does not install: each must say so in one line."""
    serves: bool = False
    rank_extra: str | None = None
    """The extra ``rank`` must ask for, or None when ``rank`` must print a ranking."""
    on_ray: bool = False
    """``batch --ray local`` ranks a file, and ``serve --ray local`` answers."""
    finetunes: bool = False
    """``finetune`` trains the reference model a few steps and ``rank`` takes the result."""


INSTALLS = (
    Install(
        "bare",
        (".",),
        without=("serve", "eval", "calibrate", "batch", "finetune", *BENCH_TOOLS),
        rank_extra="onnx",
    ),
    Install(
        "make-serve",
        (TORCH, ".[server,torch]"),
        without=("eval", "calibrate", "batch", "serve --ray", "finetune", *BENCH_TOOLS),
        serves=True,
    ),
    Install(
        "ray",
        (TORCH, ".[ray,torch]"),
        without=("eval", "calibrate", "finetune", *BENCH_TOOLS),
        on_ray=True,
    ),
    Install(
        "finetune",
        (TORCH, ".[finetune]"),
        without=("serve", *BENCH_TOOLS),  # datasets brings batch's pyarrow
        finetunes=True,
    ),
)


class CheckFailed(Exception):
    """A check of the matrix failed; the message says which and why."""


@dataclass
class Venv:
    """A throwaway virtual environment and the environment its commands run in."""

    path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def run(
        self, args: list[str], *, stdin: str = "", timeout: float = COMMAND_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            cwd=self.path,
            check=False,
        )

    def openrerank(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return self.run([str(self.bin / "openrerank"), *args], stdin=stdin)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="Build the venvs here and keep them.")
    parser.add_argument("--only", action="append", help="Run only this install (repeatable).")
    args = parser.parse_args()
    snapshot = reference_snapshot()
    work = args.keep or Path(tempfile.mkdtemp(prefix="openrerank-installs-"))
    try:
        for install in INSTALLS:
            if args.only and install.name not in args.only:
                continue
            started = time.monotonic()
            check_install(install, work / install.name, snapshot)
            print(f"install {install.name}: ok in {time.monotonic() - started:.0f} s", flush=True)
    except CheckFailed as exc:
        print(f"install matrix FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def reference_snapshot() -> Path:
    """The reference model's snapshot folder in ../shared/hf-cache."""
    snapshots = sorted((SHARED / "hf-cache" / REFERENCE_REPO / "snapshots").glob("*/"))
    if not snapshots:
        raise SystemExit(
            f"error: the reference model is missing under {SHARED / 'hf-cache'}; "
            "the install matrix needs ../shared beside the repository"
        )
    return snapshots[0]


def check_install(install: Install, path: Path, snapshot: Path) -> None:
    venv = create_venv(install, path)
    print(f"install {install.name}: pip install {' '.join(install.requirements)}", flush=True)
    check_help(venv, install)
    for command in install.without:
        check_missing_extra(venv, command, *EXTRA_COMMANDS[command])
    check_rank(venv, install, snapshot)
    if install.finetunes:
        check_finetune(venv, snapshot)
    if install.on_ray:
        check_batch_on_ray(venv, snapshot)
        check_serve(venv, ["--model", str(snapshot), "--ray", "local"], expect_first_line=None)
    if install.serves:
        check_serve(venv, ["--model", str(snapshot)], expect_first_line=None)
        empty_cache = path / "empty-hf-cache"
        empty_cache.mkdir(exist_ok=True)
        check_serve(
            venv,
            ["--fallback-model", str(snapshot)],
            env={"HF_HUB_CACHE": str(empty_cache)},
            expect_first_line=f"serving {snapshot} instead of the default model",
        )


def create_venv(install: Install, path: Path) -> Venv:
    if path.exists():
        shutil.rmtree(path)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    env = {
        "PATH": f"{path / 'bin'}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", str(path)),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(SHARED / "hf-cache"),
        "OPENRERANK_CACHE": str(path / "openrerank-cache"),
        "LANG": "C.UTF-8",
    }
    venv = Venv(path, env)
    pip = [str(venv.bin / "pip"), "install", "-q", "--disable-pip-version-check"]
    requirements = [str(ROOT) + r[1:] if r.startswith(".") else r for r in install.requirements]
    result = venv.run([*pip, *requirements], timeout=INSTALL_TIMEOUT_S)
    if result.returncode != 0:
        raise CheckFailed(f"{install.name}: pip install failed:\n{result.stderr[-3000:]}")
    return venv


def check_help(venv: Venv, install: Install) -> None:
    for flag in ("--help", "--version"):
        result = venv.openrerank(flag)
        expect(result.returncode == 0, f"{install.name}: openrerank {flag}", result)
    probe = f"import sys, openrerank; print([m for m in {HEAVY_MODULES!r} if m in sys.modules])"
    result = venv.run([str(venv.bin / "python"), "-c", probe])
    expect(result.stdout.strip() == "[]", f"{install.name}: import openrerank is light", result)


def check_missing_extra(venv: Venv, command: str, extra: str, args: list[str]) -> None:
    result = venv.openrerank(*args)
    lines = result.stderr.strip().splitlines()
    message = f"pip install 'openrerank[{extra}]'"
    expect(
        result.returncode == 2 and len(lines) == 1 and message in lines[0] and not result.stdout,
        f"openrerank {command} without [{extra}] says so in one line and exits 2",
        result,
    )


def check_rank(venv: Venv, install: Install, snapshot: Path) -> None:
    documents = "\n".join(json.dumps(text) for text in PASSWORD_DOCUMENTS)
    args = ["rank", "--model", str(snapshot), "-q", "how do I reset my password", "--format"]
    result = venv.openrerank(*args, "json", stdin=documents)
    if install.rank_extra is not None:
        lines = result.stderr.strip().splitlines()
        expect(
            result.returncode == 2
            and len(lines) == 1
            and f"pip install 'openrerank[{install.rank_extra}]'" in lines[0],
            f"openrerank rank without a runtime asks for [{install.rank_extra}] in one line",
            result,
        )
        return
    expect(result.returncode == 0, "openrerank rank prints a ranking", result)
    results = json.loads(result.stdout)["results"]
    expect(
        [r["index"] for r in results] == [1, 0] and results[0]["relevance_score"] > 0,
        "openrerank rank ranks the password document first",
        result,
    )


def check_finetune(venv: Venv, snapshot: Path) -> None:
    """Two training steps on the reference model from Cohere's JSONL, then rank with it."""
    rows = [
        {"query": "how do I reset my password", "relevant_passages": [PASSWORD_DOCUMENTS[1]]},
        {"query": "where did the cat sit", "relevant_passages": [PASSWORD_DOCUMENTS[0]]},
        {"query": "reset password settings", "relevant_passages": [PASSWORD_DOCUMENTS[1]]},
        {"query": "cat on the mat", "relevant_passages": [PASSWORD_DOCUMENTS[0]]},
    ]
    (venv.path / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    args = ["finetune", "--model", str(snapshot), "--data", "train.jsonl", "--out", "tuned"]
    small = ["--max-steps", "2", "--batch-size", "2", "--max-length", "64", "--dev", "0.25"]
    result = venv.openrerank(*args, *small)
    expect(result.returncode == 0, "openrerank finetune trains and compares", result)
    expect("paired sign-flip p" in result.stdout, "finetune prints the held-out table", result)
    documents = "\n".join(json.dumps(text) for text in PASSWORD_DOCUMENTS)
    ranked = venv.openrerank(
        "rank", "--model", "tuned", "-q", "reset my password", "--format", "json", stdin=documents
    )
    expect(ranked.returncode == 0, "openrerank rank takes the fine-tuned folder", ranked)
    print("  finetune: 2 steps trained, the output ranks", flush=True)


def check_batch_on_ray(venv: Venv, snapshot: Path) -> None:
    rows = [
        {"id": "a", "query": "how do I reset my password", "documents": PASSWORD_DOCUMENTS},
        {"id": "b", "query": "where did the cat sit", "documents": PASSWORD_DOCUMENTS},
    ]
    (venv.path / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    args = ["batch", "--model", str(snapshot), "--input", "rows.jsonl", "--output", "out.jsonl"]
    result = venv.openrerank(*args, "--ray", "local", "--quiet")
    expect(result.returncode == 0, "openrerank batch --ray local ranks a file", result)
    written = {
        row["id"]: [r["index"] for r in row["results"]]
        for row in map(json.loads, (venv.path / "out.jsonl").read_text().splitlines())
    }
    expect(written == {"a": [1, 0], "b": [0, 1]}, "batch --ray ranks each row", result)


def check_serve(
    venv: Venv,
    args: list[str],
    *,
    expect_first_line: str | None,
    env: dict[str, str] | None = None,
) -> None:
    port = free_port()
    log_path = venv.path / f"serve-{port}.log"
    command = [str(venv.bin / "openrerank"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, *args],
            env={**venv.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=venv.path,
        )
        try:
            answer = rerank_when_ready(process, port, log_path)
            if "--ray" not in args:
                check_playground(port)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    ranked = [r["index"] for r in answer["results"]]
    if ranked != [1, 0]:
        raise CheckFailed(f"serve {' '.join(args)}: unexpected ranking {answer}\n{log_text}")
    if expect_first_line is not None:
        first = log_text.splitlines()[0] if log_text else ""
        if expect_first_line not in first:
            raise CheckFailed(
                f"serve {' '.join(args)}: first log line should say {expect_first_line!r}, "
                f"it is {first!r}"
            )
    print(f"  serve {' '.join(args)}: POST /v2/rerank ranked {ranked}", flush=True)


def rerank_when_ready(
    process: subprocess.Popen[bytes], port: int, log_path: Path
) -> dict[str, Any]:
    """POST /v2/rerank once GET /ready answers 200 (Ray Serve's proxy listens, and
    answers 404, before the replicas are deployed)."""
    wait_ready(process, port, log_path)
    body = json.dumps(
        {
            "model": "rerank-v3.5",
            "query": "how do I reset my password",
            "documents": list(PASSWORD_DOCUMENTS),
        }
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v2/rerank",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        raise CheckFailed(f"POST /v2/rerank answered {exc.code}: {exc.read()!r}") from exc


def check_playground(port: int) -> None:
    """``GET /`` and the page's files answer 200: the wheel ships them."""
    for path, marker in (("/", 'data-testid="query"'), ("/playground/playground.js", "use strict")):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as page:
                text = page.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            raise CheckFailed(f"GET {path} (the playground) answered {exc.code}") from exc
        if marker not in text:
            raise CheckFailed(f"GET {path} (the playground) lacks {marker!r}")


def wait_ready(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CheckFailed(f"serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=30):
                return
        except OSError:  # not listening yet (models load first), or not ready (503, 404)
            time.sleep(0.5)
    raise CheckFailed(f"serve was not ready in {READY_TIMEOUT_S} s:\n{log_path.read_text()}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def expect(ok: bool, what: str, result: subprocess.CompletedProcess[str]) -> None:
    if not ok:
        raise CheckFailed(
            f"{what}: exit {result.returncode}\nstdout: {result.stdout[-2000:]}\n"
            f"stderr: {result.stderr[-2000:]}"
        )
    print(f"  ok: {what}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
