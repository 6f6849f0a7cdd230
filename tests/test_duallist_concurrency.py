"""Many concurrent `allocate` calls through HTTP, on a committed database with a real pool:
the allocated total never exceeds a resource's or a need's quantity, `remaining` is never
negative, and the ledger adds up."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg

from resolvers import ids
from tests import builders as b
from tests.support import Api, own_connection


async def _fire(api: Api, token: str, calls: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
    async def one(resource: int, need: int, quantity: int) -> dict[str, Any]:
        result = await api.op(
            "Allocate",
            {"resourceId": ids.encode("Resource", resource), "needId": ids.encode("Need", need), "quantity": quantity},
            token=token,
        )
        assert "errors" not in result, result["errors"]
        payload: dict[str, Any] = result["data"]["allocate"]
        return payload

    return await asyncio.gather(*(one(*call) for call in calls))


async def _ledger_holds(conn: asyncpg.Connection) -> None:
    """Every resource's and need's counters agree with the exchanges that are not cancelled."""
    bad = await conn.fetch(
        """
        SELECT r.id FROM resources r
        WHERE r.remaining < 0 OR r.quantity - r.remaining <> (
            SELECT coalesce(sum(e.quantity), 0) FROM exchanges e WHERE e.resource_id = r.id AND e.status <> 'CANCELLED')
        UNION ALL
        SELECT n.id FROM needs n
        WHERE n.fulfilled > n.quantity OR n.fulfilled <> (
            SELECT coalesce(sum(e.quantity), 0) FROM exchanges e WHERE e.need_id = n.id AND e.status <> 'CANCELLED')
        """
    )
    assert bad == []


async def test_forty_concurrent_allocations_on_one_resource(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    async with own_connection(committed_db) as conn:
        w = await b.world(conn)
        resource = await b.resource(conn, w.unit, [w.community], quantity=30)
        need = await b.need(conn, w.community, quantity=100)
    results = await _fire(api, api.token_for(w.users["staff"]), [(resource, need, 1)] * 40)
    succeeded = [r for r in results if not r["userErrors"]]
    refused = {e["code"] for r in results for e in r["userErrors"]}
    assert len(succeeded) == 30
    assert refused == {"INSUFFICIENT_QUANTITY"}
    assert min(r["exchange"]["resource"]["remaining"] for r in succeeded) == 0
    async with own_connection(committed_db) as conn:
        assert await conn.fetchval("SELECT remaining FROM resources WHERE id = $1", resource) == 0
        assert await conn.fetchval("SELECT fulfilled FROM needs WHERE id = $1", need) == 30
        await _ledger_holds(conn)


async def test_forty_concurrent_allocations_of_mixed_sizes_to_one_need(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    rng = random.Random(6)
    async with own_connection(committed_db) as conn:
        w = await b.world(conn)
        resources = [await b.resource(conn, w.unit, [w.community], quantity=q) for q in (17, 9, 25)]
        need = await b.need(conn, w.community, quantity=33)
    calls = [(rng.choice(resources), need, rng.randint(1, 4)) for _ in range(40)]
    results = await _fire(api, api.token_for(w.users["staff"]), calls)
    allocated = sum(r["exchange"]["quantity"] for r in results if not r["userErrors"])
    refused = {e["code"] for r in results for e in r["userErrors"]}
    assert refused <= {"INSUFFICIENT_QUANTITY", "EXCEEDS_NEED"} and refused
    assert allocated <= 33
    async with own_connection(committed_db) as conn:
        assert await conn.fetchval("SELECT fulfilled FROM needs WHERE id = $1", need) == allocated
        rows = await conn.fetch("SELECT quantity, remaining FROM resources WHERE id = ANY($1::bigint[])", resources)
        assert all(0 <= r["remaining"] <= r["quantity"] for r in rows)
        assert sum(r["quantity"] - r["remaining"] for r in rows) == allocated
        await _ledger_holds(conn)


async def test_concurrent_cancel_and_complete_settle_once(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    async with own_connection(committed_db) as conn:
        w = await b.world(conn)
        resource = await b.resource(conn, w.unit, [w.community], quantity=10)
        need = await b.need(conn, w.community, quantity=10)
    staff = api.token_for(w.users["staff"])
    exchange = (await _fire(api, staff, [(resource, need, 4)]))[0]["exchange"]["id"]
    calls = [("CancelExchange", "cancelExchange")] * 10 + [("CompleteExchange", "completeExchange")] * 10
    results = await asyncio.gather(*(api.op(op, {"exchangeId": exchange}, token=staff) for op, _ in calls))
    payloads = [res["data"][field] for res, (_, field) in zip(results, calls, strict=True)]
    assert sum(1 for p in payloads if not p["userErrors"]) == 1
    assert {e["code"] for p in payloads for e in p["userErrors"]} == {"INVALID_STATE"}
    async with own_connection(committed_db) as conn:
        await _ledger_holds(conn)
