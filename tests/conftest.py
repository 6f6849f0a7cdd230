"""The test harness: real PostgreSQL, migrated once, one rolled-back transaction per test.

With DATABASE_URL set, a fresh database is created on that server for this run (and
dropped after); without it, an embedded PostgreSQL is started in a temporary folder.
Tests that need commits or concurrency ask for `committed_db`: a clone of the migrated
template, with a real pool.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from db.migrate import migrate
from db.pool import PoolDatabase, SingleConnectionDatabase, connect, create_pool
from gongjian.app import create_app
from gongjian.config import Settings
from tests.support import Api

TEST_SECRET = "test-secret-" + "x" * 40


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    if parts.path in ("", "/") and "host=" in parts.query:
        return urlunsplit(parts._replace(path="/" + name))
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An admin URL of the PostgreSQL server the tests use."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    from gongjian import embedded

    with tempfile.TemporaryDirectory(prefix="gongjian-test-", dir="/tmp") as folder:
        os.chmod(folder, 0o755)  # noqa: S103 - the embedded server runs as its own user
        try:
            yield embedded.start(Path(folder))
        finally:
            embedded.stop(Path(folder))  # before the folder goes, or the server outlives it


@pytest.fixture(scope="session")
async def template_url(server_url: str) -> AsyncIterator[str]:
    """A freshly migrated database used as the template of every test database."""
    name = f"gj_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = _with_database(server_url, name)
        raw = await connect(url)
        try:
            await migrate(raw)
        finally:
            await raw.close()
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def shared_conn(template_url: str, server_url: str) -> AsyncIterator[asyncpg.Connection]:
    """One connection to a clone of the template, shared by the rolled-back tests."""
    name = urlsplit(template_url).path.lstrip("/") + "_tx"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{urlsplit(template_url).path.lstrip("/")}"')
    raw = await connect(_with_database(server_url, name))
    try:
        yield raw
    finally:
        await raw.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The in-process app's settings; its data folder (attachments) is the test's own."""
    return Settings(secret=TEST_SECRET, allowed_origins=("http://localhost:5173",), data_dir=tmp_path)


@pytest.fixture
async def conn(shared_conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """The test's connection, inside a transaction rolled back when the test ends."""
    transaction = shared_conn.transaction()
    await transaction.start()
    try:
        yield shared_conn
    finally:
        await transaction.rollback()


@pytest.fixture
async def api(conn: asyncpg.Connection, settings: Settings) -> AsyncIterator[Api]:
    """An in-process client of the app, on the test's rolled-back connection."""
    app = create_app(settings, db=SingleConnectionDatabase(conn))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield Api(client=client, secret=TEST_SECRET)


@pytest.fixture
async def committed_db(template_url: str, server_url: str) -> AsyncIterator[dict[str, Any]]:
    """A clone of the migrated template for tests that commit or run concurrently:
    `url`, `pool`, `db` (a PoolDatabase) and `api` (an in-process client on that pool)."""
    template = urlsplit(template_url).path.lstrip("/")
    name = f"{template}_c{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = _with_database(server_url, name)
    pool = await create_pool(url, min_size=1, max_size=20)
    settings = Settings(secret=TEST_SECRET)
    app = create_app(settings, db=PoolDatabase(pool))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield {
                "url": url,
                "pool": pool,
                "db": PoolDatabase(pool),
                "api": Api(client=client, secret=TEST_SECRET),
            }
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
