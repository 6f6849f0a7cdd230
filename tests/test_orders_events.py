"""`orderEvents` over graphql-transport-ws, fed by LISTEN/NOTIFY on committed data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids
from tests import builders
from tests.conftest import TEST_SECRET
from tests.support import Api, contract_operations

PROTOCOL = "graphql-transport-ws"


async def _world(committed_db: dict[str, Any]) -> builders.World:
    pool: asyncpg.Pool = committed_db["pool"]
    async with pool.acquire() as conn:
        w = await builders.world(conn)  # type: ignore[arg-type]
        await builders.service_categories(conn)  # type: ignore[arg-type]
    return w


def _app(committed_db: dict[str, Any]) -> Starlette:
    settings = Settings(secret=TEST_SECRET, database_url=committed_db["url"])
    return create_app(settings, db=committed_db["db"])


@asynccontextmanager
async def _socket(app: Starlette, token: str) -> AsyncIterator[AsyncWebSocketSession]:
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app=app), base_url="http://test") as client:
        connecting: Any = aconnect_ws("http://test/graphql", client, subprotocols=[PROTOCOL])
        async with connecting as ws:
            session: AsyncWebSocketSession = ws
            await session.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
            assert await session.receive_json(timeout=5) == {"type": "connection_ack"}
            yield session


async def _subscribe(ws: AsyncWebSocketSession, community: int, op_id: str = "1") -> None:
    await ws.send_json(
        {
            "id": op_id,
            "type": "subscribe",
            "payload": {
                "query": contract_operations()["OrderEvents"],
                "variables": {"communityId": ids.encode("Community", community)},
            },
        }
    )


async def _ready(app: Starlette, community: int) -> None:
    """Wait until the subscription is registered and the process's listener is LISTENing."""
    for _ in range(500):
        hub = getattr(app.state, "order_events_hub", None)
        if hub is not None and community in hub._subscribers and hub.listener.connected.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscription did not become ready")


async def _next(ws: AsyncWebSocketSession) -> dict[str, Any]:
    message: dict[str, Any] = await ws.receive_json(timeout=10)
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    event: dict[str, Any] = message["payload"]["data"]["orderEvents"]
    return event


async def _error_then_complete(ws: AsyncWebSocketSession, op_id: str = "1") -> str:
    """The code of the error that ends a subscription (a `next` with errors, then `complete`)."""
    message: dict[str, Any] = await ws.receive_json(timeout=10)
    assert message["type"] == "next" and message["payload"]["data"] is None, message
    assert await ws.receive_json(timeout=10) == {"id": op_id, "type": "complete"}
    return str(message["payload"]["errors"][0]["extensions"]["code"])


