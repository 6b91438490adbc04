"""run_server: load the models, serve them with uvicorn, and drain on SIGTERM.

Shutdown: the first SIGTERM or SIGINT starts a drain (new requests get 503, ``/ready``
fails, requests in flight go on); once none is left, or the grace period is over, the
server closes its connections, stops the models and the process exits 0. A second
signal stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import time
from types import FrameType

import uvicorn

from openrerank.config import ServerConfig
from openrerank.engine.catalog import ModelCatalog
from openrerank.errors import RerankError
from openrerank.server.app import create_app
from openrerank.server.context import RequestIdFilter
from openrerank.server.drain import Drain

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
CLOSE_CONNECTIONS_S = 1


def configure_logging(level: str) -> None:
    """Log lines with the request id of the request that wrote them (CLI use only)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def run_server(config: ServerConfig) -> bool:
    """Load every model, then bind ``config.host:config.port`` and serve until SIGINT/SIGTERM.

    Models load before the port opens, on the loop that will serve them, so a model
    that cannot load ends the process with a one-line error instead of a server that
    is up but never ready.

    Returns:
        False when the server never started (a model failed to load, the port was
        taken); the log says why.
    """
    catalog = ModelCatalog.from_configs(config.models, config.alias_table())
    app = create_app(catalog, config.http)
    uvicorn_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=CLOSE_CONNECTIONS_S,
    )
    server = DrainingServer(uvicorn_config, drain=app.state.drain, grace_s=config.shutdown_grace_s)
    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        return runner.run(_serve(server, catalog))


async def _serve(server: uvicorn.Server, catalog: ModelCatalog) -> bool:
    try:
        await catalog.start()
    except (RerankError, OSError) as exc:
        logger.error("cannot start: %s", exc)
        return False
    except Exception as exc:  # a loader failure we did not foresee: still one line
        logger.error("cannot start: unexpected %s: %s", type(exc).__name__, exc)
        return False
    try:
        await server.serve()
    finally:
        await catalog.stop()
    return server.started


class DrainingServer(uvicorn.Server):
    """A uvicorn server that drains on the first SIGTERM/SIGINT and exits 0.

    Args:
        config: the uvicorn settings.
        drain: the app's :class:`Drain` (``app.state.drain``).
        grace_s: the longest wait for requests in flight before closing anyway.
    """

    def __init__(self, config: uvicorn.Config, *, drain: Drain, grace_s: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.grace_s = grace_s
        self._deadline: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: start draining. Second: stop now. Never re-raised, so a
        drained shutdown exits 0 (uvicorn alone re-raises it: exit 143)."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self.grace_s
            logger.info(
                "received %s; draining for up to %g s", signal.Signals(sig).name, self.grace_s
            )
            self.drain.begin()
            return
        logger.warning("received %s again; stopping now", signal.Signals(sig).name)
        self.force_exit = self.should_exit
        self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        """Ends the drain when nothing is in flight or the grace period is over."""
        if self._deadline is not None and not self.should_exit:
            left = self._deadline - time.monotonic()
            if self.drain.in_flight == 0 or left <= 0:
                self._end_drain(left)
        return await super().on_tick(counter)

    def _end_drain(self, left: float) -> None:
        if self.drain.in_flight:
            logger.warning(
                "grace period over; cancelling %d request(s) in flight", self.drain.in_flight
            )
            self.drain.abort()
        self.config.timeout_graceful_shutdown = max(CLOSE_CONNECTIONS_S, math.floor(left))
        self.should_exit = True
