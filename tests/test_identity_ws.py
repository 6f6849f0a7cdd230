"""WebSocket (graphql-transport-ws) authentication at `connection_init`, and allowed origins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, WebSocketUpgradeError, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from db.pool import SingleConnectionDatabase
from gongjian import tokens
from gongjian.app import create_app
from gongjian.config import Settings
from tests.builders import world
from tests.conftest import TEST_SECRET

PROTOCOL = "graphql-transport-ws"


@asynccontextmanager
async def _socket(
    conn: asyncpg.Connection, settings: Settings, headers: dict[str, str] | None = None
) -> AsyncIterator[AsyncWebSocketSession]:
    app = create_app(settings, db=SingleConnectionDatabase(conn))
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app=app), base_url="http://test") as client:
        connecting: Any = aconnect_ws("http://test/graphql", client, subprotocols=[PROTOCOL], headers=headers or {})
        async with connecting as ws:
            session: AsyncWebSocketSession = ws
            yield session


async def _init(ws: AsyncWebSocketSession, payload: dict[str, Any]) -> dict[str, Any]:
    await ws.send_json({"type": "connection_init", "payload": payload})
    message: dict[str, Any] = await ws.receive_json(timeout=5)
    return message


@pytest.mark.parametrize("key", ["Authorization", "authorization", "token"])
async def test_a_valid_token_is_acknowledged_and_the_viewer_stays_on_the_connection(
    conn: asyncpg.Connection, settings: Settings, key: str
) -> None:
    w = await world(conn)
    token = tokens.sign(TEST_SECRET, w.users["staff"], 3600)[0]
    value = token if key == "token" else f"Bearer {token}"
    async with _socket(conn, settings) as ws:
        assert await _init(ws, {key: value}) == {"type": "connection_ack"}
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { roles { role } } }"}})
        message = await ws.receive_json(timeout=5)
        assert message == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"viewer": {"roles": [{"role": "COMMUNITY_STAFF"}]}}},
        }


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"Authorization": "Bearer v1.forged.token"},
        {"Authorization": "Basic abc"},
        {"token": tokens.sign("some-other-secret-" + "q" * 40, 1, 3600)[0]},
        {"Authorization": 42},
    ],
    ids=["missing", "forged", "not bearer", "other secret", "not a string"],
)
async def test_a_bad_or_missing_token_closes_with_4403(
    conn: asyncpg.Connection, settings: Settings, payload: dict[str, Any]
) -> None:
    async with _socket(conn, settings) as ws:
        await ws.send_json({"type": "connection_init", "payload": payload})
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json(timeout=5)
        assert closed.value.code == 4403


async def test_an_expired_token_closes_with_4403(conn: asyncpg.Connection, settings: Settings) -> None:
    w = await world(conn)
    expired = tokens.sign(TEST_SECRET, w.users["admin"], -5)[0]
    async with _socket(conn, settings) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {expired}"}})
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json(timeout=5)
        assert closed.value.code == 4403


async def test_origins_come_from_configuration(conn: asyncpg.Connection, settings: Settings) -> None:
    w = await world(conn)
    token = tokens.sign(TEST_SECRET, w.users["admin"], 3600)[0]
    async with _socket(conn, settings, {"Origin": "http://localhost:5173"}) as ws:
        assert await _init(ws, {"Authorization": f"Bearer {token}"}) == {"type": "connection_ack"}
    refused: list[int] = []
    try:
        async with _socket(conn, settings, {"Origin": "https://evil.example"}) as ws:
            await _init(ws, {"Authorization": f"Bearer {token}"})
    except WebSocketUpgradeError:  # over a real server: the handshake is answered with 403
        refused.append(403)
    except BaseExceptionGroup as group:  # in process: the handshake is closed with 1008
        matched, _ = group.split(WebSocketDisconnect)
        assert matched is not None
        refused.extend(e.code for e in matched.exceptions if isinstance(e, WebSocketDisconnect))
    assert refused in ([403], [1008])
