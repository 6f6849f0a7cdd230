"""Probe fields for the foundation's tests: added to a test app only (`extra_queries`),
never to the production schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import strawberry
from strawberry.types import Info

from db.pool import SingleConnectionDatabase
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers.pagination import checked_first, page_of_known_total
from schema.base import Connection
from tests.conftest import TEST_SECRET
from tests.support import Api


async def _page(info: Info[Any, Any], first: int | None) -> Any:
    n = checked_first(first)
    async with info.context.db.connection() as conn:
        rows = await conn.fetch("SELECT g AS n FROM generate_series(1, $1::int) AS g", n + 1)
    return page_of_known_total([Probe(n=r["n"]) for r in rows], n, key=lambda p: [p.n], total=1000)


async def _children(root: Probe, info: Info[Any, Any], first: int | None = None) -> Connection[Probe]:
    return await _page(info, first)  # type: ignore[no-any-return]


@strawberry.type(description="A probe row")
class Probe:
    n: int
    children: Connection[Probe] = strawberry.field(resolver=_children, description="Nested probes")


async def _probes(info: Info[Any, Any], first: int | None = None, after: str | None = None) -> Connection[Probe]:
    return await _page(info, first)  # type: ignore[no-any-return]


def _boom() -> int:
    raise RuntimeError("secret internals at /srv/gongjian/settings.py: password=hunter2")


async def _broken_sql(info: Info[Any, Any]) -> int:
    async with info.context.db.connection() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM no_such_table_at_all"))


@strawberry.type
class ProbeQuery:
    probes: Connection[Probe] = strawberry.field(resolver=_probes, description="Probe rows")
    boom: int = strawberry.field(resolver=_boom, description="Always fails unexpectedly")
    broken_sql: int = strawberry.field(resolver=_broken_sql, description="Runs SQL that fails")


async def probe_client(conn: asyncpg.Connection, settings: Settings) -> AsyncIterator[Api]:
    app = create_app(settings, db=SingleConnectionDatabase(conn), extra_queries=[ProbeQuery])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield Api(client=client, secret=TEST_SECRET)


@pytest.fixture
async def probe_api(conn: asyncpg.Connection, settings: Settings) -> AsyncIterator[Api]:
    """An in-process client of an app with the probe fields, on the test's connection."""
    async for api in probe_client(conn, settings):
        yield api
