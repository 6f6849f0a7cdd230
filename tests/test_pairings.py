"""Adoption, pairing, visits and dual registration, driven through HTTP with the contract's
operations."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import asyncpg
import pytest

from gongjian import clock
from resolvers import ids
from tests import builders as b
from tests.support import Api


def gid(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


@pytest.fixture
async def w(conn: asyncpg.Connection) -> b.World:
    return await b.world(conn)


def tok(api: Api, w: b.World, who: str) -> str:
    return api.token_for(w.users[who])


async def _count(conn: asyncpg.Connection, table: str) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608 - test table names


# --- adopt -----------------------------------------------------------------------------------


async def test_admin_adopts_a_compound_with_all_duties(api: Api, w: b.World) -> None:
    result = await api.op(
        "Adopt",
        {"unitId": gid("Organisation", w.unit), "areaId": gid("Compound", w.compound)},
        token=tok(api, w, "admin"),
    )
    payload = result["data"]["adopt"]
    assert payload["userErrors"] == []
    adoption = payload["adoption"]
    assert adoption["unit"]["id"] == gid("Organisation", w.unit)
    assert adoption["area"] == {"id": gid("Compound", w.compound), "name": "滨河小区", "level": "COMPOUND"}
    assert adoption["duties"] == ["ASSIST_MANAGEMENT", "PUBLIC_SERVICE", "MOBILISATION"]
    assert adoption["since"] == clock.today("Asia/Shanghai").isoformat()


@pytest.mark.parametrize("who", ["admin", "staff", "unit"])
async def test_who_may_adopt(api: Api, w: b.World, who: str) -> None:
    result = await api.op(
        "Adopt",
        {"unitId": gid("Organisation", w.unit), "areaId": gid("Building", w.building), "duties": ["MOBILISATION"]},
        token=tok(api, w, who),
    )
    assert result["data"]["adopt"]["userErrors"] == []
    assert result["data"]["adopt"]["adoption"]["duties"] == ["MOBILISATION"]


@pytest.mark.parametrize("who", ["head", "cadre", "resident", "neighbour"])
async def test_others_may_not_adopt(api: Api, conn: asyncpg.Connection, w: b.World, who: str) -> None:
    result = await api.op(
        "Adopt", {"unitId": gid("Organisation", w.unit), "areaId": gid("Building", w.building)}, token=tok(api, w, who)
    )
    assert codes(result["data"]["adopt"]) == ["FORBIDDEN"]
    assert result["data"]["adopt"]["adoption"] is None
    assert await _count(conn, "adoptions") == 0


async def test_staff_out_of_scope_and_another_units_admin_may_not_adopt(
    api: Api, conn: asyncpg.Connection, w: b.World
) -> None:
    other_staff = await b.user(conn, w.county, grants=[("COMMUNITY_STAFF", w.other_community)])
    other_unit = await b.organisation(conn, w.county, "ENTERPRISE")
    other_admin = await b.user(conn, w.county, grants=[("UNIT_ADMIN", other_unit)])
    for user in (other_staff, other_admin):
        result = await api.op(
            "Adopt",
            {"unitId": gid("Organisation", w.unit), "areaId": gid("Compound", w.compound)},
            token=api.token_for(user),
        )
        assert codes(result["data"]["adopt"]) == ["FORBIDDEN"]


async def test_same_unit_and_area_twice_is_already_exists(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    variables = {"unitId": gid("Organisation", w.unit), "areaId": gid("Compound", w.compound)}
    first = await api.op("Adopt", variables, token=tok(api, w, "admin"))
    assert first["data"]["adopt"]["userErrors"] == []
    again = await api.op("Adopt", variables, token=tok(api, w, "unit"))
    assert codes(again["data"]["adopt"]) == ["ALREADY_EXISTS"]
    assert again["data"]["adopt"]["userErrors"][0]["field"] == ["areaId"]
    assert await _count(conn, "adoptions") == 1
    # another unit may adopt the same area
    other = await b.organisation(conn, w.county, "PUBLIC_INSTITUTION")
    ok = await api.op("Adopt", {**variables, "unitId": gid("Organisation", other)}, token=tok(api, w, "admin"))
    assert ok["data"]["adopt"]["userErrors"] == []


async def test_adopt_refuses_wrong_kinds_and_unknown_ids(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    branch = await b.organisation(conn, w.county, "PARTY_BRANCH", area_id=w.community)
    admin = tok(api, w, "admin")
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"unitId": gid("Organisation", branch), "areaId": gid("Compound", w.compound)}, "INVALID", ["unitId"]),
        ({"unitId": gid("Organisation", w.unit), "areaId": gid("Community", w.community)}, "INVALID", ["areaId"]),
        (
            {"unitId": gid("Organisation", w.unit), "areaId": gid("Compound", w.compound), "duties": []},
            "INVALID",
            ["duties"],
        ),
        ({"unitId": gid("Organisation", 999999), "areaId": gid("Compound", w.compound)}, "NOT_FOUND", ["unitId"]),
        ({"unitId": "garbage", "areaId": gid("Compound", w.compound)}, "NOT_FOUND", ["unitId"]),
        ({"unitId": gid("Organisation", w.unit), "areaId": gid("Compound", 999999)}, "NOT_FOUND", ["areaId"]),
    ]
    for variables, code, field in cases:
        payload = (await api.op("Adopt", variables, token=admin))["data"]["adopt"]
        assert payload["userErrors"][0]["code"] == code, variables
        assert payload["userErrors"][0]["field"] == field, variables
    assert await _count(conn, "adoptions") == 0


END_ADOPTION = """
mutation($id: ID!, $until: Date) {
  endAdoption(input: {adoptionId: $id, until: $until}) { adoption { id since until } userErrors { field code } }
}
"""


async def test_end_adoption_then_adopt_again(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    adoption = await b.adoption(conn, w.unit, w.compound, since="2025-01-01")
    admin = tok(api, w, "admin")
    before = await api.ok(END_ADOPTION, {"id": gid("Adoption", adoption), "until": "2024-12-31"}, token=admin)
    assert before["endAdoption"]["userErrors"] == [{"field": ["until"], "code": "INVALID"}]
    future = await api.ok(END_ADOPTION, {"id": gid("Adoption", adoption), "until": "2999-01-01"}, token=admin)
    assert future["endAdoption"]["userErrors"] == [{"field": ["until"], "code": "INVALID"}]
    resident = await api.ok(END_ADOPTION, {"id": gid("Adoption", adoption)}, token=tok(api, w, "resident"))
    assert resident["endAdoption"]["userErrors"][0]["code"] == "FORBIDDEN"
    ended = await api.ok(
        END_ADOPTION, {"id": gid("Adoption", adoption), "until": "2025-06-30"}, token=tok(api, w, "unit")
    )
    assert ended["endAdoption"]["adoption"]["until"] == "2025-06-30"
    again = await api.ok(END_ADOPTION, {"id": gid("Adoption", adoption)}, token=admin)
    assert again["endAdoption"]["userErrors"] == [{"field": ["adoptionId"], "code": "INVALID_STATE"}]
    readopt = await api.op(
        "Adopt", {"unitId": gid("Organisation", w.unit), "areaId": gid("Compound", w.compound)}, token=admin
    )
    assert readopt["data"]["adopt"]["userErrors"] == []


# --- pair ------------------------------------------------------------------------------------


async def test_staff_pairs_a_cadre_with_a_household(api: Api, w: b.World) -> None:
    result = await api.op(
        "Pair",
        {"cadreId": gid("Person", w.people["cadre"]), "householdId": gid("Household", w.neighbour_household)},
        token=tok(api, w, "staff"),
    )
    payload = result["data"]["pair"]
    assert payload["userErrors"] == []
    assert payload["pairing"]["cadre"] == {"id": gid("Person", w.people["cadre"]), "name": "张干部"}
    assert payload["pairing"]["household"] == {"id": gid("Household", w.neighbour_household), "label": "1单元202"}
    assert payload["pairing"]["since"] == clock.today("Asia/Shanghai").isoformat()


async def test_same_pair_twice_is_already_exists(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    # the world already pairs cadre with the resident's household
    result = await api.op(
        "Pair",
        {"cadreId": gid("Person", w.people["cadre"]), "householdId": gid("Household", w.household)},
        token=tok(api, w, "admin"),
    )
    assert codes(result["data"]["pair"]) == ["ALREADY_EXISTS"]
    assert await _count(conn, "pairings") == 1


async def test_several_cadres_per_household_and_households_per_cadre(
    api: Api, conn: asyncpg.Connection, w: b.World
) -> None:
    second = await b.cadre(conn, w.county, w.unit, "刘干部")
    admin = tok(api, w, "admin")
    for cadre, household in ((second, w.household), (w.people["cadre"], w.neighbour_household)):
        result = await api.op(
            "Pair", {"cadreId": gid("Person", cadre), "householdId": gid("Household", household)}, token=admin
        )
        assert result["data"]["pair"]["userErrors"] == []
    assert await _count(conn, "pairings") == 3


@pytest.mark.parametrize("who", ["head", "cadre", "resident", "unit"])
async def test_others_may_not_pair(api: Api, conn: asyncpg.Connection, w: b.World, who: str) -> None:
    result = await api.op(
        "Pair",
        {"cadreId": gid("Person", w.people["cadre"]), "householdId": gid("Household", w.neighbour_household)},
        token=tok(api, w, who),
    )
    assert codes(result["data"]["pair"]) == ["FORBIDDEN"]
    assert await _count(conn, "pairings") == 1


async def test_staff_of_another_community_may_not_pair(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    other_staff = await b.user(conn, w.county, grants=[("COMMUNITY_STAFF", w.other_community)])
    result = await api.op(
        "Pair",
        {"cadreId": gid("Person", w.people["cadre"]), "householdId": gid("Household", w.neighbour_household)},
        token=api.token_for(other_staff),
    )
    assert codes(result["data"]["pair"]) == ["FORBIDDEN"]


async def test_only_a_cadre_may_be_paired(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    member_without_post = await b.person(conn, w.county, "党员无职", party_member=True)
    not_a_member = await b.person(conn, w.county, "群众在职")
    await b.post(conn, not_a_member, w.unit)
    committee = await b.organisation(conn, w.county, "RESIDENTS_COMMITTEE", area_id=w.community)
    member_in_committee = await b.person(conn, w.county, "社区党员", party_member=True)
    await b.post(conn, member_in_committee, committee)
    for person_id in (w.people["resident"], member_without_post, not_a_member, member_in_committee):
        result = await api.op(
            "Pair",
            {"cadreId": gid("Person", person_id), "householdId": gid("Household", w.neighbour_household)},
            token=tok(api, w, "admin"),
        )
        assert result["data"]["pair"]["userErrors"] == [
            {
                "field": ["cadreId"],
                "message": "A cadre is a party member holding an active post in a unit",
                "code": "INVALID",
            }
        ]
    unknown = await api.op(
        "Pair",
        {"cadreId": gid("Person", w.people["cadre"]), "householdId": gid("Household", 999999)},
        token=tok(api, w, "admin"),
    )
    assert unknown["data"]["pair"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert await _count(conn, "pairings") == 1


END_PAIRING = """
mutation($id: ID!, $until: Date) {
  endPairing(input: {pairingId: $id, until: $until}) { pairing { id until } userErrors { field code } }
}
"""


async def test_end_pairing_then_pair_again(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    cadre = await api.ok(END_PAIRING, {"id": gid("Pairing", pairing)}, token=tok(api, w, "cadre"))
    assert cadre["endPairing"]["userErrors"][0]["code"] == "FORBIDDEN"
    early = await api.ok(
        END_PAIRING, {"id": gid("Pairing", pairing), "until": "2023-12-31"}, token=tok(api, w, "staff")
    )
    assert early["endPairing"]["userErrors"] == [{"field": ["until"], "code": "INVALID"}]
    ended = await api.ok(
        END_PAIRING, {"id": gid("Pairing", pairing), "until": "2025-03-31"}, token=tok(api, w, "staff")
    )
    assert ended["endPairing"]["pairing"] == {"id": gid("Pairing", pairing), "until": "2025-03-31"}
    again = await api.ok(END_PAIRING, {"id": gid("Pairing", pairing)}, token=tok(api, w, "staff"))
    assert again["endPairing"]["userErrors"] == [{"field": ["pairingId"], "code": "INVALID_STATE"}]
    repaired = await api.op(
        "Pair",
        {"cadreId": gid("Person", w.people["cadre"]), "householdId": gid("Household", w.household)},
        token=tok(api, w, "staff"),
    )
    assert repaired["data"]["pair"]["userErrors"] == []


# --- obligations and their calendar ------------------------------------------------------------

OBLIGATIONS = """
query($id: ID!, $asOf: Date) {
  node(id: $id) { ... on Pairing { obligations(asOf: $asOf) { kind periodStart periodEnd done status } } }
}
"""


async def _obligations(api: Api, w: b.World, pairing: int, as_of: str | None) -> dict[str, dict[str, Any]]:
    data = await api.ok(OBLIGATIONS, {"id": gid("Pairing", pairing), "asOf": as_of}, token=tok(api, w, "cadre"))
    return {o["kind"]: o for o in data["node"]["obligations"]}


async def test_home_visit_counts_in_its_calendar_month(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    await b.visit(conn, pairing, "HOME_VISIT", "2025-01-31")
    jan = await _obligations(api, w, pairing, "2025-01-31")
    assert jan["HOME_VISIT"] == {
        "kind": "HOME_VISIT",
        "periodStart": "2025-01-01",
        "periodEnd": "2025-01-31",
        "done": 1,
        "status": "MET",
    }
    before = await _obligations(api, w, pairing, "2025-01-30")
    assert before["HOME_VISIT"]["done"] == 0 and before["HOME_VISIT"]["status"] == "DUE"
    feb = await _obligations(api, w, pairing, "2025-02-01")
    assert feb["HOME_VISIT"] == {
        "kind": "HOME_VISIT",
        "periodStart": "2025-02-01",
        "periodEnd": "2025-02-28",
        "done": 0,
        "status": "DUE",
    }


async def test_leap_day(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    await b.visit(conn, pairing, "HOME_VISIT", "2024-02-29")
    leap = await _obligations(api, w, pairing, "2024-02-29")
    assert leap["HOME_VISIT"]["periodEnd"] == "2024-02-29"
    assert leap["HOME_VISIT"]["done"] == 1
    march = await _obligations(api, w, pairing, "2024-03-01")
    assert march["HOME_VISIT"]["done"] == 0
    assert march["HOME_VISIT"]["periodStart"] == "2024-03-01"


async def test_heart_to_heart_half_years(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    await b.visit(conn, pairing, "HEART_TO_HEART", "2025-06-30")
    june = await _obligations(api, w, pairing, "2025-06-30")
    assert june["HEART_TO_HEART"] == {
        "kind": "HEART_TO_HEART",
        "periodStart": "2025-01-01",
        "periodEnd": "2025-06-30",
        "done": 1,
        "status": "MET",
    }
    july = await _obligations(api, w, pairing, "2025-07-01")
    assert july["HEART_TO_HEART"] == {
        "kind": "HEART_TO_HEART",
        "periodStart": "2025-07-01",
        "periodEnd": "2025-12-31",
        "done": 0,
        "status": "DUE",
    }
    await b.visit(conn, pairing, "HEART_TO_HEART", "2025-07-01")
    assert (await _obligations(api, w, pairing, "2025-12-31"))["HEART_TO_HEART"]["done"] == 1


async def test_good_deed_calendar_year(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    await b.visit(conn, pairing, "GOOD_DEED", "2024-12-31")
    await b.visit(conn, pairing, "GOOD_DEED", "2024-03-01")
    dec = await _obligations(api, w, pairing, "2024-12-31")
    assert dec["GOOD_DEED"] == {
        "kind": "GOOD_DEED",
        "periodStart": "2024-01-01",
        "periodEnd": "2024-12-31",
        "done": 2,
        "status": "MET",
    }
    jan = await _obligations(api, w, pairing, "2025-01-01")
    assert jan["GOOD_DEED"]["done"] == 0 and jan["GOOD_DEED"]["status"] == "DUE"
    # visits of the wrong kind or after asOf do not count
    await b.visit(conn, pairing, "HOME_VISIT", "2025-01-01")
    await b.visit(conn, pairing, "GOOD_DEED", "2025-01-02")
    jan = await _obligations(api, w, pairing, "2025-01-01")
    assert jan["GOOD_DEED"]["done"] == 0
    assert [jan[k]["status"] for k in ("HOME_VISIT", "HEART_TO_HEART", "GOOD_DEED")] == ["MET", "DUE", "DUE"]


def _freeze(monkeypatch: pytest.MonkeyPatch, utc: datetime.datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: utc)


async def test_today_is_the_county_date_not_the_utc_date(
    api: Api, conn: asyncpg.Connection, w: b.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 2026-01-31 17:30 UTC it is already 1 February 01:30 in Asia/Shanghai."""
    _freeze(monkeypatch, datetime.datetime(2026, 1, 31, 17, 30, tzinfo=datetime.UTC))
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    await b.visit(conn, pairing, "HOME_VISIT", "2026-01-31")  # the last evening of January
    today = await _obligations(api, w, pairing, None)
    assert today["HOME_VISIT"]["periodStart"] == "2026-02-01"
    assert today["HOME_VISIT"]["status"] == "DUE"
    visit = {"pairingId": gid("Pairing", pairing), "kind": "HOME_VISIT", "occurredOn": "2026-02-01"}
    recorded = await api.op("RecordVisit", visit, token=tok(api, w, "cadre"))
    assert recorded["data"]["recordVisit"]["userErrors"] == []
    tomorrow = await api.op("RecordVisit", {**visit, "occurredOn": "2026-02-02"}, token=tok(api, w, "cadre"))
    assert codes(tomorrow["data"]["recordVisit"]) == ["INVALID"]


