"""`allocate` takes an idempotency key: a client that timed out repeats its call and learns
whether it was allocated, without allocating twice, also when the repeats race."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from resolvers import ids
from tests import builders
from tests.support import Api

ALLOCATE = """
mutation($resourceId: ID!, $needId: ID!, $quantity: Int!, $key: String) {
  allocate(input: {resourceId: $resourceId, needId: $needId, quantity: $quantity, idempotencyKey: $key}) {
    exchange { id quantity resource { remaining } need { fulfilled } }
    userErrors { field code }
  }
}"""


async def _scene(conn: asyncpg.Connection) -> tuple[builders.World, dict[str, Any]]:
    w = await builders.world(conn)
    resource = await builders.resource(conn, w.unit, [w.community], quantity=10)
    need = await builders.need(conn, w.community, quantity=10)
    return w, {"resourceId": ids.encode("Resource", resource), "needId": ids.encode("Need", need), "quantity": 2}


async def test_a_repeated_key_returns_the_first_exchange(api: Api, conn: asyncpg.Connection) -> None:
    w, variables = await _scene(conn)
    staff = api.token_for(w.users["staff"])
    first = (await api.ok(ALLOCATE, {**variables, "key": "call-1"}, token=staff))["allocate"]
    again = (await api.ok(ALLOCATE, {**variables, "key": "call-1"}, token=staff))["allocate"]
    assert first["userErrors"] == [] and again["userErrors"] == []
    assert again["exchange"]["id"] == first["exchange"]["id"]
    assert again["exchange"]["resource"] == {"remaining": 8} and again["exchange"]["need"] == {"fulfilled": 2}
    other = (await api.ok(ALLOCATE, {**variables, "key": "call-2"}, token=staff))["allocate"]
    assert other["exchange"]["id"] != first["exchange"]["id"] and other["exchange"]["resource"] == {"remaining": 6}
    # the key is the caller's own: another user's same key is another call
    admin = await api.ok(ALLOCATE, {**variables, "key": "call-1"}, token=api.token_for(w.users["admin"]))
    assert admin["allocate"]["exchange"]["resource"] == {"remaining": 4}
    assert await conn.fetchval("SELECT count(*) FROM exchanges") == 3


async def test_racing_repeats_allocate_once(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    async with committed_db["pool"].acquire() as raw:
        w, variables = await _scene(raw)
    staff = api.token_for(w.users["staff"])
    answers = await asyncio.gather(
        *(api.ok(ALLOCATE, {**variables, "key": "timed-out"}, token=staff) for _ in range(8))
    )
    exchanges = {a["allocate"]["exchange"]["id"] for a in answers}
    assert len(exchanges) == 1 and all(a["allocate"]["userErrors"] == [] for a in answers)
    async with committed_db["pool"].acquire() as raw:
        assert await raw.fetchval("SELECT count(*) FROM exchanges") == 1
        assert await raw.fetchval("SELECT remaining FROM resources") == 8
