"""Prometheus metrics: HTTP requests and latency, plus the engine's counters per model.

Each app has its own registry, so several apps (tests, embedding) never collide.
Labels are bounded: route templates (paths no route matched share one label),
statuses and served model names; never request ids.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from openrerank.engine.catalog import ModelCatalog

OTHER_ROUTE = "other"
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ServerMetrics:
    """The metrics of one app.

    Args:
        catalog: read at scrape time for the engine counters and queue depth.
    """

    def __init__(self, catalog: ModelCatalog) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "openrerank_requests",
            "HTTP requests answered, by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "openrerank_request_duration_seconds",
            "Time from the request's arrival to the end of its answer, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(_EngineCollector(catalog))

    def observe(self, route: str | None, status: int, seconds: float) -> None:
        """Count one answered request and its latency.

        Args:
            route: the matched route's path template; ``None`` when no route matched.
            status: the status sent.
            seconds: time from arrival to the end of the answer.
        """
        route = route or OTHER_ROUTE
        self._requests.labels(route=route, status=str(status)).inc()
        self._latency.labels(route=route).observe(seconds)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class _EngineCollector(Collector):
    def __init__(self, catalog: ModelCatalog) -> None:
        self._catalog = catalog

    def collect(self) -> Iterable[Metric]:
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            "documents": CounterMetricFamily(
                "openrerank_documents_scored", "Documents scored.", labels=["model"]
            ),
            "pairs": CounterMetricFamily(
                "openrerank_pairs_scored",
                "Query-window pairs run through a model.",
                labels=["model"],
            ),
            "tokens": CounterMetricFamily(
                "openrerank_tokens_scored", "Tokens run through a model.", labels=["model"]
            ),
            "requests": CounterMetricFamily(
                "openrerank_engine_requests", "Rerank calls completed.", labels=["model"]
            ),
            "cache_hits": CounterMetricFamily(
                "openrerank_score_cache_hits",
                "Pairs answered from the score cache.",
                labels=["model"],
            ),
            "cache_misses": CounterMetricFamily(
                "openrerank_score_cache_misses",
                "Pairs looked up in the score cache and not found.",
                labels=["model"],
            ),
            "dropped_pairs": CounterMetricFamily(
                "openrerank_pairs_dropped",
                "Pairs dropped before they reached the model because their request was "
                "cancelled (the client disconnected) or had already failed.",
                labels=["model"],
            ),
            "failed_batches": CounterMetricFamily(
                "openrerank_batches_failed",
                "Model calls that failed (each fails the requests in its batch).",
                labels=["model"],
            ),
            "queued_pairs": GaugeMetricFamily(
                "openrerank_queue_pairs",
                "Pairs admitted and not yet scored (queue depth).",
                labels=["model"],
            ),
        }
        ready = GaugeMetricFamily(
            "openrerank_model_ready", "1 when the model serves.", labels=["model"]
        )
        for entry in self._catalog.entries:
            stats = entry.service.stats
            for key, family in families.items():
                family.add_metric([entry.name], getattr(stats, key))
            ready.add_metric([entry.name], 1.0 if entry.service.ready else 0.0)
        yield from families.values()
        yield ready