async def test_late_evening_utc_is_still_the_county_day(
    api: Api, conn: asyncpg.Connection, w: b.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 2026-01-31 15:59 UTC it is 23:59 on 31 January in Asia/Shanghai: February is the future."""
    _freeze(monkeypatch, datetime.datetime(2026, 1, 31, 15, 59, tzinfo=datetime.UTC))
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    assert (await _obligations(api, w, pairing, None))["HOME_VISIT"]["periodStart"] == "2026-01-01"
    visit = {"pairingId": gid("Pairing", pairing), "kind": "HOME_VISIT", "occurredOn": "2026-02-01"}
    early = await api.op("RecordVisit", visit, token=tok(api, w, "cadre"))
    assert codes(early["data"]["recordVisit"]) == ["INVALID"]
    # the visit of this last evening counts in January
    tonight = await api.op("RecordVisit", {**visit, "occurredOn": "2026-01-31"}, token=tok(api, w, "cadre"))
    assert tonight["data"]["recordVisit"]["userErrors"] == []
    january = await _obligations(api, w, pairing, None)
    assert january["HOME_VISIT"] == {
        "kind": "HOME_VISIT",
        "periodStart": "2026-01-01",
        "periodEnd": "2026-01-31",
        "done": 1,
        "status": "MET",
    }


# --- recordVisit -----------------------------------------------------------------------------


async def test_cadre_records_a_visit(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    result = await api.op(
        "RecordVisit",
        {"pairingId": gid("Pairing", pairing), "kind": "HEART_TO_HEART", "occurredOn": "2025-08-15", "notes": "谈心"},
        token=tok(api, w, "cadre"),
    )
    payload = result["data"]["recordVisit"]
    assert payload["userErrors"] == []
    assert payload["visit"]["kind"] == "HEART_TO_HEART" and payload["visit"]["occurredOn"] == "2025-08-15"
    assert payload["pairing"]["obligations"] == [
        {"kind": "HOME_VISIT", "done": 0, "status": "DUE"},
        {"kind": "HEART_TO_HEART", "done": 1, "status": "MET"},
        {"kind": "GOOD_DEED", "done": 0, "status": "DUE"},
    ]
    assert await conn.fetchval("SELECT notes FROM visits") == "谈心"


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("admin", "FORBIDDEN"),
        ("staff", "FORBIDDEN"),
        ("resident", "FORBIDDEN"),
        ("unit", "FORBIDDEN"),
        ("neighbour", "NOT_FOUND"),
    ],
)
async def test_only_the_paired_cadre_records_visits(
    api: Api, conn: asyncpg.Connection, w: b.World, who: str, code: str
) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    result = await api.op(
        "RecordVisit",
        {"pairingId": gid("Pairing", pairing), "kind": "HOME_VISIT", "occurredOn": "2025-08-15"},
        token=tok(api, w, who),
    )
    assert codes(result["data"]["recordVisit"]) == [code]
    assert result["data"]["recordVisit"]["visit"] is None
    assert await _count(conn, "visits") == 0


async def test_another_cadre_may_not_record_on_this_pairing(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    other = await b.cadre(conn, w.county, w.unit)
    user = await b.user(conn, w.county, person_id=other, grants=[("CADRE", w.unit)])
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    result = await api.op(
        "RecordVisit",
        {"pairingId": gid("Pairing", pairing), "kind": "HOME_VISIT", "occurredOn": "2025-08-15"},
        token=api.token_for(user),
    )
    assert codes(result["data"]["recordVisit"]) == ["NOT_FOUND"]


async def test_visit_dates_must_lie_in_the_pairing(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)  # since 2024-01-01
    cadre = tok(api, w, "cadre")
    base = {"pairingId": gid("Pairing", pairing), "kind": "GOOD_DEED"}
    before = await api.op("RecordVisit", {**base, "occurredOn": "2023-12-31"}, token=cadre)
    assert before["data"]["recordVisit"]["userErrors"][0] == {
        "field": ["occurredOn"],
        "message": "The visit cannot be before the pairing began",
        "code": "INVALID",
    }
    future = await api.op("RecordVisit", {**base, "occurredOn": "2999-01-01"}, token=cadre)
    assert future["data"]["recordVisit"]["userErrors"][0]["field"] == ["occurredOn"]
    assert codes(future["data"]["recordVisit"]) == ["INVALID"]
    first_day = await api.op("RecordVisit", {**base, "occurredOn": "2024-01-01"}, token=cadre)
    assert first_day["data"]["recordVisit"]["userErrors"] == []
    await conn.execute("UPDATE pairings SET until = DATE '2025-01-31' WHERE id = $1", pairing)
    ended = await api.op("RecordVisit", {**base, "occurredOn": "2025-01-15"}, token=cadre)
    assert codes(ended["data"]["recordVisit"]) == ["INVALID_STATE"]
    assert await _count(conn, "visits") == 1
    unknown = await api.op(
        "RecordVisit", {**base, "pairingId": gid("Pairing", 999999), "occurredOn": "2025-01-15"}, token=cadre
    )
    assert codes(unknown["data"]["recordVisit"]) == ["NOT_FOUND"]


# --- Person.pairings and Pairing visibility ----------------------------------------------------

PERSON_PAIRINGS = """
query($id: ID!, $first: Int, $after: String) {
  node(id: $id) { ... on Person { pairings(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id household { label } } } } } }
}
"""


async def test_a_cadres_pairings_page_by_page(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    extra = [await b.household(conn, w.other_building, f"3单元{i}01") for i in range(3)]
    for household in extra:
        await b.pairing(conn, w.people["cadre"], household)
    cadre = tok(api, w, "cadre")
    person = gid("Person", w.people["cadre"])
    first = (await api.ok(PERSON_PAIRINGS, {"id": person, "first": 2}, token=cadre))["node"]["pairings"]
    assert first["totalCount"] == 4
    assert first["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["household"]["label"] for e in first["edges"]] == ["1单元101", "3单元001"]
    rest = (
        await api.ok(PERSON_PAIRINGS, {"id": person, "first": 2, "after": first["pageInfo"]["endCursor"]}, token=cadre)
    )["node"]["pairings"]
    assert rest["totalCount"] == 4
    assert rest["pageInfo"]["hasNextPage"] is False
    assert [e["node"]["household"]["label"] for e in rest["edges"]] == ["3单元101", "3单元201"]
    too_many = await api.post(PERSON_PAIRINGS, {"id": person, "first": 101}, token=cadre)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_ended_pairings_leave_the_list(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    await conn.execute("UPDATE pairings SET until = DATE '2025-01-31' WHERE id = $1", pairing)
    data = await api.ok(PERSON_PAIRINGS, {"id": gid("Person", w.people["cadre"])}, token=tok(api, w, "cadre"))
    assert data["node"]["pairings"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("admin", True),
        ("staff", True),
        ("head", True),
        ("cadre", True),
        ("resident", True),
        ("unit", True),
        ("neighbour", False),
    ],
)
async def test_who_sees_a_pairing(api: Api, conn: asyncpg.Connection, w: b.World, who: str, visible: bool) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    node = await api.ok(
        "query($id: ID!) { node(id: $id) { id } }", {"id": gid("Pairing", pairing)}, token=tok(api, w, who)
    )
    assert (node["node"] is not None) is visible
    listed = await api.ok(PERSON_PAIRINGS, {"id": gid("Person", w.people["cadre"])}, token=tok(api, w, who))
    assert listed["node"]["pairings"]["totalCount"] == (1 if visible else 0)


async def test_staff_of_another_community_do_not_see_the_pairing(
    api: Api, conn: asyncpg.Connection, w: b.World
) -> None:
    other_staff = await b.user(conn, w.county, grants=[("COMMUNITY_STAFF", w.other_community)])
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    node = await api.ok(
        "query($id: ID!) { node(id: $id) { id } }", {"id": gid("Pairing", pairing)}, token=api.token_for(other_staff)
    )
    assert node["node"] is None


async def test_visits_of_a_pairing(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    visit = await b.visit(conn, pairing, "HOME_VISIT", "2025-05-05")
    await b.visit(conn, pairing, "GOOD_DEED", "2025-05-06")
    data = await api.ok(
        "query($id: ID!) { node(id: $id) { ... on Pairing { visits(first: 1) { totalCount edges { node { "
        "id kind occurredOn pairing { id } } } } } } }",
        {"id": gid("Pairing", pairing)},
        token=tok(api, w, "resident"),
    )
    assert data["node"]["visits"] == {
        "totalCount": 2,
        "edges": [
            {
                "node": {
                    "id": gid("Visit", visit),
                    "kind": "HOME_VISIT",
                    "occurredOn": "2025-05-05",
                    "pairing": {"id": gid("Pairing", pairing)},
                }
            }
        ],
    }
    hidden = await api.ok(
        "query($id: ID!) { node(id: $id) { id } }", {"id": gid("Visit", visit)}, token=tok(api, w, "neighbour")
    )
    assert hidden["node"] is None


async def test_adoption_node(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    adoption = await b.adoption(conn, w.unit, w.building, since="2024-01-01")
    data = await api.ok(
        "query($id: ID!) { node(id: $id) { ... on Adoption { unit { name } area { name } since until } } }",
        {"id": gid("Adoption", adoption)},
        token=tok(api, w, "resident"),
    )
    assert data["node"]["area"] == {"name": "1号楼"}
    assert data["node"]["since"] == "2024-01-01" and data["node"]["until"] is None


# --- dual registration -----------------------------------------------------------------------


async def test_unit_registers_its_party_organisation(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    branch = await b.organisation(conn, w.county, "PARTY_BRANCH", "财政局机关党支部", parent=w.unit)
    variables = {"communityId": gid("Community", w.community), "organisationId": gid("Organisation", branch)}
    refused = await api.op("RegisterWithCommunity", variables, token=tok(api, w, "staff"))
    assert codes(refused["data"]["registerWithCommunity"]) == ["FORBIDDEN"]
    result = await api.op("RegisterWithCommunity", variables, token=tok(api, w, "unit"))
    payload = result["data"]["registerWithCommunity"]
    assert payload["userErrors"] == []
    assert payload["registration"]["status"] == "PENDING"
    assert payload["registration"]["community"] == {"id": gid("Community", w.community), "name": "东岳殿社区"}
    again = await api.op("RegisterWithCommunity", variables, token=tok(api, w, "unit"))
    assert codes(again["data"]["registerWithCommunity"]) == ["ALREADY_EXISTS"]
    assert await _count(conn, "registrations") == 2  # and the cadre's, of the world


async def test_only_a_units_party_organisation_registers(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    committee = await b.organisation(conn, w.county, "RESIDENTS_COMMITTEE", area_id=w.community)
    result = await api.op(
        "RegisterWithCommunity",
        {"communityId": gid("Community", w.community), "organisationId": gid("Organisation", committee)},
        token=tok(api, w, "admin"),
    )
    assert result["data"]["registerWithCommunity"]["userErrors"][0]["field"] == ["organisationId"]
    assert codes(result["data"]["registerWithCommunity"]) == ["INVALID"]


async def test_party_member_registers_with_home_community(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    await conn.execute("UPDATE persons SET party_member = true WHERE id = $1", w.people["resident"])
    me = gid("Person", w.people["resident"])
    other = await api.op(
        "RegisterWithCommunity",
        {"communityId": gid("Community", w.other_community), "personId": me},
        token=tok(api, w, "resident"),
    )
    assert other["data"]["registerWithCommunity"]["userErrors"][0]["field"] == ["communityId"]
    for_someone = await api.op(
        "RegisterWithCommunity",
        {"communityId": gid("Community", w.community), "personId": me},
        token=tok(api, w, "staff"),
    )
    assert codes(for_someone["data"]["registerWithCommunity"]) == ["FORBIDDEN"]
    result = await api.op(
        "RegisterWithCommunity",
        {"communityId": gid("Community", w.community), "personId": me},
        token=tok(api, w, "resident"),
    )
    assert result["data"]["registerWithCommunity"]["registration"]["status"] == "PENDING"
    again = await api.op(
        "RegisterWithCommunity",
        {"communityId": gid("Community", w.community), "personId": me},
        token=tok(api, w, "resident"),
    )
    assert codes(again["data"]["registerWithCommunity"]) == ["ALREADY_EXISTS"]


async def test_registration_input_is_checked(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    neighbour = tok(api, w, "neighbour")
    me = gid("Person", w.people["neighbour"])
    not_member = await api.op(
        "RegisterWithCommunity", {"communityId": gid("Community", w.community), "personId": me}, token=neighbour
    )
    assert not_member["data"]["registerWithCommunity"]["userErrors"][0] == {
        "field": ["personId"],
        "message": "Only a party member registers",
        "code": "INVALID",
    }
    neither = await api.op("RegisterWithCommunity", {"communityId": gid("Community", w.community)}, token=neighbour)
    assert codes(neither["data"]["registerWithCommunity"]) == ["INVALID"]
    both = await api.op(
        "RegisterWithCommunity",
        {"communityId": gid("Community", w.community), "personId": me, "organisationId": gid("Organisation", w.unit)},
        token=neighbour,
    )
    assert codes(both["data"]["registerWithCommunity"]) == ["INVALID"]
    not_community = await api.op(
        "RegisterWithCommunity", {"communityId": gid("Compound", w.compound), "personId": me}, token=neighbour
    )
    assert not_community["data"]["registerWithCommunity"]["userErrors"][0]["field"] == ["communityId"]
    assert await _count(conn, "registrations") == 1  # the cadre's, of the world


DECIDE = """
mutation($id: ID!) { confirmRegistration(input: {registrationId: $id}) {
  registration { id status } userErrors { field code } } }
