"""Old-compound renovation projects: plan, start, complete, list."""

from __future__ import annotations

import asyncpg

from gongjian import clock
from resolvers import ids
from tests import builders
from tests.builders import world
from tests.support import ZONE, Api

PLAN = """
mutation($c: ID!, $t: String!, $y: Int!) { planRenovation(input: {compoundId: $c, title: $t, year: $y}) {
  renovation { id title status year compound { name } } userErrors { field code } } }
"""
START = """
mutation($id: ID!) { startRenovation(input: {renovationId: $id}) {
  renovation { status year } userErrors { field code } } }
"""
COMPLETE = """
mutation($id: ID!) { completeRenovation(input: {renovationId: $id}) {
  renovation { status year } userErrors { field code } } }
"""
LIST = """
query($areaId: ID, $status: RenovationStatus, $first: Int, $after: String) {
  renovationProjects(filter: {areaId: $areaId, status: $status}, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id status year } } } }
"""


async def test_plan_start_complete(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    staff = api.token_for(w.users["staff"])
    planned = await api.ok(PLAN, {"c": ids.encode("Compound", w.compound), "t": "滨河小区改造", "y": 2027}, token=staff)
    renovation = planned["planRenovation"]["renovation"]
    assert planned["planRenovation"]["userErrors"] == []
    assert renovation["status"] == "PLANNED" and renovation["year"] == 2027
    assert renovation["compound"] == {"name": "滨河小区"}

    early = await api.ok(COMPLETE, {"id": renovation["id"]}, token=staff)
    assert early["completeRenovation"]["userErrors"] == [{"field": ["renovationId"], "code": "INVALID_STATE"}]
    started = await api.ok(START, {"id": renovation["id"]}, token=api.token_for(w.users["admin"]))
    assert started["startRenovation"] == {"renovation": {"status": "IN_PROGRESS", "year": 2027}, "userErrors": []}
    again = await api.ok(START, {"id": renovation["id"]}, token=staff)
    assert again["startRenovation"]["userErrors"][0]["code"] == "INVALID_STATE"
    done = await api.ok(COMPLETE, {"id": renovation["id"]}, token=staff)
    this_year = clock.today(ZONE).year
    assert done["completeRenovation"] == {"renovation": {"status": "COMPLETED", "year": this_year}, "userErrors": []}


async def test_refusals_change_nothing(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    compound = ids.encode("Compound", w.compound)
    staff = api.token_for(w.users["staff"])
    for who in ("resident", "unit", "head"):
        refused = await api.ok(PLAN, {"c": compound, "t": "改造", "y": 2027}, token=api.token_for(w.users[who]))
        assert refused["planRenovation"]["userErrors"] == [{"field": None, "code": "FORBIDDEN"}]
    bad_year = await api.ok(PLAN, {"c": compound, "t": "改造", "y": 1800}, token=staff)
    assert bad_year["planRenovation"]["userErrors"] == [{"field": ["year"], "code": "INVALID"}]
    blank = await api.ok(PLAN, {"c": compound, "t": " ", "y": 2027}, token=staff)
    assert blank["planRenovation"]["userErrors"] == [{"field": ["title"], "code": "INVALID"}]
    wrong = await api.ok(PLAN, {"c": ids.encode("Compound", w.building), "t": "改造", "y": 2027}, token=staff)
    assert wrong["planRenovation"]["userErrors"] == [{"field": ["compoundId"], "code": "NOT_FOUND"}]
    assert await conn.fetchval("SELECT count(*) FROM renovations") == 0

    planned = ids.encode("Renovation", await builders.renovation(conn, w.compound))
    forbidden = await api.ok(START, {"id": planned}, token=api.token_for(w.users["resident"]))
    assert forbidden["startRenovation"]["userErrors"] == [{"field": None, "code": "FORBIDDEN"}]
    missing = await api.ok(START, {"id": ids.encode("Renovation", 0)}, token=staff)
    assert missing["startRenovation"]["userErrors"] == [{"field": ["renovationId"], "code": "NOT_FOUND"}]
    assert await conn.fetchval("SELECT count(*) FROM renovations WHERE status = 'PLANNED'") == 1


async def test_list_filters_and_pages(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    other = await builders.area(conn, "COMPOUND", "椒溪小区", w.other_community)
    made = [
        await builders.renovation(conn, w.compound, status="COMPLETED", year=2021),
        await builders.renovation(conn, w.compound, status="IN_PROGRESS"),
        await builders.renovation(conn, other, status="COMPLETED", year=2022),
    ]
    token = api.token_for(w.users["resident"])
    everything = await api.ok(LIST, {"first": 2}, token=token)
    assert everything["renovationProjects"]["totalCount"] == 3
    assert everything["renovationProjects"]["pageInfo"]["hasNextPage"] is True
    rest = await api.ok(LIST, {"after": everything["renovationProjects"]["pageInfo"]["endCursor"]}, token=token)
    assert [e["node"]["id"] for e in rest["renovationProjects"]["edges"]] == [ids.encode("Renovation", made[2])]
    completed_here = await api.ok(
        LIST, {"areaId": ids.encode("Community", w.community), "status": "COMPLETED"}, token=token
    )
    assert completed_here["renovationProjects"]["edges"] == [
        {"node": {"id": ids.encode("Renovation", made[0]), "status": "COMPLETED", "year": 2021}}
    ]
    too_many = await api.post(LIST, {"first": 500}, token=token)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_compounds_show_their_renovations(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    other = await builders.area(conn, "COMPOUND", "南街家属院", w.district, compound_kind="STAFF_HOUSING")
    await builders.renovation(conn, w.compound, status="COMPLETED", year=2022, title="管网改造")
    await builders.renovation(conn, w.compound, status="PLANNED", year=2027, title="加装电梯")
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Compound { name renovations { title status year } } } }"
    variables = {"ids": [ids.encode("Compound", w.compound), ids.encode("Compound", other)]}
    data = await api.ok(query, variables, token=api.token_for(w.users["resident"]))
    assert data["nodes"] == [
        {
            "name": "滨河小区",
            "renovations": [
                {"title": "管网改造", "status": "COMPLETED", "year": 2022},
                {"title": "加装电梯", "status": "PLANNED", "year": 2027},
            ],
        },
        {"name": "南街家属院", "renovations": []},
    ]
