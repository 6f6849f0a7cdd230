"""Races on committed data: concurrent requests on a real pool, as many clients would send."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from resolvers import ids
from tests import builders
from tests.support import Api


async def _world(committed_db: dict[str, Any]) -> builders.World:
    pool: asyncpg.Pool = committed_db["pool"]
    async with pool.acquire() as conn:
        w = await builders.world(conn)  # type: ignore[arg-type]
        await builders.service_categories(conn)  # type: ignore[arg-type]
    return w


async def _payload(api: Api, op: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    result = await api.op(op, variables, token=token)
    assert "errors" not in result, result["errors"]
    payload: dict[str, Any] = next(iter(result["data"].values()))
    return payload


async def _dispatched(api: Api, w: builders.World, *, to_unit: bool = False) -> str:
    placed = await _payload(
        api,
        "PlaceOrder",
        {"householdId": ids.encode("Household", w.household), "title": "灯坏了", "category": "REPAIR"},
        api.token_for(w.users["resident"]),
    )
    order = str(placed["order"]["id"])
    dispatched = await _payload(
        api,
        "DispatchOrder",
        {"orderId": order, "assigneeUnitId": ids.encode("Organisation", w.unit)}
        if to_unit
        else {"orderId": order, "assigneeId": ids.encode("Person", w.people["cadre"])},
        api.token_for(w.users["staff"]),
    )
    assert dispatched["userErrors"] == []
    return order


async def test_racing_accepts_exactly_one_wins(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    w = await _world(committed_db)
    order = await _dispatched(api, w, to_unit=True)  # the unit's admin and its member race
    cadre = api.token_for(w.users["cadre"])
    unit = api.token_for(w.users["unit"])
    results = await asyncio.gather(
        *[_payload(api, "AcceptOrder", {"orderId": order}, cadre if i % 2 else unit) for i in range(8)]
    )
    winners = [r for r in results if r["userErrors"] == []]
    losers = [r for r in results if r["userErrors"]]
    assert len(winners) == 1 and winners[0]["order"]["status"] == "ACCEPTED"
    assert len(losers) == 7
    assert all(r["userErrors"][0]["code"] == "INVALID_STATE" and r["order"] is None for r in losers)
    pool: asyncpg.Pool = committed_db["pool"]
    actions = await pool.fetch(
        "SELECT action FROM order_events WHERE order_id = $1 ORDER BY id", ids.decode_as(order, "ServiceOrder")
    )
    assert [a["action"] for a in actions] == ["PLACED", "DISPATCHED", "ACCEPTED"]


async def test_cancel_racing_accept_one_wins(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    w = await _world(committed_db)
    for _ in range(5):
        order = await _dispatched(api, w)
        accept, cancel = await asyncio.gather(
            _payload(api, "AcceptOrder", {"orderId": order}, api.token_for(w.users["cadre"])),
            _payload(api, "CancelOrder", {"orderId": order}, api.token_for(w.users["resident"])),
        )
        outcomes = sorted([accept["userErrors"] == [], cancel["userErrors"] == []])
        assert outcomes == [False, True]
        loser = accept if accept["userErrors"] else cancel
        assert loser["userErrors"][0]["code"] == "INVALID_STATE"


async def test_racing_retries_with_one_idempotency_key_create_one_order(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    w = await _world(committed_db)
    token = api.token_for(w.users["resident"])
    variables = {
        "householdId": ids.encode("Household", w.household),
        "title": "门锁坏了",
        "category": "REPAIR",
        "idempotencyKey": "phone-7f3a",
    }
    results = await asyncio.gather(*[_payload(api, "PlaceOrder", variables, token) for _ in range(10)])
    assert all(r["userErrors"] == [] for r in results)
    assert len({r["order"]["id"] for r in results}) == 1
    assert len({r["order"]["number"] for r in results}) == 1
    pool: asyncpg.Pool = committed_db["pool"]
    assert await pool.fetchval("SELECT count(*) FROM service_orders WHERE household_id = $1", w.household) == 1
    assert await pool.fetchval("SELECT count(*) FROM order_events WHERE county_id = $1", w.county) == 1
    # the number counter has no gap: the next order takes the next number
    again = await _payload(api, "PlaceOrder", {**variables, "idempotencyKey": "other"}, token)
    assert again["order"]["number"].endswith("-0002")


async def test_concurrent_orders_get_distinct_numbers(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    w = await _world(committed_db)
    token = api.token_for(w.users["resident"])
    variables = {"householdId": ids.encode("Household", w.household), "title": "清理楼道", "category": "CLEANING"}
    results = await asyncio.gather(*[_payload(api, "PlaceOrder", variables, token) for _ in range(12)])
    numbers = sorted(r["order"]["number"] for r in results)
    assert [n[-4:] for n in numbers] == [f"{i:04d}" for i in range(1, 13)]