"""


async def test_staff_confirm_a_registration(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    registration = int(
        await conn.fetchval(
            "INSERT INTO registrations (county_id, community_id, organisation_id) VALUES ($1, $2, $3) RETURNING id",
            w.county,
            w.community,
            w.unit,
        )
    )
    rid = gid("Registration", registration)
    by_unit = await api.ok(DECIDE, {"id": rid}, token=tok(api, w, "unit"))
    assert by_unit["confirmRegistration"]["userErrors"] == [{"field": None, "code": "FORBIDDEN"}]
    by_resident = await api.ok(DECIDE, {"id": rid}, token=tok(api, w, "resident"))
    assert by_resident["confirmRegistration"]["userErrors"][0]["code"] == "NOT_FOUND"
    confirmed = await api.ok(DECIDE, {"id": rid}, token=tok(api, w, "staff"))
    assert confirmed["confirmRegistration"]["registration"] == {"id": rid, "status": "CONFIRMED"}
    again = await api.ok(DECIDE, {"id": rid}, token=tok(api, w, "staff"))
    assert again["confirmRegistration"]["userErrors"] == [{"field": None, "code": "INVALID_STATE"}]
    reject = await api.ok(
        "mutation($id: ID!) { rejectRegistration(input: {registrationId: $id}) { userErrors { code } } }",
        {"id": rid},
        token=tok(api, w, "admin"),
    )
    assert reject["rejectRegistration"]["userErrors"] == [{"code": "INVALID_STATE"}]


async def test_unauthenticated_mutation(api: Api, w: b.World) -> None:
    result = await api.op("Pair", {"cadreId": gid("Person", 1), "householdId": gid("Household", 1)})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- visit notes are personal data -----------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "sees"),
    [("cadre", True), ("staff", True), ("admin", True), ("head", False), ("resident", False), ("unit", False)],
)
async def test_visit_notes_only_for_the_cadre_and_staff(
    api: Api, conn: asyncpg.Connection, w: b.World, who: str, sees: bool
) -> None:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    visit = await conn.fetchval(
        "INSERT INTO visits (county_id, pairing_id, kind, occurred_on, notes) "
        "VALUES ($1, $2, 'HOME_VISIT', DATE '2024-06-01', '家中老人行动不便，申请低保') RETURNING id",
        w.county,
        pairing,
    )
    data = await api.ok(
        "query($id: ID!) { node(id: $id) { ... on Visit { kind notes } } }",
        {"id": gid("Visit", visit)},
        token=tok(api, w, who),
    )
    assert data["node"] == {"kind": "HOME_VISIT", "notes": "家中老人行动不便，申请低保" if sees else None}


async def test_a_cursor_past_the_id_range_is_bad_input(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    """A forged cursor naming an id beyond bigint is the client's error, not a 500."""
    forged = base64.urlsafe_b64encode(b"[9223372036854775808]").decode().rstrip("=")
    person = ids.encode("Person", w.people["cadre"])
    result = await api.post(PERSON_PAIRINGS, {"id": person, "first": 2, "after": forged}, token=tok(api, w, "cadre"))
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_visits_total_count_on_the_last_page(api: Api, conn: asyncpg.Connection, w: b.World) -> None:
    """totalCount counts every visit of the pairing, also on a page after the last visit."""
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    for day in ("2024-03-01", "2024-03-02"):
        await b.visit(conn, pairing, "HOME_VISIT", day)
    query = (
        "query($id: ID!, $after: String) { node(id: $id) { ... on Pairing { visits(first: 2, after: $after) { "
        "totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } } } }"
    )
    cadre = tok(api, w, "cadre")
    first = (await api.ok(query, {"id": ids.encode("Pairing", pairing)}, token=cadre))["node"]["visits"]
    assert first["totalCount"] == 2 and first["pageInfo"]["hasNextPage"] is False
    after = first["pageInfo"]["endCursor"]
    rest = (await api.ok(query, {"id": ids.encode("Pairing", pairing), "after": after}, token=cadre))["node"]["visits"]
    assert rest["edges"] == []
    assert rest["totalCount"] == 2


