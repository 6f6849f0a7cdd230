"""The dual list's demo step: 464 parking spaces opened, exchanges in every state, and
counters that agree with the ledger."""

from __future__ import annotations

import random
from typing import Any

import asyncpg

from db.demo import duallist as demo_step
from db.demo import load
from db.demo.load import Demo
from db.pool import Conn
from gongjian import clock
from tests import builders as b
from tests.support import ZONE, Api

# the county statistic's rule: PARKING resources open to a community of the area, not withdrawn
PARKING_OPENED = """
SELECT coalesce(sum(r.quantity), 0) FROM resources r
WHERE r.category = 'PARKING' AND r.withdrawn_at IS NULL AND EXISTS (
    SELECT 1 FROM resource_communities rc JOIN areas a ON a.id = rc.community_id
    WHERE rc.resource_id = r.id AND $1 = ANY(a.path))
"""


async def test_demo_step_opens_464_parking_spaces(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    third = await b.area(conn, "COMMUNITY", "城关社区", w.town)
    await b.area(conn, "COMPOUND", "椒溪河小区", w.other_community)
    units = [w.unit, *[await b.organisation(conn, w.county, "ENTERPRISE") for _ in range(12)]]
    demo = Demo(conn=Conn(conn), rng=random.Random(1), password="x" * 8, today=clock.today(ZONE))
    demo.ids.update(
        county=w.county,
        community=w.community,
        communities=[w.community, w.other_community, third],
        units=units,
        sample={"unit": w.unit},
        users={"staff": w.users["staff"], "unit": w.users["unit"]},
    )
    await demo_step.step(demo)

    assert await conn.fetchval(PARKING_OPENED, w.county) == 464
    # none of the 464 is withdrawn or expired: all of them are AVAILABLE or EXHAUSTED
    data = (await api.op("Resources", {"category": "PARKING", "first": 100}, token=api.token_for(w.users["admin"])))[
        "data"
    ]["resources"]
    opened = [e["node"] for e in data["edges"] if e["node"]["status"] != "WITHDRAWN"]
    assert sum(n["quantity"] for n in opened) == 464
    assert {n["status"] for n in opened} <= {"AVAILABLE", "EXHAUSTED"}
    assert len({n["provider"]["id"] for n in opened}) >= 5

    categories = {r["category"] for r in await conn.fetch("SELECT DISTINCT category FROM resources")}
    assert {"PARKING", "VENUE", "VOLUNTEERS", "EXPERTISE", "GOODS"} <= categories
    states = {r["status"] for r in await conn.fetch("SELECT DISTINCT status FROM exchanges")}
    assert states == {"ALLOCATED", "COMPLETED", "CANCELLED"}
    assert await conn.fetchval("SELECT count(DISTINCT community_id) FROM needs") >= 2
    inconsistent = await conn.fetchval(
        """
        SELECT count(*) FROM resources r WHERE r.quantity - r.remaining <> (
            SELECT coalesce(sum(e.quantity), 0) FROM exchanges e WHERE e.resource_id = r.id AND e.status <> 'CANCELLED')
        """
    ) + await conn.fetchval(
        """
        SELECT count(*) FROM needs n WHERE n.fulfilled <> (
            SELECT coalesce(sum(e.quantity), 0) FROM exchanges e WHERE e.need_id = n.id AND e.status <> 'CANCELLED')
        """
    )
    assert inconsistent == 0


async def test_the_demo_county_opens_464_parking_spaces(committed_db: dict[str, Any]) -> None:
    """The whole demo load (areas first, then the dual list): the county's figure."""
    assert await load.run(committed_db["url"], "demo-password-1", today=clock.today(ZONE))
    conn = await asyncpg.connect(committed_db["url"])
    try:
        county = await conn.fetchval("SELECT id FROM areas WHERE level = 'COUNTY'")
        assert await conn.fetchval(PARKING_OPENED, county) == 464
        providers = await conn.fetchval(
            "SELECT count(DISTINCT provider_id) FROM resources WHERE category = 'PARKING' AND withdrawn_at IS NULL"
        )
        assert providers >= 5
        states = {r["status"] for r in await conn.fetch("SELECT DISTINCT status FROM exchanges")}
        assert states == {"ALLOCATED", "COMPLETED", "CANCELLED"}
        assert await conn.fetchval("SELECT count(DISTINCT community_id) FROM needs") >= 3
        users: dict[str, int] = {r["username"]: r["id"] for r in await conn.fetch("SELECT username, id FROM users")}
    finally:
        await conn.close()
    # the sample accounts at work: staff allocate the best match of an open need of their
    # community; the unit sees its offers; the resident sees parking opened to them
    api: Api = committed_db["api"]
    staff, unit, resident = (api.token_for(users[n]) for n in ("staff", "unit", "resident"))
    community = (await api.op("Viewer", token=staff))["data"]["viewer"]["roles"][0]["scope"]["id"]
    needs = (await api.op("Needs", {"areaId": community, "category": "PARKING", "open": True}, token=staff))["data"][
        "needs"
    ]
    need = next(e["node"] for e in needs["edges"] if e["node"]["status"] in ("OPEN", "PARTIALLY_MET"))
    matches = (await api.op("NeedMatches", {"needId": need["id"]}, token=staff))["data"]["node"]["matches"]
    best = matches["edges"][0]["node"]
    allocated = await api.op("Allocate", {"resourceId": best["id"], "needId": need["id"], "quantity": 1}, token=staff)
    assert allocated["data"]["allocate"]["userErrors"] == []
    unit_id = (await api.op("Viewer", token=unit))["data"]["viewer"]["roles"][0]["scope"]["id"]
    detail = await api.op("OrganisationDetail", {"id": unit_id}, token=unit)
    assert detail["data"]["node"]["resources"]["totalCount"] >= 2
    parking = (await api.op("Resources", {"category": "PARKING", "available": True}, token=resident))["data"]
    assert parking["resources"]["totalCount"] >= 1
