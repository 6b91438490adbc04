"""run_server: load the models, then serve them with uvicorn until interrupted."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from openrerank.catalog import ModelCatalog
from openrerank.config import ServerConfig
from openrerank.errors import RerankError
from openrerank.server.app import create_app
from openrerank.server.context import RequestIdFilter

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
GRACEFUL_SHUTDOWN_S = 30


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
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(catalog, config.http),
            host=config.host,
            port=config.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
    )
    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        return runner.run(_serve(server, catalog))


async def _serve(server: uvicorn.Server, catalog: ModelCatalog) -> bool:
    try:
        await catalog.start()
    except (RerankError, OSError) as exc:
        logger.error("cannot start: %s", exc)
        return False
    try:
        await server.serve()
    finally:
        await catalog.stop()
    return server.started