# --- visits: a double tap, corrections and deletions ---------------------------------------------

CORRECT = """
mutation($id: ID!, $kind: ObligationKind, $on: Date, $notes: String) {
  correctVisit(input: {visitId: $id, kind: $kind, occurredOn: $on, notes: $notes}) {
    visit { id kind occurredOn notes } userErrors { field code } } }
"""
DELETE = "mutation($id: ID!) { deleteVisit(input: {visitId: $id}) { deletedVisitId userErrors { field code } } }"
RECORD_WITH_KEY = """
mutation($p: ID!, $on: Date!, $key: String) {
  recordVisit(input: {pairingId: $p, kind: HOME_VISIT, occurredOn: $on, idempotencyKey: $key}) {
    visit { id } userErrors { field code } } }
"""


async def test_a_double_tap_records_one_visit(
    api: Api, conn: asyncpg.Connection, w: b.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _freeze(monkeypatch, datetime.datetime(2026, 3, 10, 4, 0, tzinfo=datetime.UTC))
    pairing = gid("Pairing", await b.pairing_of(conn, w.people["cadre"], w.household))
    cadre = tok(api, w, "cadre")
    first = await api.ok(RECORD_WITH_KEY, {"p": pairing, "on": "2026-03-09", "key": "tap-1"}, token=cadre)
    again = await api.ok(RECORD_WITH_KEY, {"p": pairing, "on": "2026-03-09", "key": "tap-1"}, token=cadre)
    assert first["recordVisit"]["visit"]["id"] == again["recordVisit"]["visit"]["id"]
    assert await _count(conn, "visits") == 1
    other = await api.ok(RECORD_WITH_KEY, {"p": pairing, "on": "2026-03-09", "key": "tap-2"}, token=cadre)
    assert other["recordVisit"]["visit"]["id"] != first["recordVisit"]["visit"]["id"]
    blank = await api.ok(RECORD_WITH_KEY, {"p": pairing, "on": "2026-03-09", "key": " "}, token=cadre)
    assert blank["recordVisit"]["userErrors"] == [{"field": ["idempotencyKey"], "code": "INVALID"}]


async def test_the_cadre_corrects_or_deletes_a_visit_of_the_current_period_only(
    api: Api, conn: asyncpg.Connection, w: b.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _freeze(monkeypatch, datetime.datetime(2026, 3, 10, 4, 0, tzinfo=datetime.UTC))
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    this_month = gid("Visit", await b.visit(conn, pairing, "HOME_VISIT", "2026-03-02"))
    last_month = gid("Visit", await b.visit(conn, pairing, "HOME_VISIT", "2026-02-27"))
    cadre = tok(api, w, "cadre")
    fixed = await api.ok(CORRECT, {"id": this_month, "on": "2026-03-03", "notes": "送去米面油"}, token=cadre)
    assert fixed["correctVisit"]["visit"] == {
        "id": this_month,
        "kind": "HOME_VISIT",
        "occurredOn": "2026-03-03",
        "notes": "送去米面油",
    }
    refusals = [
        ({"id": last_month, "on": "2026-03-01"}, cadre, [{"field": ["visitId"], "code": "INVALID_STATE"}]),
        ({"id": this_month, "on": "2026-02-28"}, cadre, [{"field": ["occurredOn"], "code": "INVALID"}]),
        ({"id": this_month, "on": "2026-03-11"}, cadre, [{"field": ["occurredOn"], "code": "INVALID"}]),
        ({"id": this_month, "notes": "x"}, tok(api, w, "staff"), [{"field": None, "code": "FORBIDDEN"}]),
        ({"id": this_month, "notes": "x"}, tok(api, w, "neighbour"), [{"field": ["visitId"], "code": "NOT_FOUND"}]),
    ]
    for variables, token, errors in refusals:
        assert (await api.ok(CORRECT, variables, token=token))["correctVisit"]["userErrors"] == errors, variables
    # a heart-to-heart talk of February still lies in the half-year: it may change kind back and forth
    moved = await api.ok(CORRECT, {"id": this_month, "kind": "HEART_TO_HEART", "on": "2026-02-20"}, token=cadre)
    assert moved["correctVisit"]["visit"]["kind"] == "HEART_TO_HEART"
    assert (await api.ok(DELETE, {"id": last_month}, token=cadre))["deleteVisit"]["userErrors"] == [
        {"field": ["visitId"], "code": "INVALID_STATE"}
    ]
    deleted = await api.ok(DELETE, {"id": this_month}, token=cadre)
    assert deleted["deleteVisit"] == {"deletedVisitId": this_month, "userErrors": []}
    assert await _count(conn, "visits") == 1
    audit = await conn.fetch(
        "SELECT action, detail FROM audit_log WHERE target_type = 'Visit' AND target_id = $1 ORDER BY id",
        ids.decode_as(this_month, "Visit"),
    )
    assert [r["action"] for r in audit] == ["correctVisit", "correctVisit", "deleteVisit"]
    assert audit[0]["detail"]["before"]["occurredOn"] == "2026-03-02"
    assert audit[2]["detail"]["deleted"]["kind"] == "HEART_TO_HEART"
