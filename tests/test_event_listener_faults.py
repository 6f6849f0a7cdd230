"""One order-event listener per process after any sequence of faults: a run of the
listener that outlives its cancellation (asyncio.wait_for before Python 3.12 can swallow
one, also inside asyncpg.connect) must neither deliver events nor keep a connection.
And a subscriber whose event cannot be read, because the server's database connections
failed while the listener's did not, gets EVENTS_INTERRUPTED (never INTERNAL_SERVER_ERROR)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import httpx
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from db.events import Listener, connect_listener
from db.pool import PoolDatabase, create_pool
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids
from tests import builders
from tests.conftest import TEST_SECRET
from tests.support import Api, contract_operations

CHANNEL = "listener_faults"


async def _listening(pool: asyncpg.Pool) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gongjian-events'"
            " AND datname = current_database()"
        )
    )


async def test_a_run_that_swallowed_its_cancellation_neither_delivers_nor_stays(committed_db: dict[str, Any]) -> None:
    pool = committed_db["pool"]
    gate = asyncio.Event()
    calls = 0

    async def connect() -> asyncpg.Connection:
        nonlocal calls
        calls += 1
        if calls == 1:  # the first run is cancelled while connecting, and the cancellation is lost
            try:
                await gate.wait()
            except asyncio.CancelledError:
                await gate.wait()
        return await connect_listener(committed_db["url"])

    received: list[dict[str, Any]] = []
    lost: list[None] = []
    listener = Listener(connect, lambda _channel, e: received.append(e), lambda: lost.append(None), channels=[CHANNEL])
    listener.start()
    await asyncio.sleep(0.05)  # the first run waits in connect
    listener.stop()
    listener.start()
    await asyncio.wait_for(listener.connected.wait(), timeout=10)
    gate.set()  # the first run's connection now arrives
    try:
        for _ in range(500):  # until the first run has connected and let go again
            await asyncio.sleep(0.01)
            if calls == 2 and await _listening(pool) == 1:
                break
        assert await _listening(pool) == 1
        await pool.execute(f"SELECT pg_notify('{CHANNEL}', '{{\"n\": 1}}')")
        await pool.execute(f"SELECT pg_notify('{CHANNEL}', '{{\"n\": 2}}')")
        for _ in range(200):
            if len(received) >= 2:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # a duplicate would arrive by now
        assert received == [{"n": 1}, {"n": 2}] and lost == []
    finally:
        listener.stop()


async def test_repeated_terminations_leave_one_listener(committed_db: dict[str, Any]) -> None:
    pool = committed_db["pool"]
    received: list[dict[str, Any]] = []
    lost: list[None] = []
    listener = Listener(
        lambda: connect_listener(committed_db["url"]),
        lambda _channel, e: received.append(e),
        lambda: lost.append(None),
        channels=[CHANNEL],
        max_backoff=0.2,
    )
    listener.start()
    try:
        for round_ in range(5):
            await asyncio.wait_for(listener.connected.wait(), timeout=10)
            backend = listener.backend_pid
            assert await pool.fetchval("SELECT pg_terminate_backend($1)", backend)
            for _ in range(500):
                await asyncio.sleep(0.01)
                if listener.connected.is_set() and listener.backend_pid != backend:
                    break
            if round_ % 2:  # the last subscriber leaves and a new one comes, as the hub does
                listener.stop()
                listener.start()
        await asyncio.wait_for(listener.connected.wait(), timeout=10)
        for _ in range(500):
            if await _listening(pool) == 1:
                break
            await asyncio.sleep(0.01)
        assert await _listening(pool) == 1
        await pool.execute(f"SELECT pg_notify('{CHANNEL}', '{{\"n\": 7}}')")
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert received == [{"n": 7}]
    finally:
        listener.stop()


# --- a fault while an event is read ---------------------------------------------------------


class CuttableLink:
    """A TCP relay between the server's pool and PostgreSQL that the test cuts: every
    connection through it drops and new ones are refused, a real network fault of the
    pool's connections while the listener (connected directly) keeps delivering."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        socket_dir = parse_qs(parts.query).get("host", [None])[0]
        self._unix = f"{socket_dir}/.s.PGSQL.{parts.port or 5432}" if socket_dir else None
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._parts = parts
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        user = self._parts.username or "postgres"
        self.url = urlunsplit(("postgresql", f"{user}@127.0.0.1:{port}", self._parts.path, "", ""))

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._unix:
            up_reader, up_writer = await asyncio.open_unix_connection(self._unix)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers += [writer, up_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()


@asynccontextmanager
async def _server_behind_link(committed_db: dict[str, Any]) -> AsyncIterator[tuple[Starlette, CuttableLink]]:
    """A server instance whose pool goes through a link the test cuts; its listener
    connects directly (DATABASE_URL)."""
    link = CuttableLink(committed_db["url"])
    await link.start()
    pool = await create_pool(link.url, min_size=1, max_size=4)
    try:
        settings = Settings(secret=TEST_SECRET, database_url=committed_db["url"])
        yield create_app(settings, db=PoolDatabase(pool)), link
    finally:
        link.cut()
        pool.terminate()


@asynccontextmanager
async def _subscribed(app: Starlette, token: str, query: str, variables: dict[str, Any]) -> AsyncIterator[Any]:
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app=app), base_url="http://test") as client:
        connecting: Any = aconnect_ws("http://test/graphql", client, subprotocols=["graphql-transport-ws"])
        async with connecting as ws:
            session: AsyncWebSocketSession = ws
            await session.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
            assert await session.receive_json(timeout=5) == {"type": "connection_ack"}
            await session.send_json(
                {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
            )
            yield session


async def _ready(app: Starlette, hub_name: str, key: int) -> None:
    for _ in range(1000):
        hub = getattr(app.state, hub_name, None)
        if hub is not None and key in hub._subscribers and hub.listener.connected.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscription did not become ready")


async def _place_order(api: Api, w: builders.World) -> None:
    variables = {"householdId": ids.encode("Household", w.household), "title": "灯坏了", "category": "REPAIR"}
    placed = await api.op("PlaceOrder", variables, token=api.token_for(w.users["resident"]))
    assert placed["data"]["placeOrder"]["userErrors"] == [], placed


async def _interrupted(ws: AsyncWebSocketSession) -> str:
    message: dict[str, Any] = await ws.receive_json(timeout=15)
    assert message["type"] == "next" and message["payload"]["data"] is None, message
    assert await ws.receive_json(timeout=10) == {"id": "1", "type": "complete"}
    return str(message["payload"]["errors"][0]["extensions"]["code"])


async def _world(committed_db: dict[str, Any]) -> builders.World:
    async with committed_db["pool"].acquire() as conn:
        w = await builders.world(cast(asyncpg.Connection, conn))
        await builders.service_categories(cast(asyncpg.Connection, conn))
    return w


async def test_an_order_event_that_cannot_be_read_interrupts_the_stream(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]  # another instance, on a direct pool: it places the orders
    w = await _world(committed_db)
    variables = {"communityId": ids.encode("Community", w.community)}
    async with (
        _server_behind_link(committed_db) as (app, link),
        _subscribed(app, api.token_for(w.users["staff"]), contract_operations()["OrderEvents"], variables) as ws,
    ):
        await _ready(app, "order_events_hub", w.community)
        await _place_order(api, w)
        delivered = await ws.receive_json(timeout=10)
        assert delivered["payload"]["data"]["orderEvents"]["action"] == "PLACED", delivered
        link.cut()  # the server's database connections fail; its listener's does not
        await _place_order(api, w)
        assert await _interrupted(ws) == "EVENTS_INTERRUPTED"


async def test_a_notification_that_cannot_be_read_interrupts_the_stream(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    w = await _world(committed_db)
    resident = w.users["resident"]
    async with (
        _server_behind_link(committed_db) as (app, link),
        _subscribed(app, api.token_for(resident), contract_operations()["Notifications"], {}) as ws,
    ):
        await _ready(app, "notifications_hub", resident)
        link.cut()
        variables = {"householdId": ids.encode("Household", w.household), "title": "灯坏了", "category": "REPAIR"}
        placed = await api.op("PlaceOrder", variables, token=api.token_for(w.users["staff"]))  # notifies the household
        assert placed["data"]["placeOrder"]["userErrors"] == [], placed
        assert await _interrupted(ws) == "EVENTS_INTERRUPTED"
