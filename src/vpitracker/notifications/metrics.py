"""Notification metrics, shown by ``/metrics`` of the process whose worker records them.

A worker without the API in its process serves them on ``VPI_WORKER_METRICS_PORT``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine

from vpitracker.db import open_session
from vpitracker.notifications import repository

ATTEMPTS = Counter(
    "vpitracker_webhook_attempts_total",
    "Webhook delivery attempts by outcome (delivered, http_error, network_error, gone, refused)",
    ["outcome"],
    registry=None,
)
LATENCY = Histogram(
    "vpitracker_webhook_attempt_duration_seconds",
    "Time from sending a webhook to its answer (or the timeout)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
    registry=None,
)
MAIL = Counter(
    "vpitracker_mail_attempts_total", "SMTP attempts by outcome", ["outcome"], registry=None
)


class OutboxDepth(Collector):
    """Read at scrape time from the database, so every process reports the same depth."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "vpitracker_outbox_depth",
            "Events not yet fanned out (stage=events), deliveries not yet made (stage=deliveries)",
            labels=["stage"],
        )
        try:
            with open_session(self.engine, write=False) as session:
                events, deliveries = repository.outbox_depth(session)
        except Exception:
            return
        gauge.add_metric(["events"], events)
        gauge.add_metric(["deliveries"], deliveries)
        yield gauge


def install(registry: CollectorRegistry, engine: Engine) -> None:
    for collector in (ATTEMPTS, LATENCY, MAIL):
        registry.register(collector)
    registry.register(OutboxDepth(engine))


def serve_alone(engine: Engine, host: str, port: int) -> None:
    """Serve these metrics (Prometheus text) on ``host:port`` from a daemon thread.

    For a process that runs the worker without the API's ``/metrics`` beside it.
    """
    registry = CollectorRegistry()
    install(registry, engine)
    start_http_server(port, addr=host, registry=registry)
