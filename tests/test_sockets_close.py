"""An open WebSocket is closed with 4403 as soon as its access ends: a password change,
disabling the user (`gongjian user disable` or the disableUser mutation, through another
server instance), a lost grant, the token's expiry, a revoked API token. The signal goes
through PostgreSQL (LISTEN/NOTIFY), so it reaches sockets on every instance; a socket of
another user stays open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from db.pool import Conn
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids, user_admin
from tests import builders
from tests.conftest import TEST_SECRET
from tests.support import Api

FORBIDDEN = 4403


def _instance(committed_db: dict[str, Any]) -> Starlette:
    """A server instance of its own (its own listening connection) on the shared database."""
    return create_app(Settings(secret=TEST_SECRET, database_url=committed_db["url"]), db=committed_db["db"])


@asynccontextmanager
async def _socket(app: Starlette, token: str) -> AsyncIterator[AsyncWebSocketSession]:
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app=app), base_url="http://test") as client:
        connecting: Any = aconnect_ws("http://test/graphql", client, subprotocols=["graphql-transport-ws"])
        async with connecting as ws:
            session: AsyncWebSocketSession = ws
            await session.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
            assert await session.receive_json(timeout=5) == {"type": "connection_ack"}
            yield session


async def _viewer_id(ws: AsyncWebSocketSession, op_id: str) -> object:
    """The socket answers an operation (it is open)."""
    await ws.send_json({"id": op_id, "type": "subscribe", "payload": {"query": "{ viewer { id } }"}})
    message: dict[str, Any] = await ws.receive_json(timeout=5)
    assert message["type"] == "next", message
    assert await ws.receive_json(timeout=5) == {"id": op_id, "type": "complete"}
    return message["payload"]["data"]["viewer"]["id"]


async def _closed_with(ws: AsyncWebSocketSession) -> int:
    """The code the server closes the socket with, within a few seconds."""
    with pytest.raises(WebSocketDisconnect) as closed:
        await ws.receive_json(timeout=10)
    return closed.value.code


async def _world(committed_db: dict[str, Any]) -> tuple[builders.World, dict[str, str]]:
    pool: asyncpg.Pool = committed_db["pool"]
    async with pool.acquire() as conn:
        w = await builders.world(conn)  # type: ignore[arg-type]
        names = await builders.with_passwords(conn, w)  # type: ignore[arg-type]
    return w, names


async def _ready(*apps: Starlette) -> None:
    """Each instance's listening connection is up (a change made before it is caught by
    the check that follows every (re)connection; waiting keeps the test about the signal)."""
    for app in apps:
        board = app.state.switchboard
        await asyncio.wait_for(board.listener.connected.wait(), timeout=10)


@pytest.mark.parametrize("cause", ["password", "disable"])
async def test_a_password_change_or_disabling_closes_the_users_sockets_on_every_instance(
    committed_db: dict[str, Any], cause: str
) -> None:
    pool: asyncpg.Pool = committed_db["pool"]
    w, names = await _world(committed_db)
    api: Api = committed_db["api"]
    a, b = _instance(committed_db), _instance(committed_db)
    staff, other = api.token_for(w.users["staff"]), api.token_for(w.users["resident"])
    async with AsyncExitStack() as sockets:
        on_a = await sockets.enter_async_context(_socket(a, staff))
        on_b = await sockets.enter_async_context(_socket(b, staff))
        bystander = await sockets.enter_async_context(_socket(a, other))
        await _ready(a, b)
        assert await _viewer_id(on_a, "1") == ids.encode("User", w.users["staff"])
        async with pool.acquire() as conn:  # `gongjian user set-password` / `disable`, at the console
            if cause == "password":
                await user_admin.set_password(Conn(conn), names["staff"], "a brand new password")  # type: ignore[arg-type]
            else:
                await user_admin.set_disabled(Conn(conn), names["staff"], True)  # type: ignore[arg-type]
        assert await _closed_with(on_a) == FORBIDDEN
        assert await _closed_with(on_b) == FORBIDDEN
        assert await _viewer_id(bystander, "2") == ids.encode("User", w.users["resident"])


async def test_the_disable_user_mutation_on_one_instance_closes_the_socket_on_another(
    committed_db: dict[str, Any],
) -> None:
    w, _ = await _world(committed_db)
    api: Api = committed_db["api"]  # instance B (the committed database's own app)
    a = _instance(committed_db)
    async with (
        _socket(a, api.token_for(w.users["neighbour"])) as disabled,
        _socket(a, api.token_for(w.users["resident"])) as bystander,
    ):
        await _ready(a)
        result = await api.op(
            "DisableUser", {"userId": ids.encode("User", w.users["neighbour"])}, token=api.token_for(w.users["admin"])
        )
        assert result["data"]["disableUser"]["userErrors"] == [], result
        assert await _closed_with(disabled) == FORBIDDEN
        assert await _viewer_id(bystander, "1") == ids.encode("User", w.users["resident"])


async def test_losing_a_grant_closes_the_socket_opened_with_it(committed_db: dict[str, Any]) -> None:
    pool: asyncpg.Pool = committed_db["pool"]
    w, _ = await _world(committed_db)
    api: Api = committed_db["api"]
    a = _instance(committed_db)
    async with (
        _socket(a, api.token_for(w.users["admin"])) as admin,
        _socket(a, api.token_for(w.users["staff"])) as bystander,
    ):
        await _ready(a)
        await pool.execute("DELETE FROM role_grants WHERE user_id = $1 AND role = 'COUNTY_ADMIN'", w.users["admin"])
        assert await _closed_with(admin) == FORBIDDEN
        assert await _viewer_id(bystander, "1") == ids.encode("User", w.users["staff"])
    # a socket opened without the grant is not closed when another user's grant changes
    async with _socket(a, api.token_for(w.users["admin"])) as admin_now:
        await _ready(a)
        await pool.execute("DELETE FROM role_grants WHERE user_id = $1", w.users["staff"])
        assert await _viewer_id(admin_now, "1") == ids.encode("User", w.users["admin"])


async def test_a_socket_closes_when_its_token_expires(committed_db: dict[str, Any]) -> None:
    w, _ = await _world(committed_db)
    api: Api = committed_db["api"]
    a = _instance(committed_db)
    async with (
        _socket(a, api.token_for(w.users["staff"], lifetime=5)) as expiring,
        _socket(a, api.token_for(w.users["resident"])) as bystander,
    ):
        assert await _viewer_id(expiring, "1") == ids.encode("User", w.users["staff"])
        assert await _closed_with(expiring) == FORBIDDEN
        assert await _viewer_id(bystander, "1") == ids.encode("User", w.users["resident"])


async def test_revoking_an_api_token_closes_its_socket(committed_db: dict[str, Any]) -> None:
    pool: asyncpg.Pool = committed_db["pool"]
    w, _ = await _world(committed_db)
    api: Api = committed_db["api"]
    a = _instance(committed_db)
    secret = "gjt_" + "r" * 43
    async with pool.acquire() as conn:
        token_id = await builders.api_token(conn, w.unit, w.users["unit"], secret)  # type: ignore[arg-type]
    async with _socket(a, secret) as partner, _socket(a, api.token_for(w.users["unit"])) as creator:
        await _ready(a)
        await pool.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = $1", token_id)
        assert await _closed_with(partner) == FORBIDDEN
        assert await _viewer_id(creator, "1") == ids.encode("User", w.users["unit"])
