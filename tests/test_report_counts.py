"""The counts the reports read are kept by triggers (0030_report_counts.sql): after every kind
of change they equal a recount from the raw rows (the reports' former statements,
tests/recount.py), for every area of the county and on the days where periods turn."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable
from typing import Any

import asyncpg
import pytest

from resolvers.ids import encode as gid
from tests import builders as b
from tests.recount import differences
from tests.support import Api, own_connection

D = datetime.date
# the first and last days of months, half-years and years, a leap day, and days inside
DAYS = [
    D(2024, 2, 29),
    D(2024, 12, 31),
    D(2025, 1, 1),
    D(2025, 3, 15),
    D(2025, 6, 30),
    D(2025, 7, 1),
    D(2025, 7, 31),
    D(2025, 8, 1),
    D(2025, 12, 31),
    D(2026, 1, 1),
]


async def assert_kept(conn: asyncpg.Connection, county: int, step: str) -> None:
    """Every area of the county, at every day of DAYS: the kept figures are the recounted ones."""
    areas = [r["id"] for r in await conn.fetch("SELECT id FROM areas WHERE county_id = $1 ORDER BY id", county)]
    found = {(area, day): diff for area in areas for day in DAYS if (diff := await differences(conn, area, day))}
    assert found == {}, step


async def visit(conn: asyncpg.Connection, pairing: int, kind: str, day: D) -> int:
    return await b.visit(conn, pairing, kind, day.isoformat())


async def test_kept_counts_follow_every_change(conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    county = w.county
    await assert_kept(conn, county, "the world")

    # a second compound with a building and its stairwell unit, households and residents
    compound = await b.area(conn, "COMPOUND", "椒溪苑", w.other_community)
    building = await b.area(conn, "BUILDING", "5号楼", compound)
    unit = await b.area(conn, "UNIT", "1单元", building)
    in_unit = await b.household(conn, building, "1单元102", unit=unit)
    many = await b.households_in(conn, building, 4, residents=2)
    await b.person(conn, county, "孙居民", household=in_unit)
    await assert_kept(conn, county, "new households and residents")

    # pairings: two cadres on one household, one on others, one starting on a period's first day
    cadre = w.people["cadre"]
    other_cadre = await b.cadre(conn, county, w.unit, "吴干部")
    first = await b.pairing_of(conn, cadre, w.household)
    second = await b.pairing(conn, other_cadre, w.household, since="2025-07-01")
    third = await b.pairing(conn, other_cadre, in_unit, since="2024-03-01")
    fourth = await b.pairing(conn, cadre, many[0], since="2025-01-01")
    await assert_kept(conn, county, "new pairings")

    # visits on the boundaries of every period, one before the pairing began, one after asOf days
    for kind, day in (
        ("HOME_VISIT", D(2024, 2, 29)),
        ("HOME_VISIT", D(2025, 6, 30)),
        ("HOME_VISIT", D(2025, 7, 1)),
        ("HEART_TO_HEART", D(2025, 6, 30)),
        ("HEART_TO_HEART", D(2025, 7, 31)),
        ("GOOD_DEED", D(2024, 12, 31)),
        ("GOOD_DEED", D(2025, 1, 1)),
    ):
        await visit(conn, first, kind, day)
    for kind, day in (("HOME_VISIT", D(2025, 7, 1)), ("HEART_TO_HEART", D(2025, 7, 1)), ("GOOD_DEED", D(2025, 7, 1))):
        await visit(conn, second, kind, day)
    await visit(conn, second, "HOME_VISIT", D(2025, 6, 15))  # before `since`: counts while the pairing is active
    await visit(conn, third, "HOME_VISIT", D(2025, 12, 31))
    await visit(conn, third, "HOME_VISIT", D(2026, 1, 1))
    # many visits in one statement
    await conn.execute(
        "INSERT INTO visits (county_id, pairing_id, kind, occurred_on) "
        "SELECT $1, p, k, DATE '2025-01-01' + g * 17 FROM unnest($2::bigint[]) p, "
        "unnest('{HOME_VISIT,HEART_TO_HEART,GOOD_DEED}'::text[]) k, generate_series(0, 25) g",
        county,
        [third, fourth],
    )
    await assert_kept(conn, county, "visits")

    # corrections: another kind, another day, another pairing; deletions
    moved_visit = await visit(conn, fourth, "HOME_VISIT", D(2025, 8, 1))
    await conn.execute("UPDATE visits SET kind = 'GOOD_DEED' WHERE id = $1", moved_visit)
    await conn.execute("UPDATE visits SET occurred_on = DATE '2025-07-31' WHERE id = $1", moved_visit)
    await conn.execute("UPDATE visits SET pairing_id = $2 WHERE id = $1", moved_visit, second)
    await conn.execute("UPDATE visits SET notes = '补记' WHERE pairing_id = $1", third)  # nothing counted changes
    await conn.execute("DELETE FROM visits WHERE pairing_id = $1 AND occurred_on = DATE '2025-07-01'", first)
    await assert_kept(conn, county, "visits corrected and deleted")

    # a pairing changes cadre, begins later, ends (on a period's last day), moves to another household
    await conn.execute("UPDATE pairings SET cadre_id = $2 WHERE id = $1", fourth, other_cadre)
    await conn.execute("UPDATE pairings SET since = DATE '2025-07-01' WHERE id = $1", fourth)
    await conn.execute("UPDATE pairings SET until = DATE '2025-06-30' WHERE id = $1", first)
    await conn.execute("UPDATE pairings SET until = DATE '2025-07-15' WHERE id = $1", third)
    await conn.execute("UPDATE pairings SET household_id = $2 WHERE id = $1", fourth, many[1])
    await assert_kept(conn, county, "pairings changed and ended")

    # households move between buildings (into a unit, into another community), residents between households
    await conn.execute("UPDATE households SET area_id = $2, building_id = $2 WHERE id = $1", in_unit, w.building)
    move = "UPDATE households SET area_id = $2, building_id = $3 WHERE id = $1"
    await conn.execute(move, w.household, unit, building)
    await conn.execute(
        "UPDATE persons SET household_id = $2 WHERE household_id = $1 AND id = (SELECT min(id) FROM persons "
        "WHERE household_id = $1)",
        many[2],
        w.neighbour_household,
    )
    await conn.execute("UPDATE persons SET household_id = NULL WHERE household_id = $1", many[3])
    await assert_kept(conn, county, "moves")

    # deletions: a pairing with its visits, residents, a household
    await conn.execute("DELETE FROM visits WHERE pairing_id = $1", second)
    await conn.execute("DELETE FROM pairings WHERE id = $1", second)
    await conn.execute("DELETE FROM persons WHERE household_id = $1", many[2])
    await conn.execute("DELETE FROM households WHERE id = ANY($1::bigint[])", many[2:])
    await assert_kept(conn, county, "deletions")


async def test_kept_counts_do_not_depend_on_the_sessions_time_zone(conn: asyncpg.Connection) -> None:
    """Visits and pairings carry the county's dates: a session in another zone counts the same."""
    w = await b.world(conn)
    await conn.execute("SET LOCAL gongjian.time_zone = 'America/Los_Angeles'")
    await conn.execute("SET LOCAL timezone = 'Pacific/Kiritimati'")
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    await visit(conn, pairing, "HOME_VISIT", D(2025, 7, 1))
    await conn.execute("UPDATE pairings SET until = DATE '2025-12-31' WHERE id = $1", pairing)
    await assert_kept(conn, w.county, "another zone")


