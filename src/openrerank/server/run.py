"""run_server: serve a configuration with uvicorn until interrupted."""

from __future__ import annotations

import logging

import uvicorn

from openrerank.config import ServerConfig
from openrerank.server.app import build_app
from openrerank.server.context import RequestIdFilter

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
    """Load the models, bind ``config.host:config.port`` and serve until SIGINT/SIGTERM.

    Returns:
        False when the server never started (a model failed to load, the port was
        taken); the log says why.
    """
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(config),
            host=config.host,
            port=config.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
    )
    server.run()
    return server.started
