"""Load, overload, recovery and soak of a real ``openrerank serve`` on 127.0.0.1.

Starts the server as a child process on a free loopback port (reference model, offline
Hugging Face cache in ``<shared>/hf-cache``), drives it with the bounded load generator
of :mod:`openrerank.eval.load`, samples the server's resident memory (RSS, the child and
its descendants) in a background thread, and always stops it (SIGTERM, then SIGKILL).
Requests are real SciFact test claims with their BM25 top-20 abstracts
(``model: "rerank-v3.5"``), or the JSON bodies of ``--payloads``.

``--mode load`` runs four phases, each bounded in time:

1. warm-up: ``--clients`` closed-loop clients for ``--warmup`` s (not judged, except 5xx);
2. load: ``--clients`` closed-loop clients for ``--load-duration`` s; its rate of 200
   answers is the server's measured capacity;
3. overload: an open loop at ``--overload-factor`` x capacity for ``--overload-duration``
   s, at most ``--max-outstanding`` requests in flight;
4. recovery: ``--clients`` closed-loop clients for ``--recovery-duration`` s.

``--mode soak`` runs ``--soak-clients`` closed-loop clients for ``--soak-duration`` s and
compares the median RSS of the last ``--soak-window`` s with that of the first window
after ``--soak-warmup`` s.

Writes ``<out>/reliability-<mode>.json`` and ``.md`` (the table is also printed) and exits
1 when a claim fails, naming it: a failure while within capacity (load, recovery, soak), a
5xx anywhere, a dead server, a 429 without ``Retry-After``, no 429 at all under overload
(unless ``--no-require-429``), an answer other than 200/429 under overload, or RSS growth
of ``--max-rss-growth`` or more in a soak.

Usage::

    .venv/bin/python bench/reliability.py [--mode load|soak] [--model NAME]
        [--clients 64] [--load-duration 60] [--overload-duration 30] ...
        [--max-queue-wait 2] [--server-arg=--max-batch-tokens=2048] [--out bench/results]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import psutil

from openrerank.bench.process import child_server, free_port, openrerank_command
from openrerank.eval.datasets import load_beir
from openrerank.eval.load import LoadResult, Payload, closed_loop, open_loop
from reliability_report import Phase, Run, check_all, markdown, report_json

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_MODEL = "openrerank/minilm-l6-scifact-ce"
MODEL_ALIAS = "rerank-v3.5"
MB = 1024 * 1024
HEALTH_TIMEOUT_S = 10.0


# --- arguments ---------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--mode", choices=("load", "soak"), default="load")
    add("--model", default=REFERENCE_MODEL, help="served model: hub id or local folder")
    add("--shared", type=Path, default=REPO_ROOT.parent / "shared", help="hf-cache and data")
    add("--payloads", type=Path, help="JSON list of /v2/rerank bodies instead of SciFact")
    add("--queries", type=int, default=300, help="SciFact queries to cycle through")
    add("--documents", type=int, default=20, help="BM25 candidates per request")
    add("--clients", type=int, default=64, help="closed-loop clients (load mode)")
    add("--warmup", type=float, default=5.0, help="warm-up seconds (load mode)")
    add("--load-duration", type=float, default=60.0)
    add("--overload-duration", type=float, default=30.0)
    add("--overload-factor", type=float, default=4.0, help="x the load phase's 200s per s")
    add("--max-outstanding", type=int, default=2000, help="open-loop requests in flight")
    add("--recovery-duration", type=float, default=20.0)
    add("--soak-clients", type=int, default=16)
    add("--soak-duration", type=float, default=600.0)
    add("--soak-warmup", type=float, default=60.0, help="soak seconds before the baseline")
    add("--soak-window", type=float, default=60.0, help="seconds of each RSS median window")
    add("--max-rss-growth", type=float, default=0.05, help="soak claim: growth below this")
    add("--rss-interval", type=float, help="RSS sampling period (default 0.5 s load, 1 s soak)")
    add("--max-queue-wait", type=float, default=2.0, help="passed to serve when it has it")
    add("--server-arg", action="append", default=[], help="extra serve flags (shell-split)")
    add("--request-timeout", type=float, default=120.0, help="seconds per request")
    add("--drain", type=float, default=60.0, help="seconds for in-flight requests at a deadline")
    add(
        "--require-429",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fail when the overload phase sees no 429",
    )
    add(
        "--honor-retry-after",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="closed-loop clients wait out a 429's Retry-After (open loops never do)",
    )
    add("--ready-timeout", type=float, default=600.0)
    add("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.rss_interval is None:
        args.rss_interval = 0.5 if args.mode == "load" else 1.0
    return args


# --- payloads and the server ----------------------------------------------------------


def load_payloads(args: argparse.Namespace) -> list[Payload]:
    """The request bodies: ``--payloads``, or SciFact claims with their BM25 top-k."""
    if args.payloads is not None:
        payloads: list[Payload] = json.loads(args.payloads.read_text(encoding="utf-8"))
        if not payloads:
            raise SystemExit(f"{args.payloads}: no payloads")
        return payloads
    dataset = load_beir(args.shared / "data" / "beir-scifact")
    bodies: list[Payload] = []
    for query_id, text in dataset.queries.items():
        candidates = dataset.candidate_texts(query_id)
        if len(candidates) >= args.documents:
            bodies.append(
                {"model": MODEL_ALIAS, "query": text, "documents": candidates[: args.documents]}
            )
        if len(bodies) == args.queries:
            break
    if not bodies:
        raise SystemExit(f"no SciFact query has {args.documents} candidates")
    return bodies


def server_environment(shared: Path) -> dict[str, str]:
    """This environment, offline, with no stray ``OPENRERANK_*`` setting but the cache."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OPENRERANK_") or key == "OPENRERANK_CACHE"
    }
    env.update(
        HF_HUB_CACHE=str(shared / "hf-cache"), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false"
    )
    return env


