"""Prometheus at /metrics, and OpenTelemetry traces when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Metrics: the GraphQL layer's (gongjian/metrics.py) and, read at each scrape, the pool's
connections in use, idle and waited for. Figures are per process: with `--workers N`
each scrape reaches one worker (run one worker per container, or scrape each).

Traces: an OTLP/HTTP exporter configured by the standard OTEL_* variables (endpoint,
headers, OTEL_SERVICE_NAME), one span per operation with a child span per SQL statement.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from db import tracing
from db.pool import PoolDatabase
from gongjian import metrics


class PoolCollector(Collector):
    def __init__(self, db: Any) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not isinstance(self.db, PoolDatabase):
            return
        connections = GaugeMetricFamily(
            "gongjian_db_pool_connections",
            "Connections of the asyncpg pools (`statements`; `compiled_reads`, with generic plans), by state",
            labels=["pool", "state"],
        )
        for name, pool in (("statements", self.db.pool), ("compiled_reads", self.db.reads)):
            if pool is None:
                continue
            idle = pool.get_idle_size()
            connections.add_metric([name, "in_use"], pool.get_size() - idle)
            connections.add_metric([name, "idle"], idle)
            connections.add_metric([name, "max"], pool.get_max_size())
        yield connections
        yield GaugeMetricFamily(
            "gongjian_db_pool_waiting", "Callers waiting for a pool connection now", value=self.db.waiting
        )


async def metrics_endpoint(request: Request) -> Response:
    pool = CollectorRegistry()
    pool.register(PoolCollector(request.app.state.db))
    body = generate_latest(metrics.REGISTRY) + generate_latest(pool)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def tracer_provider(env: Mapping[str, str], processor: SpanProcessor | None = None) -> TracerProvider | None:
    """A provider exporting over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (or to
    `processor`, for tests); None when tracing is not asked for."""
    if processor is None:
        if not env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            return None
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter())
    name = env.get("OTEL_SERVICE_NAME") or "gongjian"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(processor)
    return provider


def start_tracing(provider: TracerProvider) -> None:
    """Install `provider` for the process and turn the spans on."""
    trace.set_tracer_provider(provider)
    tracing.enabled = True


def configure_from_environment() -> TracerProvider | None:
    provider = tracer_provider(os.environ)
    if provider is not None:
        start_tracing(provider)
    return provider
