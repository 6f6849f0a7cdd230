"""Notifications: raised with their cause, read and marked through the contract, the
time-based sweep (once per reason, one instance at a time), the live subscription across
instances and the outbound webhook."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import asyncpg
import httpx
import orjson
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from db.pool import PoolDatabase
from gongjian.app import create_app
from gongjian.config import Settings
from gongjian.reminders import Reminders
from resolvers import ids
from tests import builders
from tests.conftest import TEST_SECRET
from tests.support import Api, contract_operations


@asynccontextmanager
async def _acquired(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection, typed as the builders take it (a pool hands out a proxy)."""
    async with pool.acquire() as proxy:
        yield cast(asyncpg.Connection, proxy)


NOW = datetime.datetime(2030, 1, 21, 2, 0, tzinfo=datetime.UTC)  # 10:00 on the 21st in Shanghai


async def _inbox(api: Api, token: str, **variables: Any) -> dict[str, Any]:
    result = await api.op("MyNotifications", variables, token=token)
    assert "errors" not in result, result
    inbox: dict[str, Any] = result["data"]["viewer"]["notifications"]
    return inbox


def _kinds(inbox: dict[str, Any]) -> list[str]:
    return [e["node"]["kind"] for e in inbox["edges"]]


async def _ok(api: Api, name: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    result = await api.op(name, variables, token=token)
    assert "errors" not in result, result
    payload: dict[str, Any] = next(iter(result["data"].values()))
    assert payload["userErrors"] == [], payload
    return payload


async def test_order_transitions_reach_the_household_and_the_assignee(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    await builders.service_categories(conn)
    staff, resident, cadre, neighbour, head = (
        api.token_for(w.users[k]) for k in ("staff", "resident", "cadre", "neighbour", "head")
    )
    placed = await _ok(
        api,
        "PlaceOrder",
        {"householdId": ids.encode("Household", w.household), "title": "楼道灯坏了", "category": "REPAIR"},
        staff,
    )
    order = placed["order"]
    await _ok(
        api, "DispatchOrder", {"orderId": order["id"], "assigneeId": ids.encode("Person", w.people["cadre"])}, staff
    )
    await _ok(api, "AcceptOrder", {"orderId": order["id"]}, cadre)

    mine = await _inbox(api, resident)
    assert _kinds(mine) == ["ORDER_UPDATED", "ORDER_UPDATED", "ORDER_UPDATED"]  # accepted, dispatched, placed
    assert mine["unreadCount"] == 3 and mine["totalCount"] == 3
    newest = mine["edges"][0]["node"]
    assert newest["subject"] == {"id": order["id"]} and newest["read"] is False
    assert order["number"] in newest["body"]
    # the head lives in the same household; the neighbour does not; staff acted themselves
    assert (await _inbox(api, head))["totalCount"] == 3
    assert (await _inbox(api, neighbour))["totalCount"] == 0
    assert (await _inbox(api, staff))["totalCount"] == 0
    assigned = await _inbox(api, cadre)
    assert _kinds(assigned) == ["ORDER_ASSIGNED"]

    # marking: own ones only; anyone else's id is NOT_FOUND and nothing is marked
    first_two = [e["node"]["id"] for e in mine["edges"][:2]]
    result = await api.op(
        "MarkNotificationsRead", {"ids": [*first_two, assigned["edges"][0]["node"]["id"]]}, token=resident
    )
    payload = result["data"]["markNotificationsRead"]
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"] and payload["unreadCount"] is None
    assert (await _inbox(api, resident))["unreadCount"] == 3
    payload = await _ok(api, "MarkNotificationsRead", {"ids": first_two}, resident)
    assert payload["unreadCount"] == 1
    unread = await _inbox(api, resident, unreadOnly=True)
    assert unread["totalCount"] == 1 and unread["unreadCount"] == 1
    assert unread["edges"][0]["node"]["id"] == mine["edges"][2]["node"]["id"]
    # paging: newest first, cursors continue
    page = await _inbox(api, resident, first=2)
    rest = await _inbox(api, resident, first=2, after=page["pageInfo"]["endCursor"])
    assert page["pageInfo"]["hasNextPage"] and not rest["pageInfo"]["hasNextPage"]
    assert [e["node"]["id"] for e in page["edges"] + rest["edges"]] == [e["node"]["id"] for e in mine["edges"]]
    # nobody reads another user's inbox, not even the county admin through `node`
    other = await api.post(
        "query($id: ID!) { node(id: $id) { ... on User { notifications { totalCount } } } }",
        {"id": ids.encode("User", w.users["resident"])},
        token=api.token_for(w.users["admin"]),
    )
    assert other["data"]["node"] == {"notifications": None}


async def test_a_failed_mutation_raises_nothing(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    await builders.service_categories(conn)
    result = await api.op(
        "PlaceOrder",
        {"householdId": ids.encode("Household", w.household), "title": "漏水", "category": "NO_SUCH"},
        token=api.token_for(w.users["staff"]),
    )
    assert result["data"]["placeOrder"]["userErrors"][0]["code"] == "INVALID"
    assert (await _inbox(api, api.token_for(w.users["resident"])))["totalCount"] == 0


async def test_registration_decided_and_need_matched(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    # the world's cadre is confirmed with its community already: a registration with the other one
    registration = int(
        await conn.fetchval(
            "INSERT INTO registrations (county_id, community_id, person_id) VALUES ($1, $2, $3) RETURNING id",
            w.county,
            w.other_community,
            w.people["cadre"],
        )
    )
    await conn.execute("UPDATE registrations SET status = 'CONFIRMED' WHERE id = $1", registration)
    cadre = await _inbox(api, api.token_for(w.users["cadre"]))
    assert _kinds(cadre) == ["REGISTRATION_DECIDED"]
    assert cadre["edges"][0]["node"]["subject"] is not None

    await builders.resource(conn, w.unit, [w.community], category="PARKING", quantity=10)
    await builders.need(conn, w.compound, category="PARKING", quantity=3)
    await builders.need(conn, w.compound, category="VENUE", quantity=1)  # nothing offered: nobody told
    await builders.need(conn, w.other_community, category="PARKING", quantity=1)  # not open there
    unit = await _inbox(api, api.token_for(w.users["unit"]))
    assert _kinds(unit) == ["NEED_MATCHED"]


async def _scene_for_the_sweep(conn: asyncpg.Connection) -> tuple[builders.World, dict[str, int]]:
    """Committed: an order escalated and overdue at NOW, another left undispatched for longer
    than its category's accept hours, a pairing without a home visit this
    month, an activity 8 hours ahead with the resident signed up, an unrectified finding
    whose deadline passed."""
    w = await builders.world(conn)
    order = await builders.service_order(conn, w)
    await conn.execute(
        "UPDATE service_orders SET status = 'DISPATCHED', assignee_id = $2, dispatched_at = $3, due_at = $4 "
        "WHERE id = $1",
        order,
        w.people["cadre"],
        NOW - datetime.timedelta(hours=10),
        NOW - datetime.timedelta(hours=1),
    )
    waiting = await builders.service_order(conn, w, title="门禁坏了")  # placed 9 hours ago, never dispatched
    await conn.execute(
        "UPDATE service_orders SET created_at = $2, updated_at = $2 WHERE id = $1",
        waiting,
        NOW - datetime.timedelta(hours=9),
    )
    activity = await conn.fetchval(
        "INSERT INTO activities (county_id, community_id, title, kind, starts_at, ends_at) "
        "VALUES ($1, $2, '义诊', 'FREE_CLINIC', $3, $4) RETURNING id",
        w.county,
        w.community,
        NOW + datetime.timedelta(hours=8),
        NOW + datetime.timedelta(hours=10),
    )
    await conn.execute(
        "INSERT INTO signups (county_id, activity_id, person_id) VALUES ($1, $2, $3)",
        w.county,
        activity,
        w.people["resident"],
    )
    finding = await conn.fetchval(
        "INSERT INTO findings (county_id, compound_id, category, description, deadline) "
        "VALUES ($1, $2, 'PILING', '楼道堆放杂物', $3) RETURNING id",
        w.county,
        w.compound,
        datetime.date(2030, 1, 19),
    )
    return w, {"order": order, "activity": activity, "finding": finding}


async def _raised(pool: asyncpg.Pool, county: int) -> list[tuple[str, str, int]]:
    rows = await pool.fetch(
        "SELECT kind, subject_type, user_id FROM notifications WHERE county_id = $1 AND kind NOT IN "
        "('ORDER_UPDATED', 'ORDER_ASSIGNED') ORDER BY kind, user_id",
        county,
    )
    return [(r["kind"], r["subject_type"], r["user_id"]) for r in rows]


async def test_the_sweep_raises_each_time_based_kind_once(committed_db: dict[str, Any]) -> None:
    pool: asyncpg.Pool = committed_db["pool"]
    async with _acquired(pool) as conn:
        w, _ = await _scene_for_the_sweep(conn)
    settings = Settings(secret=TEST_SECRET)
    # two instances sweep at once: the advisory lock lets one through, the other skips
    first, second = await asyncio.gather(
        Reminders(PoolDatabase(pool), settings).tick(NOW), Reminders(PoolDatabase(pool), settings).tick(NOW)
    )
    assert sorted([first, second], key=lambda n: n is None)[1] in (None, 0)
    u = w.users
    expected = sorted(
        [
            ("ACTIVITY_SOON", "Activity", u["resident"]),
            ("FINDING_PUBLISHED", "Finding", u["staff"]),
            ("ORDER_ESCALATED", "ServiceOrder", u["staff"]),
            ("ORDER_ESCALATED", "ServiceOrder", u["staff"]),
            ("ORDER_OVERDUE", "ServiceOrder", u["staff"]),
            ("ORDER_OVERDUE", "ServiceOrder", u["cadre"]),
            ("VISIT_DUE", "Pairing", u["cadre"]),
        ]
    )
    assert await _raised(pool, w.county) == expected
    # a restarted server (a new job) sweeping again later raises nothing new
    assert await Reminders(PoolDatabase(pool), settings).tick(NOW + datetime.timedelta(minutes=5)) == 0
    assert await _raised(pool, w.county) == expected
    # the cadre reads it in their inbox, with its subject
    api: Api = committed_db["api"]
    cadre = await _inbox(api, api.token_for(u["cadre"]))
    assert sorted(_kinds(cadre)) == ["ORDER_OVERDUE", "VISIT_DUE"]
    assert all(e["node"]["subject"] is not None for e in cadre["edges"])
    staff = await _inbox(api, api.token_for(u["staff"]))
    escalated = sorted(e["node"]["body"] for e in staff["edges"] if e["node"]["kind"] == "ORDER_ESCALATED")
    assert [b.split(") ", 1)[1] for b in escalated] == [
        "was not accepted within 4 hours",
        "was not dispatched within 4 hours",
    ]


async def test_nothing_is_due_before_its_time(committed_db: dict[str, Any]) -> None:
    pool: asyncpg.Pool = committed_db["pool"]
    async with _acquired(pool) as conn:
        w, _ = await _scene_for_the_sweep(conn)
    earlier = datetime.datetime(2030, 1, 18, 2, 0, tzinfo=datetime.UTC)  # the 18th: before everything
    assert await Reminders(PoolDatabase(pool), Settings(secret=TEST_SECRET)).tick(earlier) == 0
    assert await _raised(pool, w.county) == []


async def test_the_job_runs_inside_the_server_with_no_request_in_flight(committed_db: dict[str, Any]) -> None:
    pool: asyncpg.Pool = committed_db["pool"]
    async with _acquired(pool) as conn:
        w = await builders.world(conn)
        order = await builders.service_order(conn, w)
        await conn.execute(
            "UPDATE service_orders SET status = 'ACCEPTED', assignee_id = $2, "
            "dispatched_at = now() - interval '2 days', due_at = now() - interval '1 hour' WHERE id = $1",
            order,
            w.people["cadre"],
        )
    job = Reminders(PoolDatabase(pool), Settings(secret=TEST_SECRET, notify_interval_seconds=1))
    job.start()
    try:
        for _ in range(200):
            if await pool.fetchval("SELECT count(*) FROM notifications WHERE kind = 'ORDER_OVERDUE'") == 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await job.stop()
    # only the overdue order is this test's: from the 20th of a month the job also reminds the
    # world's cadre of the month's home visit (VISIT_DUE), which the sweep test covers
    overdue = [r for r in await _raised(pool, w.county) if r[0] == "ORDER_OVERDUE"]
    assert overdue == sorted(
        [("ORDER_OVERDUE", "ServiceOrder", w.users["staff"]), ("ORDER_OVERDUE", "ServiceOrder", w.users["cadre"])]
    )


# --- the live subscription ---------------------------------------------------------------------


@asynccontextmanager
async def _socket(
    app: Starlette, token: str, payload: dict[str, Any] | None = None
) -> AsyncIterator[AsyncWebSocketSession]:
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app=app), base_url="http://test") as client:
        connecting: Any = aconnect_ws("http://test/graphql", client, subprotocols=["graphql-transport-ws"])
        async with connecting as ws:
            session: AsyncWebSocketSession = ws
            init = {"Authorization": f"Bearer {token}", **(payload or {})}
            await session.send_json({"type": "connection_init", "payload": init})
            assert await session.receive_json(timeout=5) == {"type": "connection_ack"}
            await session.send_json(
                {"id": "1", "type": "subscribe", "payload": {"query": contract_operations()["Notifications"]}}
            )
            yield session


async def _ready(app: Starlette, user: int) -> None:
    for _ in range(500):
        hub = getattr(app.state, "notifications_hub", None)
        if hub is not None and user in hub._subscribers and hub.listener.connected.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscription did not become ready")


async def test_the_subscription_delivers_what_another_instance_raised(committed_db: dict[str, Any]) -> None:
    pool: asyncpg.Pool = committed_db["pool"]
    async with _acquired(pool) as conn:
        w = await builders.world(conn)
        await builders.service_categories(conn)
    # instance A holds the subscription; the order is placed through instance B (committed_db's api)
    app = create_app(Settings(secret=TEST_SECRET, database_url=committed_db["url"]), db=committed_db["db"])
    api: Api = committed_db["api"]
    resident = w.users["resident"]
    async with _socket(app, api.token_for(resident), {"language": "en"}) as ws:
        await _ready(app, resident)
        placed = await _ok(
            api,
            "PlaceOrder",
            {"householdId": ids.encode("Household", w.household), "title": "楼道灯坏了", "category": "REPAIR"},
            api.token_for(w.users["staff"]),
        )
        message = await ws.receive_json(timeout=10)
        assert message["type"] == "next", message
        delivered = message["payload"]["data"]["notifications"]
        assert delivered["kind"] == "ORDER_UPDATED" and delivered["subject"] == {"id": placed["order"]["id"]}
        assert delivered["title"] == "Order placed"
        # the listening connection drops: the subscriber is told it may have missed some
        hub = app.state.notifications_hub
        await pool.execute("SELECT pg_terminate_backend($1)", hub.listener.backend_pid)
        ended = await ws.receive_json(timeout=10)
        assert ended["type"] == "next" and ended["payload"]["errors"][0]["extensions"]["code"] == "EVENTS_INTERRUPTED"
        assert await ws.receive_json(timeout=10) == {"id": "1", "type": "complete"}


# --- the outbound webhook ------------------------------------------------------------------------


async def test_the_webhook_gets_every_new_notification_once_with_retries(committed_db: dict[str, Any]) -> None:
    """A real HTTP endpoint on the loopback that refuses the first attempt."""
    pool: asyncpg.Pool = committed_db["pool"]
    received: list[dict[str, Any]] = []
    attempts: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        body = await reader.readexactly(length)
        attempts.append(1)
        if len(attempts) == 1:
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        else:
            received.append(orjson.loads(body))
            writer.write(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = Settings(secret=TEST_SECRET, notify_webhook_url=f"http://127.0.0.1:{port}/hook")
    job = Reminders(PoolDatabase(pool), settings, retry_delays=(0.0, 0.0))
    try:
        async with _acquired(pool) as conn:
            w = await builders.world(conn)
            assert await job.deliver() == 0  # the first delivery starts at the newest: no history is replayed
            await builders.service_order(conn, w, placed_by="staff")
        assert await job.deliver() == 2  # the resident and the head live in the household
        assert await job.deliver() == 0
    finally:
        server.close()
        await server.wait_closed()
    assert len(attempts) == 2 and len(received) == 1
    sent = received[0]["notifications"]
    assert {n["user"]["id"] for n in sent} == {ids.encode("User", w.users[k]) for k in ("resident", "head")}
    assert {n["kind"] for n in sent} == {"ORDER_UPDATED"} and all(n["title"] for n in sent)