def serve_flags(args: argparse.Namespace, env: dict[str, str]) -> tuple[list[str], list[str]]:
    """The flags after ``serve --host --port``, and warnings about them."""
    extra = [token for value in args.server_arg for token in shlex.split(value)]
    flags = ["--model", args.model, *extra]
    warnings: list[str] = []
    if any(token.split("=")[0] == "--max-queue-wait" for token in extra):
        return flags, warnings
    if serve_has_flag("--max-queue-wait", env):
        flags += ["--max-queue-wait", f"{args.max_queue_wait:g}"]
    else:
        warnings.append(
            "`openrerank serve --help` does not list --max-queue-wait; the server "
            "runs without it (only --max-queued-pairs bounds admission)"
        )
    return flags, warnings


def serve_has_flag(flag: str, env: dict[str, str]) -> bool:
    """Whether ``openrerank serve --help`` lists ``flag`` (wide, uncoloured output)."""
    wide = {**env, "COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"}
    shown = subprocess.run(
        openrerank_command(["serve", "--help"]),
        env=wide,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return flag in shown.stdout


# --- memory ---------------------------------------------------------------------------


class RssSampler:
    """Samples the RSS of a process and its descendants every ``interval_s`` (a thread)."""

    def __init__(self, pid: int, interval_s: float) -> None:
        self._process = psutil.Process(pid)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.samples: list[tuple[float, float]] = []
        """(time.perf_counter(), MiB) pairs."""

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                processes = [self._process, *self._process.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in processes)
            except psutil.Error:
                return  # the server is gone; the liveness checks report it
            self.samples.append((time.perf_counter(), rss / MB))
            self._stop.wait(self._interval_s)

    def between(self, start: float, end: float) -> list[float]:
        """The MiB sampled in ``[start, end]``."""
        return [mb for t, mb in self.samples if start <= t <= end]


# --- phases ---------------------------------------------------------------------------


class Driver:
    """Runs phases against one server: the client, the server process and the sampler."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        payloads: list[Payload],
        process: subprocess.Popen[bytes],
        sampler: RssSampler,
        args: argparse.Namespace,
    ) -> None:
        self.client, self.payloads, self.process = client, payloads, process
        self.sampler, self.drain_s, self.polite = sampler, args.drain, args.honor_retry_after
        self.phases: list[Phase] = []

    async def closed(self, name: str, *, clients: int, duration_s: float) -> Phase:
        """A closed-loop phase."""
        started = time.perf_counter()
        result = await closed_loop(
            self.client,
            self.payloads,
            clients=clients,
            duration_s=duration_s,
            drain_s=self.drain_s,
            honor_retry_after=self.polite,
        )
        return await self._done(name, f"{clients} clients, closed loop", result, started)

    async def open(self, name: str, *, rate_per_s: float, duration_s: float, cap: int) -> Phase:
        """An open-loop phase."""
        started = time.perf_counter()
        result = await open_loop(
            self.client,
            self.payloads,
            rate_per_s=rate_per_s,
            duration_s=duration_s,
            max_outstanding=cap,
            drain_s=self.drain_s,
        )
        shape = f"open loop {rate_per_s:.2f} req/s, <= {cap} outstanding"
        return await self._done(name, shape, result, started)

    async def alive(self) -> bool:
        """The server process runs and answers ``GET /health`` with 200."""
        if self.process.poll() is not None:
            return False
        try:
            response = await self.client.get("/health", timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError:
            return False
        return response.status_code == httpx.codes.OK

    async def _done(self, name: str, shape: str, result: LoadResult, started: float) -> Phase:
        ended = time.perf_counter()
        samples = self.sampler.between(started, ended)
        rss: dict[str, float | None] = {
            "start": round(samples[0], 1) if samples else None,
            "peak": round(max(samples), 1) if samples else None,
            "end": round(samples[-1], 1) if samples else None,
        }
        phase = Phase(name, shape, result, started, ended, await self.alive(), rss)
        self.phases.append(phase)
        print(f"  {name}: {_one_line(result)}", flush=True)
        return phase


async def run_load_mode(driver: Driver, args: argparse.Namespace) -> dict[str, object]:
    """Warm-up, load, overload at a multiple of the measured capacity, recovery."""
    if args.warmup > 0:
        await driver.closed("warm-up", clients=args.clients, duration_s=args.warmup)
    load = await driver.closed("load", clients=args.clients, duration_s=args.load_duration)
    capacity = load.result.ok / load.result.duration_s if load.result.duration_s else 0.0
    rate = args.overload_factor * max(capacity, 1.0 / max(args.overload_duration, 1.0))
    await driver.open(
        "overload", rate_per_s=rate, duration_s=args.overload_duration, cap=args.max_outstanding
    )
    await driver.closed("recovery", clients=args.clients, duration_s=args.recovery_duration)
    return {"capacity_ok_per_s": round(capacity, 3), "overload_rate_per_s": round(rate, 3)}


async def run_soak_mode(driver: Driver, args: argparse.Namespace) -> dict[str, object]:
    """Steady closed-loop load; RSS growth between the first and the last window."""
    soak = await driver.closed("soak", clients=args.soak_clients, duration_s=args.soak_duration)
    base_from = soak.started + args.soak_warmup
    final_to = soak.started + args.soak_duration
    baseline = driver.sampler.between(base_from, base_from + args.soak_window)
    final = driver.sampler.between(final_to - args.soak_window, final_to)
    growth = None
    if baseline and final:
        growth = (statistics.median(final) - statistics.median(baseline)) / statistics.median(
            baseline
        )
    return {
        "rss_baseline_median_mb": _median_mb(baseline),
        "rss_final_median_mb": _median_mb(final),
        "rss_growth": None if growth is None else round(growth, 5),
        "per_minute": per_minute(soak, driver.sampler, bucket_s=60.0),
    }


def per_minute(phase: Phase, sampler: RssSampler, *, bucket_s: float) -> list[dict[str, object]]:
    """Requests, failures, p50/p99 of the 200s and median RSS per ``bucket_s`` of a phase."""
    rows: list[dict[str, object]] = []
    start = 0.0
    while start < phase.result.duration_s:
        end = start + bucket_s
        window = phase.result.between(start, end)
        summary = window.summary()
        latency = summary["latency_ok_ms"]
        assert isinstance(latency, dict)
        rss = sampler.between(phase.started + start, phase.started + end)
        rows.append(
            {
                "minute": int(start // bucket_s) + 1,
                "requests": window.requests,
                "failures": window.failures,
                "p50_ms": latency["p50"],
                "p99_ms": latency["p99"],
                "rss_median_mb": _median_mb(rss),
            }
        )
        start = end
    return [row for row in rows if row["requests"]]


# --- main -----------------------------------------------------------------------------


async def drive(
    args: argparse.Namespace, url: str, payloads: list[Payload], process: subprocess.Popen[bytes]
) -> tuple[Driver, dict[str, object]]:
    """Run the mode's phases against the ready server at ``url``."""
    connections = max(args.clients, args.soak_clients, args.max_outstanding) + 8
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    timeout = httpx.Timeout(args.request_timeout, pool=args.request_timeout)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        with RssSampler(process.pid, args.rss_interval) as sampler:
            driver = Driver(client, payloads, process, sampler, args)
            run = run_load_mode if args.mode == "load" else run_soak_mode
            findings = await run(driver, args)
    return driver, findings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every claim holds, 1 otherwise."""
    args = parse_args(argv)
    payloads = load_payloads(args)
    env = server_environment(args.shared)
    flags, warnings = serve_flags(args, env)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = openrerank_command(["serve", "--host", "127.0.0.1", "--port", str(port), *flags])
    log = args.out / "logs" / f"reliability-{args.mode}-server.log"
    print(f"starting: openrerank serve {shlex.join(flags)} (log: {log})", flush=True)
    load_before = _load_average()
    try:
        with child_server(
            command, ready_url=f"{url}/ready", log=log, env=env, ready_timeout_s=args.ready_timeout
        ) as process:
            driver, findings = asyncio.run(drive(args, url, payloads, process))
    except RuntimeError as exc:  # the server never got ready; the message has its log
        print(f"FAILED: the server did not start: {exc}", file=sys.stderr)
        return 1
    findings["load_average_1_5_15_min"] = {"before": load_before, "after": _load_average()}
    run = Run(args, flags, warnings, len(payloads), driver.phases, findings,
              driver.sampler.samples, process.returncode)  # fmt: skip
    checks = check_all(run.phases, findings, args)
    text = markdown(run, checks)
    args.out.mkdir(parents=True, exist_ok=True)
    report = json.dumps(report_json(run, checks), indent=2)
    (args.out / f"reliability-{args.mode}.json").write_text(report + "\n")
    (args.out / f"reliability-{args.mode}.md").write_text(text)
    print(text)
    failed = [check for check in checks if check.decides and not check.passed]
    for check in failed:
        print(f"FAILED: {check.claim}: {check.detail}", file=sys.stderr)
    return 1 if failed else 0


# --- small helpers -------------------------------------------------------------------


def _median_mb(samples: list[float]) -> float | None:
    return round(statistics.median(samples), 1) if samples else None


def _load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _one_line(result: LoadResult) -> str:
    s = result.summary()
    return (
        f"{result.requests} requests, statuses {result.status_counts}, errors "
        f"{result.error_counts}, {s['ok_per_s']} ok/s, {s['documents_per_s']} docs/s, "
        f"200 latency {s['latency_ok_ms']}, 429 latency {s['latency_429_ms']}"
    )


if __name__ == "__main__":
    sys.exit(main())
