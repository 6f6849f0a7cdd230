"""graphql-transport-ws at /graphql: the handshake, origins, and errors masked as over HTTP."""

from __future__ import annotations

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
from tests import builders
from tests.conftest import TEST_SECRET
from tests.probes import ProbeQuery

PROTOCOL = ["graphql-transport-ws"]


@pytest.fixture
def ws_app(conn: asyncpg.Connection, settings: Settings) -> Any:
    return create_app(settings, db=SingleConnectionDatabase(conn), extra_queries=[ProbeQuery])


@pytest.fixture
async def token(conn: asyncpg.Connection) -> str:
    """A signed-in user's token: a WebSocket is authenticated at `connection_init`."""
    county = await builders.area(conn, "COUNTY", "佛坪县")
    return tokens.sign(TEST_SECRET, await builders.user(conn, county), 3600)[0]


async def _operation(app: Any, query: str, token: str = "", origin: str = "http://localhost:5173") -> dict[str, Any]:
    """One operation on a new connection; the client lives in the test's own task."""
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app), base_url="http://test") as client:
        session: AsyncWebSocketSession
        async with aconnect_ws("/graphql", client, subprotocols=PROTOCOL, headers={"origin": origin}) as session:
            await session.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
            assert (await session.receive_json())["type"] == "connection_ack"
            await session.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
            message: dict[str, Any] = await session.receive_json()
            return message


async def test_query_over_websocket(ws_app: Any, token: str) -> None:
    message = await _operation(ws_app, "{ probes(first: 2) { edges { node { n } } } }", token)
    assert message["type"] == "next"
    assert message["payload"]["data"] == {"probes": {"edges": [{"node": {"n": 1}}, {"node": {"n": 2}}]}}


async def test_errors_are_masked_and_limits_apply_over_websocket(ws_app: Any, token: str) -> None:
    boom = await _operation(ws_app, "{ boom }", token)
    error = boom["payload"]["errors"][0] if boom["type"] == "next" else boom["payload"][0]
    # in Chinese: the connection asked for no other language
    assert error["message"] == "服务器内部错误" and error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "hunter2" not in str(boom)
    costly = await _operation(
        ws_app,
        "{ probes(first: 100) { edges { node { children(first: 100) { edges { node {"
        " children { totalCount } } } } } } } }",
        token,
    )
    codes = [
        e["extensions"]["code"]
        for e in (costly["payload"] if costly["type"] == "error" else costly["payload"]["errors"])
    ]
    assert codes == ["QUERY_TOO_COSTLY"]


async def test_other_origins_are_refused(ws_app: Any) -> None:
    codes: list[int] = []
    try:
        await _operation(ws_app, "{ __typename }", origin="https://evil.example")
    except* WebSocketDisconnect as refused:
        codes = [e.code for e in refused.exceptions if isinstance(e, WebSocketDisconnect)]
    assert codes == [1008]  # policy violation: not an allowed origin


async def test_the_notifications_subscription_asks_the_sql_rule(ws_app: Any, conn: asyncpg.Connection) -> None:
    """`notifications` opens only for a viewer `notification_access` gives an inbox: never a
    partner unit's API token, and nobody while the rule refuses everybody."""
    w = await builders.world(conn)
    subscription = "subscription { notifications { id } }"

    def code(message: dict[str, Any]) -> str:
        error = message["payload"]["errors"][0] if message["type"] == "next" else message["payload"][0]
        return str(error["extensions"]["code"])

    secret = "gjt_notifications-token-secret-0123"
    await builders.api_token(conn, w.unit, w.users["unit"], secret)
    assert code(await _operation(ws_app, subscription, secret)) == "FORBIDDEN"
    await conn.execute(
        "CREATE OR REPLACE FUNCTION notification_access(n notifications, v viewer) RETURNS boolean "
        "LANGUAGE sql STABLE AS 'SELECT false'"
    )
    head = tokens.sign(TEST_SECRET, w.users["head"], 3600)[0]
    assert code(await _operation(ws_app, subscription, head)) == "FORBIDDEN"