@pytest.mark.parametrize("table", ["households", "persons", "pairings", "visits"])
async def test_the_triggers_are_statement_level(conn: asyncpg.Connection, table: str) -> None:
    """One trigger per event (insert, update, delete, truncate), each once per statement
    (bulk imports pay once, not per row)."""
    rows = await conn.fetch(
        "SELECT t.tgtype FROM pg_trigger t WHERE t.tgrelid = $1::regclass AND t.tgname LIKE '%report_counts%'", table
    )
    assert len(rows) == 4
    assert all(r["tgtype"] & 1 == 0 for r in rows)  # TRIGGER_TYPE_ROW unset


async def test_a_truncate_counts_everything_again(conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    await visit(conn, pairing, "HOME_VISIT", D(2025, 7, 1))
    await conn.execute("TRUNCATE visits CASCADE")
    await assert_kept(conn, w.county, "visits truncated")


RECORD_VISIT = """
mutation($pairingId: ID!, $kind: ObligationKind!, $occurredOn: Date!) {
  recordVisit(input: {pairingId: $pairingId, kind: $kind, occurredOn: $occurredOn}) { userErrors { code } } }
"""
PAIR = """
mutation($cadreId: ID!, $householdId: ID!, $since: Date!) {
  pair(input: {cadreId: $cadreId, householdId: $householdId, since: $since}) { userErrors { code } } }
"""
END_PAIRING = """
mutation($pairingId: ID!, $until: Date!) {
  endPairing(input: {pairingId: $pairingId, until: $until}) { userErrors { code } } }
"""


async def test_concurrent_writers_keep_the_counts(committed_db: dict[str, Any]) -> None:
    """Requests and transactions at once on one building's counters (visits on one day, new
    pairings, endings, a household moving away, residents, a bulk of visits and a deletion,
    transactions that stay open while others count the same pairings and household): no
    deadlock, no error, no count lost."""
    api: Api = committed_db["api"]
    async with own_connection(committed_db) as conn:
        w = await b.world(conn)
        homes = await b.households_in(conn, w.other_building, 16, residents=1)
        cadre = w.people["cadre"]
        other_cadre = await b.cadre(conn, w.county, w.unit, "吴干部")
        pairings = [await b.pairing(conn, cadre, h, since="2025-01-01") for h in homes]
        fresh = await b.household(conn, w.other_building, "空户")
    admin = api.token_for(w.users["admin"])
    as_cadre = api.token_for(w.users["cadre"])

    def visit(i: int, kind: str) -> Awaitable[dict[str, Any]]:
        variables = {"pairingId": gid("Pairing", pairings[i]), "kind": kind, "occurredOn": "2025-07-01"}
        return api.ok(RECORD_VISIT, variables, token=as_cadre)

    async def move_away() -> None:
        async with own_connection(committed_db) as conn, conn.transaction():
            await conn.execute(
                "UPDATE households SET area_id = $2, building_id = $2 WHERE id = ANY($1::bigint[])",
                homes[10:12],
                w.building,
            )

    async def residents() -> None:
        async with own_connection(committed_db) as conn, conn.transaction():
            for _ in range(3):
                await b.person(conn, w.county, household=homes[11])

    async def bulk_visits() -> None:
        async with own_connection(committed_db) as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO visits (county_id, pairing_id, kind, occurred_on) SELECT $1, p, k, DATE '2025-07-01' "
                "FROM unnest($2::bigint[]) p, unnest('{HEART_TO_HEART,GOOD_DEED}'::text[]) k",
                w.county,
                pairings[:4],
            )
            await conn.execute("DELETE FROM visits WHERE pairing_id = $1 AND kind = 'GOOD_DEED'", pairings[3])

    async def slow(sql: str, *args: Any) -> None:
        """A statement in a transaction that stays open a moment: others count meanwhile."""
        async with own_connection(committed_db) as conn, conn.transaction():
            await conn.execute(sql, *args)
            await conn.execute("SELECT pg_sleep(0.3)")

    slow_visits = "INSERT INTO visits (county_id, pairing_id, kind, occurred_on) SELECT $1, p, $3, DATE '2025-07-02' "
    slow_visits += "FROM unnest($2::bigint[]) p"
    slow_pair = "INSERT INTO pairings (county_id, cadre_id, household_id, since) VALUES ($1, $2, $3, DATE '2025-07-02')"
    recorded = [*range(8), *range(12, 16)]  # 8 to 11 end meanwhile
    answers = await asyncio.gather(
        *[visit(i, "HOME_VISIT") for i in recorded],
        *[visit(i, "HEART_TO_HEART") for i in recorded[4:]],
        *[visit(i, "GOOD_DEED") for i in recorded[4:]],
        *[
            api.ok(
                PAIR,
                {"cadreId": gid("Person", other_cadre), "householdId": gid("Household", h), "since": "2025-06-30"},
                token=admin,
            )
            for h in homes[:8]
        ],
        *[
            api.ok(END_PAIRING, {"pairingId": gid("Pairing", p), "until": "2025-07-15"}, token=admin)
            for p in pairings[8:12]
        ],
        *[slow(slow_visits, w.county, pairings[12:], kind) for kind in ("HOME_VISIT", "HEART_TO_HEART", "GOOD_DEED")],
        *[slow(slow_pair, w.county, c, fresh) for c in (cadre, other_cadre)],
        move_away(),
        residents(),
        bulk_visits(),
    )
    errors = [e for a in answers if a for payload in a.values() for e in payload["userErrors"]]
    assert errors == []
    async with own_connection(committed_db) as conn:
        assert await conn.fetchval("SELECT count(*) FROM visits") == 12 + 8 + 8 + 8 - 1 + 12
        assert await conn.fetchval("SELECT count(*) FROM pairings WHERE until IS NULL") == 16 + 1 + 8 - 4 + 2
        await assert_kept(conn, w.county, "after the concurrent writers")
