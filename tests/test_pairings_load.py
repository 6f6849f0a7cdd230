"""Pairings under concurrency (committed database) and the statement count of the pairing
lists and reports (no N+1)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import pytest

from resolvers import ids
from tests import builders as b
from tests.support import Api


def gid(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


async def test_concurrent_same_pair_and_adoption_create_one(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    async with committed_db["pool"].acquire() as conn:
        w = await b.world(conn)
    admin = api.token_for(w.users["admin"])
    staff = api.token_for(w.users["staff"])
    pair = {"cadreId": gid("Person", w.people["cadre"]), "householdId": gid("Household", w.neighbour_household)}
    adopt = {"unitId": gid("Organisation", w.unit), "areaId": gid("Compound", w.compound)}
    results = await asyncio.gather(
        *[api.op("Pair", pair, token=admin if i % 2 else staff) for i in range(6)],
        *[api.op("Adopt", adopt, token=admin) for _ in range(6)],
    )
    pairs = [r["data"]["pair"]["userErrors"] for r in results[:6]]
    adopts = [r["data"]["adopt"]["userErrors"] for r in results[6:]]
    for outcomes in (pairs, adopts):
        assert sum(1 for e in outcomes if e == []) == 1
        assert all(e == [] or e[0]["code"] == "ALREADY_EXISTS" for e in outcomes)
    async with committed_db["pool"].acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pairings WHERE household_id = $1", w.neighbour_household) == 1
        assert await conn.fetchval("SELECT count(*) FROM adoptions WHERE area_id = $1", w.compound) == 1


def _statements(caplog: pytest.LogCaptureFixture) -> int:
    records = [r for r in caplog.records if r.getMessage() == "operation"]
    assert records
    count: int = records[-1].fields["sql_statements"]  # type: ignore[attr-defined]
    return count


async def _count(api: Api, caplog: pytest.LogCaptureFixture, query: str, variables: dict[str, Any], token: str) -> int:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gongjian.graphql"):
        result = await api.post(query, variables, token=token)
    assert "errors" not in result, result
    return _statements(caplog)


MY_PAIRINGS = """
query($id: ID!, $asOf: Date) { node(id: $id) { ... on Person { id name pairings(first: 100) { totalCount
  edges { node { id since cadre { name } household { id label } obligations(asOf: $asOf) { kind done status }
  visits(first: 5) { totalCount edges { node { kind occurredOn } } } } } } } } }
"""


async def test_pairings_list_statements_do_not_grow(
    api: Api, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    w = await b.world(conn)
    few_cadre = await b.cadre(conn, w.county, w.unit)
    many_cadre = await b.cadre(conn, w.county, w.unit)
    households = await b.households_in(conn, w.other_building, 40, residents=1)
    for i, household in enumerate(households):
        cadre = few_cadre if i < 2 else many_cadre
        pairing = await b.pairing(conn, cadre, household)
        await b.visit(conn, pairing, "HOME_VISIT", "2025-03-03")
    admin = api.token_for(w.users["admin"])
    few = await _count(api, caplog, MY_PAIRINGS, {"id": gid("Person", few_cadre), "asOf": "2025-03-31"}, admin)
    many = await _count(api, caplog, MY_PAIRINGS, {"id": gid("Person", many_cadre), "asOf": "2025-03-31"}, admin)
    assert few == many


async def test_report_statements_do_not_grow(
    api: Api, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    w = await b.world(conn)
    admin = api.token_for(w.users["admin"])
    compliance = (
        'query($id: ID!) { compliance(areaId: $id, asOf: "2025-03-31") { pairings byKind { kind met due } '
        "due(first: 100) { totalCount edges { node { id cadre { name } household { label } } } } } }"
    )
    coverage = (
        "query($id: ID!) { coverage(areaId: $id) { buildings households "
        "uncoveredHouseholds(first: 100) { totalCount edges { node { id label } } } } }"
    )
    before = [await _count(api, caplog, q, {"id": gid("County", w.county)}, admin) for q in (compliance, coverage)]
    cadre = await b.cadre(conn, w.county, w.unit)
    for household in await b.households_in(conn, w.other_building, 30, residents=1):
        await b.pairing(conn, cadre, household)
    await b.households_in(conn, w.building, 30, residents=1)
    after = [await _count(api, caplog, q, {"id": gid("County", w.county)}, admin) for q in (compliance, coverage)]
    assert before == after
