"""Joining Ray: a private one-machine Ray (``local``) or an existing cluster (an address).

A private Ray runs without its dashboard and reports no usage statistics; it is stopped
when the command ends. Its logical CPUs are at least the ones the job asks for plus one
for reading, so a job whose actors ask for every core of a small machine still has room
to read its input. (Ray's own processes bind this machine's address, never loopback: Ray
replaces 127.0.0.1 with it. Serve's HTTP proxy binds ``--host``.)
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

LOCAL = "local"
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$")
QUIET_LOGGERS = ("ray", "ray.data", "ray.serve", "ray.data._internal.execution")


class ClusterError(RuntimeError):
    """A Ray job failed for a reason Ray reports (an actor that cannot start, say)."""


def cluster_error(exc: BaseException) -> ClusterError:
    """A one-line error: the last ``module.Error: message`` line of Ray's report that is
    not Ray's own (an actor's traceback ends with the error that killed it)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    causes = [
        match
        for line in lines
        if (match := _ERROR_LINE.match(line)) and not match.group(1).startswith("ray.")
    ]
    if causes:
        name, message = causes[-1].group(1).rsplit(".", 1)[-1], causes[-1].group(2)
        return ClusterError(f"the Ray job failed: {name}: {message}")
    first = lines[0] if lines else type(exc).__name__
    return ClusterError(f"the Ray job failed: {type(exc).__name__}: {first}")


def _quiet() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def cpus_per_worker(address: str, workers: int) -> float:
    """The CPUs an actor or replica reserves when not told: this machine's cores shared
    out on a private Ray, else 1."""
    if address == LOCAL:
        return max(1.0, (os.cpu_count() or 1) / workers)
    return 1.0


def local_cpus(requested: float) -> int:
    """The logical CPUs of a private Ray: this machine's, or what the job asks plus one."""
    return max(os.cpu_count() or 1, math.ceil(requested) + 1)


@contextmanager
def connected(address: str, *, cpus: float = 0.0, gpus: float = 0.0) -> Iterator[None]:
    """Ray, for the duration of the block.

    Args:
        address: ``local`` for a private Ray on this machine, else a cluster's address
            (``ray://host:10001``, ``host:6379`` or ``auto``).
        cpus: the CPUs the job asks for (sizes a private Ray).
        gpus: the GPUs it asks for (a private Ray gets the ones Ray detects here).

    Raises:
        ConnectionError: the cluster cannot be reached.
    """
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    _quiet()
    if ray.is_initialized():
        yield
        return
    try:
        if address == LOCAL:
            ray.init(
                address="local",
                num_cpus=local_cpus(cpus),
                include_dashboard=False,
                logging_level=logging.WARNING,
            )
        else:
            ray.init(address=address, logging_level=logging.WARNING)
    except Exception as exc:  # ray.init raises what it meets: OSError, RuntimeError, ...
        raise ConnectionError(f"cannot join Ray at {address!r}: {exc}") from None
    _quiet()  # Ray set its loggers' levels as it started
    logger.info("joined Ray at %s: %s", address, ray.cluster_resources())  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        ray.shutdown()
