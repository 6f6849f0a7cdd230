"""The demo county gives the report's figures through `statistics` and `coverage`, and its
pairings and visits look like a county at work: full coverage, some obligations DUE."""

from __future__ import annotations

import datetime
import random
from typing import Any

import asyncpg

from db.demo import load
from db.demo import pairings as demo_pairings
from db.pool import Conn
from gongjian import clock
from resolvers import ids
from tests.support import ZONE, Api


async def _admin(conn: asyncpg.Connection, county: int) -> int:
    user = await conn.fetchval(
        "INSERT INTO users (county_id, username, password_hash) VALUES ($1, 'report-admin', 'x') RETURNING id", county
    )
    await conn.execute(
        "INSERT INTO role_grants (county_id, user_id, role, area_id) VALUES ($1, $2, 'COUNTY_ADMIN', $1)", county, user
    )
    return int(user)


async def test_demo_county_gives_the_report_figures(committed_db: dict[str, Any]) -> None:
    assert await load.run(committed_db["url"], "demo-password-1", today=clock.today(ZONE))
    api: Api = committed_db["api"]
    async with committed_db["pool"].acquire() as conn:
        county = await conn.fetchval("SELECT id FROM areas WHERE level = 'COUNTY'")
        token = api.token_for(await _admin(conn, county))
        today = clock.now().astimezone(datetime.timezone(datetime.timedelta(hours=8))).date()
    statistics = await api.op("Statistics", {"areaId": ids.encode("County", county)}, token=token)
    assert "errors" not in statistics
    s = statistics["data"]["statistics"]
    assert {
        k: s[k]
        for k in (
            "partyBranches",
            "functionalBranches",
            "buildingHeads",
            "adoptingUnits",
            "adoptedAreas",
            "pairedCadres",
            "pairedHouseholds",
            "households",
        )
    } == {
        "partyBranches": 3,
        "functionalBranches": 15,
        "buildingHeads": 162,
        "adoptingUnits": 75,
        "adoptedAreas": 218,
        "pairedCadres": 830,
        "pairedHouseholds": 2483,
        "households": 2483,
    }
    coverage = await api.op("Coverage", {"areaId": ids.encode("County", county)}, token=token)
    c = coverage["data"]["coverage"]
    assert c["buildings"] == c["buildingsWithHead"] == c["adoptedBuildings"] == 162
    assert c["households"] == c["pairedHouseholds"] == 2483
    assert c["uncoveredHouseholds"] == {"totalCount": 0, "edges": []}
    compliance = await api.op(
        "Compliance", {"areaId": ids.encode("County", county), "asOf": today.isoformat()}, token=token
    )
    k = compliance["data"]["compliance"]
    assert k["pairings"] >= 2483
    # realistic gaps on any day: every kind has both MET and DUE pairings, and DUE ones are listed
    for kind in k["byKind"]:
        assert kind["met"] > 0 and kind["due"] > 0, kind
    assert k["due"]["totalCount"] > 0 and len(k["due"]["edges"]) == 20


async def test_demo_sample_pairing(conn: asyncpg.Connection) -> None:
    from db.demo import areas, pairings

    today = datetime.date(2026, 3, 31)
    demo = load.Demo(conn=Conn(conn), rng=random.Random(load.SEED), password="x" * 8, today=today)
    await areas.step(demo)
    await pairings.step(demo)
    sample = demo.ids["sample"]
    paired = {
        r["household_id"]
        for r in await conn.fetch("SELECT household_id FROM pairings WHERE cadre_id = $1", sample["cadre"])
    }
    assert sample["resident_household"] in paired and sample["neighbour_household"] not in paired
    # visits lie within the pairing, within twelve months and never after today
    bad = await conn.fetchval(
        "SELECT count(*) FROM visits v JOIN pairings p ON p.id = v.pairing_id "
        "WHERE v.occurred_on < p.since OR v.occurred_on > $1 OR v.occurred_on < $1 - interval '12 months'",
        today,
    )
    assert bad == 0
    # the sample cadre still owes this month's home visit to the resident's household
    this_month = await conn.fetchval(
        "SELECT count(*) FROM visits v JOIN pairings p ON p.id = v.pairing_id WHERE p.cadre_id = $1 "
        "AND p.household_id = $2 AND v.kind = 'HOME_VISIT' AND v.occurred_on >= DATE '2026-03-01'",
        sample["cadre"],
        sample["resident_household"],
    )
    assert this_month == 0
    rows = await conn.fetch(
        "SELECT (organisation_id IS NOT NULL) AS by_unit, count(*) AS n FROM registrations GROUP BY 1 ORDER BY 1"
    )
    kinds = {r["by_unit"]: r["n"] for r in rows}
    assert kinds[True] > 0 and kinds[False] > 0
    # some history: ended pairings and adoptions stay as rows with their last day
    assert await conn.fetchval("SELECT count(*) FROM pairings WHERE until IS NOT NULL") > 0
    assert await conn.fetchval("SELECT count(*) FROM adoptions WHERE until IS NOT NULL") > 0
    statuses = {r[0] for r in await conn.fetch("SELECT DISTINCT status FROM registrations")}
    assert statuses == {"PENDING", "CONFIRMED"}


def _current_period(kind: str, today: datetime.date) -> datetime.date:
    if kind == "HOME_VISIT":
        return today.replace(day=1)
    if kind == "HEART_TO_HEART":
        return datetime.date(today.year, 1 if today.month <= 6 else 7, 1)
    return datetime.date(today.year, 1, 1)


def _edges_of_months(*years: int) -> list[datetime.date]:
    """The first, second, middle and last day of every month of `years`."""
    days = []
    for year in years:
        for month in range(1, 13):
            first = datetime.date(year, month, 1)
            last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
            days += [first, first.replace(day=2), first.replace(day=15), last]
    return days


def test_demo_visits_leave_met_and_due_pairings_on_every_day() -> None:
    """The demo looks like a county at work on any day of the year (the 1st and last of every
    month, New Year's day and a leap day among the days tried): for each obligation kind, some pairings have met the
    current period's duty and some still owe it; and no visit lies after the demo's today or
    before its pairing began."""
    since = [datetime.date(2026, 3, 9) + datetime.timedelta(days=7 * n) for n in range(40)]
    pairings = [(n, n % 100, n, since[n % len(since)]) for n in range(300)]
    for today in _edges_of_months(2027, 2028):
        demo = load.Demo(conn=None, rng=random.Random(load.SEED), password="", today=today)  # type: ignore[arg-type]
        demo.ids = {"county": 1, "sample": {"cadre": 0, "resident_household": 0}}
        visits = demo_pairings._visits(demo, [p for p in pairings if p[3] <= today])
        assert all(since[p % len(since)] <= day <= today for _, p, _, day, _ in visits), today
        for kind in ("HOME_VISIT", "HEART_TO_HEART", "GOOD_DEED"):
            start = _current_period(kind, today)
            met = {p for _, p, k, day, _ in visits if k == kind and day >= start}
            active = {p for p, _, _, s in pairings if s <= today}
            assert 0 < len(met) < len(active), (today, kind, len(met), len(active))
