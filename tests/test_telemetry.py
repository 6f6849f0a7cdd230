"""Prometheus metrics at /metrics and OpenTelemetry traces (the SDK's in-memory exporter)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from db import tracing
from db.pool import PoolDatabase, create_pool
from gongjian import telemetry
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids
from tests.conftest import TEST_SECRET
from tests.probes import probe_api
from tests.support import Api, contract_operations
from tests.test_orders_events import _app, _mutate, _next, _ready, _socket, _subscribe, _world

__all__ = ["probe_api"]


async def _scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_operations_are_counted_by_name_path_and_outcome(probe_api: Api) -> None:
    client = probe_api.client
    before = await _scrape(client)
    await probe_api.op("Viewer")
    await probe_api.post("query Mine { __typename }")
    await probe_api.post("{ nope }")
    await probe_api.post("{ boom }")
    after = await _scrape(client)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    ok = {"type": "query", "path": "resolvers", "outcome": "ok"}
    assert grew("gongjian_operations_total", operation="Viewer", **ok) == 1
    # a name the contract does not register is `other`: clients cannot grow the series
    assert grew("gongjian_operations_total", operation="other", **ok) == 1
    assert grew("gongjian_operations_total", operation="anonymous", type="unknown", path="resolvers", outcome="ok") == 0
    refused = {"operation": "anonymous", "path": "resolvers", "outcome": "client_error"}
    assert grew("gongjian_operations_total", type="query", **refused) == 1
    failed = {"operation": "anonymous", "type": "query", "path": "resolvers", "outcome": "server_error"}
    assert grew("gongjian_operations_total", **failed) == 1
    timing = {"operation": "Viewer", "type": "query", "path": "resolvers"}
    assert grew("gongjian_operation_duration_seconds_count", **timing) == 1
    assert grew("gongjian_operation_sql_statements_count", operation="Viewer", type="query") == 1
    assert _value(after, "process_resident_memory_bytes") > 0


async def test_pool_connections_in_use_and_waiting(committed_db: dict[str, Any]) -> None:
    pool = await create_pool(committed_db["url"], min_size=1, max_size=1)
    db = PoolDatabase(pool)
    app = create_app(Settings(secret=TEST_SECRET), db=db)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            async with db.connection():  # the only connection is taken: the next caller waits
                # an unknown persisted query is looked up in PostgreSQL
                unknown = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}
                waiting = asyncio.create_task(client.post("/graphql", json=unknown))
                for _ in range(500):
                    if db.waiting:
                        break
                    await asyncio.sleep(0.01)
                busy = await _scrape(client)
                assert _value(busy, "gongjian_db_pool_connections", pool="statements", state="in_use") == 1
                assert _value(busy, "gongjian_db_pool_connections", pool="statements", state="max") == 1
                assert _value(busy, "gongjian_db_pool_waiting") == 1
            assert (await waiting).status_code == 200
            calm = await _scrape(client)
            assert _value(calm, "gongjian_db_pool_waiting") == 0
            assert _value(calm, "gongjian_db_pool_connections", pool="statements", state="in_use") == 0
    finally:
        await pool.close()


async def test_subscriptions_open_and_notifications_sent(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    w = await _world(committed_db)
    app = _app(committed_db)
    metrics_client = api.client
    before = await _scrape(metrics_client)
    async with _socket(app, api.token_for(w.users["staff"])) as ws:
        await _subscribe(ws, w.community)
        await _ready(app, w.community)
        during = await _scrape(metrics_client)
        assert _value(during, "gongjian_subscriptions_open") == _value(before, "gongjian_subscriptions_open") + 1
        variables = {"householdId": ids.encode("Household", w.household), "title": "灯坏了", "category": "REPAIR"}
        await _mutate(api, "PlaceOrder", variables, api.token_for(w.users["resident"]))
        assert (await _next(ws))["action"] == "PLACED"
        await ws.send_json({"id": "1", "type": "complete"})
        for _ in range(500):
            after = await _scrape(metrics_client)
            if _value(after, "gongjian_subscriptions_open") == _value(before, "gongjian_subscriptions_open"):
                break
            await asyncio.sleep(0.01)
    sent = ("gongjian_notifications_sent_total", {"kind": "order_event"})
    assert _value(after, sent[0], **sent[1]) == _value(before, sent[0], **sent[1]) + 1
    assert _value(after, "gongjian_subscriptions_open") == _value(before, "gongjian_subscriptions_open")
    assert contract_operations()["OrderEvents"]


async def test_metrics_off_by_configuration(probe_api: Api, committed_db: dict[str, Any]) -> None:
    app = create_app(Settings(secret=TEST_SECRET, metrics=False), db=committed_db["db"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/metrics")).status_code == 404


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = telemetry.tracer_provider({}, processor=SimpleSpanProcessor(exporter))
    assert provider is not None
    telemetry.start_tracing(provider)
    try:
        yield exporter
    finally:
        tracing.enabled = False
        provider.shutdown()


async def test_an_operation_span_with_its_sql_statements_as_children(
    probe_api: Api, spans: InMemorySpanExporter
) -> None:
    result = await probe_api.post("query Probing { probes(first: 2) { totalCount edges { node { n } } } }")
    assert "errors" not in result
    finished = spans.get_finished_spans()
    operation = [s for s in finished if s.name == "query Probing"]
    assert len(operation) == 1
    parent = operation[0]
    assert parent.attributes is not None and parent.attributes["graphql.operation.type"] == "query"
    children = [s for s in finished if s.parent is not None and s.parent.span_id == parent.context.span_id]
    assert children and all(s.name == "db SELECT" for s in children)
    assert any("generate_series" in str((s.attributes or {}).get("db.statement")) for s in children)
    assert parent.attributes["gongjian.sql_statements"] == len(children)


def test_tracing_only_when_an_endpoint_is_set() -> None:
    assert telemetry.tracer_provider({}) is None
    provider = telemetry.tracer_provider(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SERVICE_NAME": "gongjian-test"}
    )
    assert isinstance(provider, TracerProvider)
    try:
        assert provider.resource.attributes["service.name"] == "gongjian-test"
    finally:
        provider.shutdown()