async def _mutate(api: Api, op: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    result = await api.op(op, variables, token=token)
    assert "errors" not in result, result["errors"]
    payload: dict[str, Any] = next(iter(result["data"].values()))
    assert payload["userErrors"] == [], payload
    order: dict[str, Any] = payload["order"]
    return order


async def test_staff_receive_every_transition_of_their_community(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    w = await _world(committed_db)
    app = _app(committed_db)
    elsewhere_building = await builders.area(
        committed_db["pool"],
        "BUILDING",
        None,
        await builders.area(committed_db["pool"], "COMPOUND", None, w.other_community),
    )
    elsewhere = await builders.household(committed_db["pool"], elsewhere_building)
    resident, staff, admin = (api.token_for(w.users[k]) for k in ("resident", "staff", "admin"))
    async with _socket(app, staff) as ws:
        await _subscribe(ws, w.community)
        await _ready(app, w.community)
        # an order of another community: no event here
        await _mutate(
            api,
            "PlaceOrder",
            {"householdId": ids.encode("Household", elsewhere), "title": "别处", "category": "OTHER"},
            admin,
        )
        order = await _mutate(
            api,
            "PlaceOrder",
            {"householdId": ids.encode("Household", w.household), "title": "水管漏水", "category": "REPAIR"},
            resident,
        )
        placed = await _next(ws)
        assert placed["action"] == "PLACED"
        assert placed["order"] == {"id": order["id"], "number": order["number"], "status": "SUBMITTED"}
        await _mutate(
            api, "DispatchOrder", {"orderId": order["id"], "assigneeId": ids.encode("Person", w.people["cadre"])}, staff
        )
        await _mutate(api, "CancelOrder", {"orderId": order["id"], "reason": "修好了"}, resident)
        dispatched, cancelled = await _next(ws), await _next(ws)
        assert dispatched["action"] == "DISPATCHED" and cancelled["action"] == "CANCELLED"
        assert cancelled["order"]["status"] == "CANCELLED"
        assert placed["at"] < dispatched["at"] < cancelled["at"]
        await ws.send_json({"id": "1", "type": "complete"})


async def test_only_staff_in_scope_may_subscribe(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    w = await _world(committed_db)
    app = _app(committed_db)
    for who, community in [("resident", w.community), ("cadre", w.community), ("staff", w.other_community)]:
        async with _socket(app, api.token_for(w.users[who])) as ws:
            await _subscribe(ws, community)
            assert await _error_then_complete(ws) == "FORBIDDEN"
    async with _socket(app, api.token_for(w.users["staff"])) as ws:
        await _subscribe(ws, w.household)  # not a community id
        assert await _error_then_complete(ws) == "FORBIDDEN"


async def test_a_dropped_listener_is_reported_and_re_established(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    pool: asyncpg.Pool = committed_db["pool"]
    w = await _world(committed_db)
    app = _app(committed_db)
    staff, resident = api.token_for(w.users["staff"]), api.token_for(w.users["resident"])
    variables = {"householdId": ids.encode("Household", w.household), "title": "灯坏了", "category": "REPAIR"}
    async with _socket(app, staff) as ws:
        await _subscribe(ws, w.community)
        await _ready(app, w.community)
        backend = app.state.order_events_hub.listener.backend_pid
        assert await pool.fetchval("SELECT pg_terminate_backend($1)", backend)
        # the subscriber is told, not silently starved: an error, and its stream ends
        assert await _error_then_complete(ws) == "EVENTS_INTERRUPTED"
        # subscribing again works on a new listening connection
        await _subscribe(ws, w.community, "2")
        await _ready(app, w.community)
        assert app.state.order_events_hub.listener.backend_pid != backend
        order = await _mutate(api, "PlaceOrder", variables, resident)
        event = await _next(ws)
        assert event["order"]["id"] == order["id"] and event["action"] == "PLACED"
        await ws.send_json({"id": "2", "type": "complete"})


async def test_the_listener_stops_with_the_last_socket(committed_db: dict[str, Any]) -> None:
    """The process's one listening connection serves subscriptions and the watch over open
    sockets' access (gongjian/socket_watch.py): it runs while a socket is open and closes
    after the last one."""
    api: Api = committed_db["api"]
    pool: asyncpg.Pool = committed_db["pool"]
    w = await _world(committed_db)
    app = _app(committed_db)
    async with _socket(app, api.token_for(w.users["staff"])) as ws:
        await _subscribe(ws, w.community)
        await _ready(app, w.community)
        backend = app.state.order_events_hub.listener.backend_pid
        await ws.send_json({"id": "1", "type": "complete"})
        await asyncio.sleep(0.2)
        assert await pool.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", backend) == 1
    for _ in range(500):
        if not await pool.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", backend):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the listening connection stayed open")


async def test_nested_fields_of_each_event_are_read_fresh(committed_db: dict[str, Any]) -> None:
    """The WebSocket's context lives for the connection; each event still shows current data."""
    api: Api = committed_db["api"]
    w = await _world(committed_db)
    app = _app(committed_db)
    resident, staff = (api.token_for(w.users[k]) for k in ("resident", "staff"))
    async with _socket(app, staff) as ws:
        await ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {
                    "query": "subscription($c: ID!) { orderEvents(communityId: $c) "
                    "{ action order { household { label } } } }",
                    "variables": {"c": ids.encode("Community", w.community)},
                },
            }
        )
        await _ready(app, w.community)
        order = await _mutate(
            api,
            "PlaceOrder",
            {"householdId": ids.encode("Household", w.household), "title": "修水管", "category": "OTHER"},
            resident,
        )
        assert (await _next(ws))["order"]["household"]["label"] == "1单元101"
        await committed_db["pool"].execute("UPDATE households SET label = '1单元102' WHERE id = $1", w.household)
        await _mutate(api, "CancelOrder", {"orderId": order["id"]}, resident)
        assert (await _next(ws))["order"]["household"]["label"] == "1单元102"


async def _closed(ws: AsyncWebSocketSession) -> tuple[int, list[dict[str, Any]]]:
    """The close code of a socket the server closes, and what it sent before."""
    before: list[dict[str, Any]] = []
    try:
        for _ in range(10):
            before.append(await ws.receive_json(timeout=10))
    except WebSocketDisconnect as closed:
        return closed.code, before
    raise AssertionError(f"the socket stayed open: {before}")


async def test_a_disabled_user_or_a_lost_grant_ends_the_stream(committed_db: dict[str, Any]) -> None:
    """The token was checked at connection_init; a lost grant or a disabled account closes
    the socket (4403), and no event reaches it after the change (each event checks the
    token again, should it come before the socket is closed)."""
    api: Api = committed_db["api"]
    pool: asyncpg.Pool = committed_db["pool"]
    w = await _world(committed_db)
    app = _app(committed_db)
    resident, staff = (api.token_for(w.users[k]) for k in ("resident", "staff"))
    place = {"householdId": ids.encode("Household", w.household), "title": "修水管", "category": "OTHER"}
    async with _socket(app, staff) as ws:
        await _subscribe(ws, w.community)
        await _ready(app, w.community)
        await _mutate(api, "PlaceOrder", place, resident)
        assert (await _next(ws))["action"] == "PLACED"
        await pool.execute("DELETE FROM role_grants WHERE user_id = $1", w.users["staff"])
        await _mutate(api, "PlaceOrder", place, resident)
        code, before = await _closed(ws)
        assert code == 4403
        assert all(m.get("payload", {}).get("data") is None for m in before), before
    await pool.execute(
        "INSERT INTO role_grants (county_id, user_id, role, area_id) VALUES ($1, $2, 'COMMUNITY_STAFF', $3)",
        w.county,
        w.users["staff"],
        w.community,
    )
    async with _socket(app, staff) as ws:
        await _subscribe(ws, w.community)
        await _ready(app, w.community)
        await pool.execute("UPDATE users SET disabled = true WHERE id = $1", w.users["staff"])
        await _mutate(api, "PlaceOrder", place, resident)
        code, before = await _closed(ws)
        assert code == 4403
        assert all(m.get("payload", {}).get("data") is None for m in before), before


async def test_the_listener_survives_an_unexpected_failure(committed_db: dict[str, Any]) -> None:
    """Whatever goes wrong while connecting, the listener tries again and then delivers."""
    from db.events import Listener, connect_listener

    attempts = 0

    async def flaky() -> asyncpg.Connection:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("a failure nobody planned for")
        return await connect_listener(committed_db["url"])

    received: list[dict[str, Any]] = []
    listener = Listener(
        flaky, lambda _channel, e: received.append(e), lambda: None, channels=["listener_test"], max_backoff=0.2
    )
    listener.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), timeout=10)
        await committed_db["pool"].execute("SELECT pg_notify('listener_test', '{\"n\": 1}')")
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.02)
    finally:
        listener.stop()
    assert attempts >= 2 and received == [{"n": 1}]
