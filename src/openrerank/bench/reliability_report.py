"""The reports of `openrerank.bench.reliability`: phases, claims, markdown and JSON.

Kept apart from the run (which starts the server and drives the load) so that each
stays small; nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shlex
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from openrerank.bench.load import LoadResult
from openrerank.bench.reliability_config import ReliabilityConfig


@dataclass
class Phase:
    """One bounded run of the generator and what it found."""

    name: str
    shape: str
    result: LoadResult
    started: float
    ended: float
    alive_after: bool
    rss_mb: dict[str, float | None] = field(default_factory=dict)

    def record(self) -> dict[str, object]:
        """The phase as JSON."""
        return {
            "name": self.name,
            "load": self.shape,
            "alive_after": self.alive_after,
            "rss_mb": self.rss_mb,
            **self.result.summary(),
        }


@dataclass(frozen=True)
class Check:
    """One claim: whether it held, what was measured, and whether it decides the exit."""

    claim: str
    passed: bool
    detail: str
    decides: bool = True


def check_phases(phases: list[Phase]) -> list[Check]:
    """The claims every mode shares, and those of the phases within capacity."""
    checks = []
    for phase in phases:
        result = phase.result
        if phase.name in ("load", "recovery", "soak"):
            checks.append(
                Check(
                    f"{phase.name}: every answer 200", result.failures == 0, _failure_detail(result)
                )
            )
        checks.append(
            Check(
                f"{phase.name}: no 5xx",
                result.server_errors == 0,
                f"{result.server_errors} answers 5xx",
            )
        )
        checks.append(
            Check(
                f"{phase.name}: every 429 has Retry-After",
                result.missing_retry_after == 0,
                f"{result.missing_retry_after} without",
            )
        )
        checks.append(
            Check(
                f"{phase.name}: server alive afterwards",
                phase.alive_after,
                "process running, /health 200" if phase.alive_after else "dead",
            )
        )
    return checks


def check_overload(phases: dict[str, Phase], args: ReliabilityConfig) -> list[Check]:
    """Overload: 429s (when required), nothing but 200/429, latency and memory reported."""
    over = phases["overload"].result
    busy = over.status_counts.get(httpx.codes.TOO_MANY_REQUESTS, 0)
    others = over.requests - over.ok - busy
    p99 = over.summary()["latency_429_ms"]
    assert isinstance(p99, dict)
    load_end = phases["load"].rss_mb["end"]
    over_peak = phases["overload"].rss_mb["peak"]
    ratio = over_peak / load_end if over_peak and load_end else None
    recovery_ratio = _p50_ratio(phases["recovery"].result, phases["load"].result)
    return [
        Check(
            "overload: beyond capacity the server answers 429",
            busy > 0,
            f"{busy} of {over.requests} answers 429",
            decides=args.require_429,
        ),
        Check(
            "overload: every answer 200 or 429",
            others == 0,
            f"{others} other ({over.status_counts}, errors {over.error_counts})",
        ),
        Check(
            "overload: 429 latency (p50 / p99 ms)",
            True,
            f"{p99['p50']} / {p99['p99']}",
            decides=False,
        ),
        Check(
            "overload: RSS peak / RSS at the end of load",
            True,
            f"{over_peak} / {load_end} MiB = {_fmt(ratio, '.3f')}",
            decides=False,
        ),
        Check("recovery: p50 / load p50", True, _fmt(recovery_ratio, ".3f"), decides=False),
    ]


def check_soak(extra: dict[str, object], args: ReliabilityConfig) -> list[Check]:
    """Soak: RSS growth below the bound."""
    growth = extra["rss_growth"]
    passed = isinstance(growth, float) and growth < args.max_rss_growth
    detail = (
        f"{extra['rss_baseline_median_mb']} -> {extra['rss_final_median_mb']} MiB "
        f"({_fmt(growth, '+.2%')}, bound {args.max_rss_growth:.0%})"
    )
    return [Check("soak: RSS growth below the bound", passed, detail)]


def check_all(
    phases: list[Phase], findings: dict[str, object], args: ReliabilityConfig
) -> list[Check]:
    """Every claim of the mode ``args.mode``."""
    checks = check_phases(phases)
    if args.mode == "load":
        checks += check_overload({phase.name: phase for phase in phases}, args)
    else:
        checks += check_soak(findings, args)
    return checks


@dataclass(frozen=True)
class Run:
    """What one run measured, for the reports."""

    args: ReliabilityConfig
    server_flags: list[str]
    warnings: list[str]
    payloads: int
    phases: list[Phase]
    findings: dict[str, object]
    rss_samples: list[tuple[float, float]]
    server_exit_code: int | None

    @property
    def setup(self) -> str:
        """One sentence: the server command, the requests and the machine."""
        return (
            f"Server: `openrerank serve {shlex.join(self.server_flags)}` on 127.0.0.1; "
            f"{self.payloads} distinct request bodies; {platform.machine()}, "
            f"{os.cpu_count()} cores (shared with the load generator)."
        )


def report_json(run: Run, checks: list[Check]) -> dict[str, object]:
    """The JSON report: arguments, phases, findings, RSS samples and claims."""
    samples = run.rss_samples
    origin = run.phases[0].started if run.phases else 0.0
    arguments = {
        k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(run.args).items()
    }
    arguments["rss_interval"] = run.args.rss_interval_s
    return {
        "mode": run.args.mode,
        "setup": run.setup,
        "arguments": arguments,
        "server_flags": run.server_flags,
        "warnings": run.warnings,
        "server_exit_code_after_sigterm": run.server_exit_code,
        "findings": run.findings,
        "phases": [phase.record() for phase in run.phases],
        "rss_peak_mb": _round(max(mb for _, mb in samples)) if samples else None,
        "rss_samples": [[round(t - origin, 2), _round(mb)] for t, mb in samples],
        "checks": [vars(check) for check in checks],
        "passed": all(check.passed for check in checks if check.decides),
    }


COLUMNS = (
    "phase",
    "load",
    "s",
    "requests",
    "ok",
    "429",
    "5xx",
    "other fail",
    "skipped",
    "req/s",
    "ok/s",
    "docs/s",
    "200 p50 ms",
    "200 p95 ms",
    "200 p99 ms",
    "429 p50 ms",
    "429 p99 ms",
    "RSS start/peak/end MiB",
)


def markdown(run: Run, checks: list[Check]) -> str:
    """The report as markdown: a row per phase, the findings, then the claims."""
    findings = run.findings
    lines = [
        f"# Reliability: `{run.args.mode}` mode",
        "",
        run.setup,
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += [_row(phase) for phase in run.phases]
    lines.append("")
    for key, value in findings.items():
        if key != "per_minute":
            lines.append(f"- {key}: {value}")
    minutes = findings.get("per_minute")
    if isinstance(minutes, list):
        lines += [
            "",
            "| minute | requests | failures | 200 p50 ms | 200 p99 ms | RSS median MiB |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {row['minute']} | {row['requests']} | {row['failures']} | {row['p50_ms']} "
            f"| {row['p99_ms']} | {row['rss_median_mb']} |"
            for row in minutes
        ]
    lines += ["", "## Claims", ""]
    for check in checks:
        verdict = ("PASS" if check.passed else "FAIL") if check.decides else "info"
        lines.append(f"- **{verdict}** {check.claim}: {check.detail}")
    return "\n".join(lines) + "\n"


def _row(phase: Phase) -> str:
    r = phase.result
    s = r.summary()
    ok_ms, busy_ms = s["latency_ok_ms"], s["latency_429_ms"]
    assert isinstance(ok_ms, dict) and isinstance(busy_ms, dict)
    busy = r.status_counts.get(httpx.codes.TOO_MANY_REQUESTS, 0)
    other = r.failures - busy - r.server_errors
    rss = phase.rss_mb
    cells = [
        phase.name,
        phase.shape,
        f"{r.duration_s:.1f}",
        r.requests,
        r.ok,
        busy,
        r.server_errors,
        other,
        r.skipped,
        s["requests_per_s"],
        s["ok_per_s"],
        s["documents_per_s"],
        ok_ms["p50"],
        ok_ms["p95"],
        ok_ms["p99"],
        busy_ms["p50"],
        busy_ms["p99"],
        f"{rss['start']} / {rss['peak']} / {rss['end']}",
    ]
    return "| " + " | ".join("-" if c is None else str(c) for c in cells) + " |"


def _round(value: float) -> float:
    return round(value, 1)


def _fmt(value: object, spec: str) -> str:
    return "-" if not isinstance(value, int | float) else format(value, spec)


def _p50_ratio(result: LoadResult, reference: LoadResult) -> float | None:
    mine, theirs = result.latencies_s(200), reference.latencies_s(200)
    if not mine or not theirs:
        return None
    return statistics.median(mine) / statistics.median(theirs)


def _failure_detail(result: LoadResult) -> str:
    return (
        f"{result.failures} of {result.requests} failed (statuses {result.status_counts}, "
        f"errors {result.error_counts})"
    )
