"""Who was not visited this month (DueHouseholds): exact, per household, per obligation kind."""

from __future__ import annotations

from typing import Any

import asyncpg

from resolvers import ids
from tests import builders as b
from tests.support import Api


async def _due(api: Api, token: str, area: str, as_of: str, kind: str, **page: Any) -> dict[str, Any]:
    result = await api.op("DueHouseholds", {"areaId": area, "asOf": as_of, "kind": kind, **page}, token=token)
    assert "errors" not in result, result["errors"]
    connection: dict[str, Any] = result["data"]["compliance"]["dueHouseholds"]
    return connection


async def test_a_household_is_due_only_when_none_of_its_cadres_met_the_obligation(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    second = await b.cadre(conn, w.county, w.unit, "周干部")
    both = await b.household(conn, w.other_building, "301")  # two cadres, one visited in March
    await b.pairing(conn, w.people["cadre"], both)
    await b.visit(conn, await b.pairing(conn, second, both), "HOME_VISIT", "2025-03-02")
    last_month = await b.household(conn, w.other_building, "302")  # visited in February only
    await b.visit(conn, await b.pairing(conn, second, last_month), "HOME_VISIT", "2025-02-27")
    late = await b.household(conn, w.other_building, "303")  # visited after asOf
    await b.visit(conn, await b.pairing(conn, second, late), "HOME_VISIT", "2025-03-20")
    await b.household(conn, w.other_building, "304")  # not paired: owes nothing
    community = ids.encode("Community", w.community)

    due = await _due(api, staff, community, "2025-03-15", "HOME_VISIT")
    assert due["totalCount"] == 3
    assert [e["node"]["fullAddress"] for e in due["edges"]] == [
        "东岳殿社区 滨河小区 1号楼 1单元101",
        "东岳殿社区 滨河小区 2号楼 302",
        "东岳殿社区 滨河小区 2号楼 303",
    ]
    first = due["edges"][0]["node"]
    assert first["id"] == ids.encode("Household", w.household) and first["label"] == "1单元101"
    assert [p["cadre"]["name"] for p in first["pairings"]] == ["张干部"]
    # the February visit meets the half-year's heart-to-heart talk? No: it was a home visit
    talks = await _due(api, staff, community, "2025-03-15", "HEART_TO_HEART")
    assert talks["totalCount"] == 4
    await b.visit(conn, await b.pairing_of(conn, second, last_month), "HEART_TO_HEART", "2025-01-10")
    talks = await _due(api, staff, community, "2025-03-15", "HEART_TO_HEART")
    assert "东岳殿社区 滨河小区 2号楼 302" not in [e["node"]["fullAddress"] for e in talks["edges"]]
    # in July a new half-year begins: the January talk no longer counts
    july = await _due(api, staff, community, "2025-07-01", "HEART_TO_HEART")
    assert july["totalCount"] == 4


async def test_pages_follow_the_address_order(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    for label in ("9", "10", "11"):
        await b.pairing(conn, w.people["cadre"], await b.household(conn, w.other_building, label))
    building = ids.encode("Building", w.other_building)
    seen: list[str] = []
    after = None
    while True:
        page = await _due(api, staff, building, "2025-03-15", "GOOD_DEED", first=2, after=after)
        assert page["totalCount"] == 3
        seen += [e["node"]["label"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["10", "11", "9"]  # text order of the full address
    bad = await api.op(
        "DueHouseholds",
        {"areaId": building, "asOf": "2025-03-15", "kind": "GOOD_DEED", "after": "bm90LWEtY3Vyc29y"},
        token=staff,
    )
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_only_report_readers_see_due_households(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    variables = {"areaId": ids.encode("Community", w.community), "asOf": "2025-03-15", "kind": "HOME_VISIT"}
    for who in ("resident", "cadre"):
        refused = await api.op("DueHouseholds", variables, token=api.token_for(w.users[who]))
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", who
