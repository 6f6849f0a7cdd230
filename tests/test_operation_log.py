"""The operation log says only what happened: one line per operation, written when the
operation ends, with the codes the client received; INTERNAL_SERVER_ERROR only beside an
exception's traceback under the same request id."""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from db.pool import SingleConnectionDatabase
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids
from tests import builders
from tests.conftest import TEST_SECRET
from tests.probes import ProbeQuery
from tests.support import contract_operations

PROTOCOL = ["graphql-transport-ws"]


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        {"message": r.getMessage(), "traceback": r.exc_info is not None, **getattr(r, "fields", {})}
        for r in caplog.records
        if r.name.startswith("gongjian")
    ]


def _operation_lines(caplog: pytest.LogCaptureFixture, request_id: str) -> list[dict[str, Any]]:
    return [line for line in _lines(caplog) if line["message"] == "operation" and line["request_id"] == request_id]


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def _post(client: httpx.AsyncClient, request_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/graphql", json=body, headers={"x-request-id": request_id})
    result: dict[str, Any] = response.json()
    return result


def _assert_honest(caplog: pytest.LogCaptureFixture) -> None:
    """Every INTERNAL_SERVER_ERROR of an operation line has a traceback under its request id."""
    lines = _lines(caplog)
    for line in lines:
        if line["message"] == "operation" and "INTERNAL_SERVER_ERROR" in line["errors"]:
            tracebacks = [x for x in lines if x["traceback"] and x.get("request_id") == line["request_id"]]
            assert tracebacks, f"INTERNAL_SERVER_ERROR without a traceback: {line}"


async def test_each_http_operation_is_logged_once_when_it_ends_with_what_the_client_got(
    conn: asyncpg.Connection, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gongjian")
    cases: list[tuple[Settings, dict[str, Any]]] = [
        (settings, {"query": "{ __typename }"}),
        (settings, {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}),
        (settings, {"extensions": {"persistedQuery": {"version": 7}}}),
        (settings, {"query": "{ nope }"}),
        (settings, {"query": "{ boom }"}),
        (settings, {"query": "{ brokenSql }"}),
        (replace(settings, trusted_documents_only=True), {"query": "{ __typename }"}),
    ]
    for number, (chosen, body) in enumerate(cases):
        app = create_app(chosen, db=SingleConnectionDatabase(conn), extra_queries=[ProbeQuery])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            request_id = f"log-{number}"
            received = await _post(client, request_id, body)
            # written by the time the response is sent, not later at garbage collection
            lines = _operation_lines(caplog, request_id)
            assert len(lines) == 1, (body, lines)
            assert lines[0]["errors"] == _codes(received), (body, lines, received)
            assert lines[0]["duration_ms"] < 10_000
    gc.collect()
    late = [line for line in _lines(caplog) if line["message"] == "operation"]
    assert len(late) == len(cases), "an operation was logged again after it ended"
    _assert_honest(caplog)
    internal = [line for line in late if "INTERNAL_SERVER_ERROR" in line["errors"]]
    assert [line["request_id"] for line in internal] == ["log-4", "log-5"]


async def _socket_operation(ws: AsyncWebSocketSession, op_id: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages of one operation up to its `complete` (or its `error`)."""
    await ws.send_json({"id": op_id, "type": "subscribe", "payload": payload})
    messages = []
    while True:
        message: dict[str, Any] = await ws.receive_json(timeout=10)
        messages.append(message)
        if message["type"] in ("complete", "error"):
            return messages


async def test_websocket_operations_and_subscriptions_that_end_normally_are_not_errors(
    committed_db: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gongjian")
    pool: asyncpg.Pool = committed_db["pool"]
    async with pool.acquire() as raw:
        w = await builders.world(raw)  # type: ignore[arg-type]
    app = create_app(Settings(secret=TEST_SECRET, database_url=committed_db["url"]), db=committed_db["db"])
    token = committed_db["api"].token_for(w.users["staff"])
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app=app), base_url="http://test") as client:
        connecting: Any = aconnect_ws("http://test/graphql", client, subprotocols=PROTOCOL)
        async with connecting as ws:
            await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
            assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
            # a query, a refused one, and a subscription the client ends
            answered = await _socket_operation(ws, "q", {"query": "{ __typename }"})
            assert answered[0]["payload"] == {"data": {"__typename": "Query"}}
            refused = await _socket_operation(ws, "v", {"query": "subscription { nope }"})
            assert "GRAPHQL_VALIDATION_FAILED" in str(refused)
            variables = {"communityId": ids.encode("Community", w.community)}
            await ws.send_json(
                {
                    "id": "s",
                    "type": "subscribe",
                    "payload": {"query": contract_operations()["OrderEvents"], "variables": variables},
                }
            )
            for _ in range(500):
                hub = getattr(app.state, "order_events_hub", None)
                if hub is not None and w.community in hub._subscribers:
                    break
                await asyncio.sleep(0.01)
            await ws.send_json({"id": "s", "type": "complete"})
            for _ in range(500):
                if len([x for x in _lines(caplog) if x["message"] == "operation"]) >= 3:
                    break
                await asyncio.sleep(0.01)
    gc.collect()
    lines = [x for x in _lines(caplog) if x["message"] == "operation"]
    assert [(x["operation"], x["errors"]) for x in lines] == [
        (None, []),
        (None, ["GRAPHQL_VALIDATION_FAILED"]),
        ("OrderEvents", []),
    ], lines
    _assert_honest(caplog)
