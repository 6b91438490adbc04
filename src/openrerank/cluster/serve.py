"""``openrerank serve --ray``: the same HTTP app as ``openrerank serve``, on Ray Serve replicas.

Each replica builds the app of :func:`openrerank.server.app.create_app` for its own copy
of the models (loaded once per replica, by the app's lifespan) and batches the requests
it takes, as one server does. Ray Serve's proxy listens on ``--host``/``--port`` and
spreads requests over the replicas; ``/health``, ``/ready`` and ``/metrics`` answer for
the replica that takes the request, and API keys and request limits apply in every
replica. Ray Serve probes each replica's readiness (:meth:`RerankReplica.check_health`)
and replaces one that fails or dies.

For ``serve run`` or a Ray Serve config file, :func:`application` is the deployment:

    # my_app.py
    from openrerank.cluster.serve import application
    from openrerank.config import EngineConfig, ModelConfig, ReplicaConfig, ServerConfig

    app = application(ServerConfig(
        models=(EngineConfig(ModelConfig("cross-encoder/ms-marco-MiniLM-L-6-v2")),),
        replicas=ReplicaConfig(replicas=2),
    ))

    $ serve run my_app:app
"""

from __future__ import annotations

import dataclasses
import logging
import math
import signal
import threading
from typing import TYPE_CHECKING, Any

from openrerank.cluster.runtime import LOCAL, cluster_error, connected, cpus_per_worker
from openrerank.config import ReplicaConfig, ServerConfig

if TYPE_CHECKING:
    from fastapi import FastAPI
    from ray.serve import Application
    from ray.serve.deployment import Deployment

logger = logging.getLogger(__name__)

APP_NAME = "openrerank"
HEALTH_CHECK_PERIOD_S = 5.0
HEALTH_CHECK_TIMEOUT_S = 30.0


class RerankReplica:
    """One replica: the HTTP app over its own model catalog.

    Args:
        config: the server's settings (models, aliases, keys, limits).
    """

    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._app: FastAPI | None = None

    def __serve_build_asgi_app__(self) -> FastAPI:
        """The replica's app, built on the replica (its lifespan loads the models)."""
        from openrerank.engine.catalog import ModelCatalog
        from openrerank.server.app import create_app

        catalog = ModelCatalog.from_configs(self._config.models, self._config.alias_table())
        self._app = create_app(catalog, self._config.http)
        return self._app

    async def check_health(self) -> None:
        """Ray Serve's probe: the replica is healthy when ``/ready`` would answer 200.

        Raises:
            RuntimeError: a model is not loaded, its worker died, or its batches fail.
        """
        if self._app is None or not await self._app.state.catalog.check():
            raise RuntimeError("not ready: a model is not loaded or its batches fail")


def replica_threads(config: ServerConfig, cpus: float) -> ServerConfig:
    """Each model's threads match the replica's CPUs, unless set."""
    threads = max(1, math.floor(cpus))
    models = tuple(
        engine
        if engine.model.threads is not None
        else dataclasses.replace(engine, model=dataclasses.replace(engine.model, threads=threads))
        for engine in config.models
    )
    return dataclasses.replace(config, models=models)


def replica_cpus(replicas: ReplicaConfig) -> float:
    """What each replica reserves: as set, or this machine's cores shared out locally."""
    if replicas.cpus_per_replica is not None:
        return replicas.cpus_per_replica
    return cpus_per_worker(replicas.ray or LOCAL, replicas.max_replicas or replicas.replicas)


def _scaling(replicas: ReplicaConfig) -> dict[str, Any]:
    if replicas.max_replicas is None:
        return {"num_replicas": replicas.replicas}
    floor = replicas.min_replicas if replicas.min_replicas is not None else 1
    return {
        "autoscaling_config": {
            "min_replicas": floor,
            "initial_replicas": replicas.replicas,
            "max_replicas": replicas.max_replicas,
            "target_ongoing_requests": replicas.target_ongoing_requests,
        }
    }


def application(config: ServerConfig) -> Application:
    """The Ray Serve application: one deployment of :class:`RerankReplica`."""
    from ray import serve

    replicas = config.replicas
    cpus = replica_cpus(replicas)
    actor_options: dict[str, Any] = {"num_cpus": cpus}
    if replicas.gpus_per_replica:
        actor_options["num_gpus"] = replicas.gpus_per_replica
    deployment: Deployment = serve.deployment(
        name=APP_NAME,
        ray_actor_options=actor_options,
        max_ongoing_requests=replicas.max_ongoing_requests,
        health_check_period_s=HEALTH_CHECK_PERIOD_S,
        health_check_timeout_s=HEALTH_CHECK_TIMEOUT_S,
        graceful_shutdown_timeout_s=config.shutdown_grace_s,
        # The app logs its own requests (with their ids); Serve's access log would repeat them.
        logging_config={"enable_access_log": False, "log_level": config.log_level.upper()},
        **_scaling(replicas),
    )(serve.ingress()(RerankReplica))
    bound: Application = deployment.bind(replica_threads(config, cpus))
    return bound


def run_on_ray_serve(config: ServerConfig) -> bool:
    """Start the replicas and Serve's proxy on ``config.host:config.port``; run until
    SIGINT/SIGTERM, then delete the application (and a private Ray).

    Returns:
        False when it never started (Ray cannot be joined, a replica cannot load its
        model); the log says why.
    """
    from ray import serve

    replicas = config.replicas
    address = replicas.ray or LOCAL
    most = replicas.max_replicas or replicas.replicas
    try:
        cpus, gpus = most * replica_cpus(replicas), most * replicas.gpus_per_replica
        with connected(address, cpus=cpus, gpus=gpus):
            stop = _stop_on_signal()  # after joining Ray, whose own handler would exit 15
            try:
                serve.start(http_options={"host": config.host, "port": config.port})
                serve.run(application(config), name=APP_NAME, route_prefix="/")
            except Exception as exc:  # Serve's failures are plain RuntimeErrors
                logger.error("cannot start: %s", cluster_error(exc))
                return False
            logger.info(
                "serving on http://%s:%d with %s replica(s) on Ray Serve",
                config.host,
                config.port,
                _replica_text(replicas),
            )
            stop.wait()
            logger.info("stopping the replicas")
            serve.delete(APP_NAME)
            if address == LOCAL:
                serve.shutdown()  # type: ignore[no-untyped-call]
    except ConnectionError as exc:
        logger.error("cannot start: %s", exc)
        return False
    return True


def _replica_text(replicas: ReplicaConfig) -> str:
    if replicas.max_replicas is None:
        return str(replicas.replicas)
    floor = replicas.min_replicas if replicas.min_replicas is not None else 1
    return f"{floor}..{replicas.max_replicas} (autoscaling)"


def _stop_on_signal() -> threading.Event:
    """An event set by the first SIGINT or SIGTERM."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        logger.info("received %s", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handle)
    return stop
