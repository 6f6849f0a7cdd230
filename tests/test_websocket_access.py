"""A WebSocket's operations are authorised as of now, and its messages are capped like
request bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from db.pool import SingleConnectionDatabase
from gongjian import tokens
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids
from tests import builders
from tests.conftest import TEST_SECRET
from tests.support import contract_operations


@asynccontextmanager
async def _socket(conn: asyncpg.Connection, settings: Settings, user_id: int) -> AsyncIterator[AsyncWebSocketSession]:
    app = create_app(settings, db=SingleConnectionDatabase(conn))
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app=app), base_url="http://test") as client:
        connecting: Any = aconnect_ws("http://test/graphql", client, subprotocols=["graphql-transport-ws"])
        async with connecting as ws:
            token = tokens.sign(TEST_SECRET, user_id, 3600)[0]
            await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
            assert await ws.receive_json(timeout=5) == {"type": "connection_ack"}
            yield ws


class Runner:
    def __init__(self, ws: AsyncWebSocketSession) -> None:
        self.ws = ws
        self.n = 0

    async def run(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        self.n += 1
        await self.ws.send_json(
            {"id": str(self.n), "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
        )
        message: dict[str, Any] = await self.ws.receive_json(timeout=5)
        assert message["id"] == str(self.n)
        if message["type"] == "error":
            return {"errors": message["payload"]}
        assert message["type"] == "next", message
        assert await self.ws.receive_json(timeout=5) == {"id": str(self.n), "type": "complete"}
        payload: dict[str, Any] = message["payload"]
        return payload


def _codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


async def test_losing_a_grant_or_the_account_ends_what_an_open_socket_may_do(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    w = await builders.world(conn)
    admin = w.users["admin"]
    audit = "query($action: String) { auditLog(filter: {action: $action}, first: 5) { totalCount } }"
    publish = contract_operations()["PublishNeed"]
    need = {"areaId": ids.encode("Community", w.community), "title": "帮扶", "category": "VOLUNTEERS", "quantity": 1}
    trail = {"action": "publishNeed"}
    async with _socket(conn, settings, admin) as ws:
        socket = Runner(ws)
        assert _codes(await socket.run(audit, trail)) == []
        published = await socket.run(publish, need)
        assert published["data"]["publishNeed"]["userErrors"] == []

        await conn.execute("DELETE FROM role_grants WHERE user_id = $1", admin)  # no longer COUNTY_ADMIN
        assert _codes(await socket.run(audit, trail)) == ["FORBIDDEN"]
        refused = await socket.run(publish, need)
        assert refused["data"]["publishNeed"]["need"] is None
        assert [e["code"] for e in refused["data"]["publishNeed"]["userErrors"]] == ["FORBIDDEN"]

        await conn.execute("UPDATE users SET disabled = true WHERE id = $1", admin)
        assert await socket.run("{ viewer { id } }") == {"data": {"viewer": None}}
        assert "UNAUTHENTICATED" in _codes(await socket.run(publish, need))
    assert await conn.fetchval("SELECT count(*) FROM needs WHERE title = '帮扶'") == 1


async def test_a_message_larger_than_the_body_cap_closes_the_socket(conn: asyncpg.Connection) -> None:
    settings = Settings(secret=TEST_SECRET, max_body_bytes=64 * 1024)
    w = await builders.world(conn)
    async with _socket(conn, settings, w.users["admin"]) as ws:
        socket = Runner(ws)
        small = await socket.run("query($s: String) { areas(filter: {search: $s}) { totalCount } }", {"s": "县"})
        assert _codes(small) == []
        await ws.send_json(
            {
                "id": "big",
                "type": "subscribe",
                "payload": {"query": "{ viewer { id } }", "variables": {"s": "县" * 30_000}},
            }
        )
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json(timeout=5)
        assert closed.value.code == 1009
