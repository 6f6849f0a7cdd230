"""The defects of issue 12: one meaning per domain term, one visibility rule per type.

Each test drives the API as a client does, on a small world (`tests.builders.world`).
"""

from __future__ import annotations

import datetime
from typing import Any

import asyncpg
import pytest

from resolvers import ids
from tests import builders as b
from tests.support import Api

RESIDENTS = """
query($id: ID!) { node(id: $id) { ... on Household { id residents { id name phone } } } }
"""
PHONE = "query($id: ID!) { node(id: $id) { ... on Person { id phone } } }"
PAIRINGS_OF = """
query($id: ID!) { node(id: $id) { ... on Person { id pairings(first: 20) { totalCount edges { node { id } } } } } }
"""
NODE = "query($id: ID!) { node(id: $id) { id } }"
ROLES = "{ viewer { roles { role scope { id } } } }"


def gid(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


async def _residents(api: Api, token: str, household: int) -> list[dict[str, Any]]:
    data = await api.ok(RESIDENTS, {"id": gid("Household", household)}, token=token)
    residents: list[dict[str, Any]] = data["node"]["residents"]
    return residents


async def _visible(api: Api, token: str, type_name: str, pk: int) -> bool:
    data = await api.ok(NODE, {"id": gid(type_name, pk)}, token=token)
    return data["node"] is not None


async def _pairing_count(api: Api, token: str, cadre: int) -> tuple[int, list[str]]:
    data = await api.ok(PAIRINGS_OF, {"id": gid("Person", cadre)}, token=token)
    page = data["node"]["pairings"]
    return page["totalCount"], [e["node"]["id"] for e in page["edges"]]


async def _audit_reads(conn: asyncpg.Connection, user: int, after: int = 0) -> set[tuple[int, str, str]]:
    """(household, field, reason) of the user's personal-data reads audited after entry `after`."""
    rows = await conn.fetch(
        "SELECT target_id, detail->>'field' AS field, detail->>'reason' AS reason FROM audit_log "
        "WHERE user_id = $1 AND action = 'read.personalData' AND id > $2",
        user,
        after,
    )
    return {(r["target_id"], r["field"], r["reason"]) for r in rows}


# --- (a) a replaced building head ---------------------------------------------------------------


async def test_a_replaced_building_head_loses_personal_data_and_the_new_head_gains_it(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    # the new head: a resident of the same building with an account but no role of head
    successor = await b.person(conn, w.county, "周新楼长", household=w.household, phone="13800000042")
    successor_user = await b.user(conn, w.county, person_id=successor, grants=[("RESIDENT", w.building)])
    # a household of the building that neither head lives in
    other = await b.household(conn, w.building, "2单元301")
    tenant = await b.person(conn, w.county, "吴住户", household=other, phone="13800000043")
    old, new = api.token_for(w.users["head"]), api.token_for(successor_user)
    admin = api.token_for(w.users["admin"])

    assert [r["phone"] for r in await _residents(api, old, other)] == ["13800000043"]
    assert await _residents(api, new, other) == []

    result = await api.op(
        "AssignResponsible", {"areaId": gid("Building", w.building), "personId": gid("Person", successor)}, token=admin
    )
    assert result["data"]["assignResponsible"]["userErrors"] == []
    mark = int(await conn.fetchval("SELECT max(id) FROM audit_log"))

    # no restart, no cache: the very next request of each
    assert await _residents(api, old, other) == []
    phone = await api.ok(PHONE, {"id": gid("Person", tenant)}, token=old)
    assert phone["node"]["phone"] is None
    assert [r["phone"] for r in await _residents(api, new, other)] == ["13800000043"]

    old_roles = (await api.ok(ROLES, token=old))["viewer"]["roles"]
    new_roles = (await api.ok(ROLES, token=new))["viewer"]["roles"]
    assert {"role": "BUILDING_HEAD", "scope": {"id": gid("Building", w.building)}} not in old_roles
    assert {"role": "BUILDING_HEAD", "scope": {"id": gid("Building", w.building)}} in new_roles

    # the audit log: the old head's reads stop at the reassignment, the new head's say why
    both = {(other, "residents", "BUILDING_HEAD"), (other, "phone", "BUILDING_HEAD")}
    assert await _audit_reads(conn, w.users["head"]) == both
    assert await _audit_reads(conn, w.users["head"], after=mark) == set()
    assert await _audit_reads(conn, successor_user) == await _audit_reads(conn, successor_user, after=mark) == both
    changes = await conn.fetch(
        "SELECT action, detail FROM audit_log WHERE action IN ('role.granted', 'role.revoked') "
        "AND target_type = 'Building' AND target_id = $1 ORDER BY id",
        w.building,
    )
    assert [(r["action"], r["detail"]["user"], r["detail"]["role"]) for r in changes] == [
        ("role.revoked", w.users["head"], "BUILDING_HEAD"),
        ("role.granted", successor_user, "BUILDING_HEAD"),
    ]


# --- (b) UNIT_ADMIN of a service provider ---------------------------------------------------------


async def test_b_a_service_providers_admin_counts_what_node_opens(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    provider = await b.organisation(conn, w.county, "SERVICE_PROVIDER", "家政服务公司")
    await b.post(conn, w.people["cadre"], provider, "兼职")
    admin_person = await b.person(conn, w.county, "物业经理")
    provider_user = await b.user(conn, w.county, person_id=admin_person, grants=[("UNIT_ADMIN", provider)])
    provider_admin = api.token_for(provider_user)
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)

    total, listed = await _pairing_count(api, provider_admin, w.people["cadre"])
    opened = await _visible(api, provider_admin, "Pairing", pairing)
    # a service provider is not a unit: a cadre's pairings are followed by their unit's admin
    assert (total, listed, opened) == (0, [], False)
    unit_total, unit_listed = await _pairing_count(api, api.token_for(w.users["unit"]), w.people["cadre"])
    assert (unit_total, unit_listed) == (1, [gid("Pairing", pairing)])
    assert await _visible(api, api.token_for(w.users["unit"]), "Pairing", pairing)


# --- (c) an active post -----------------------------------------------------------------------


async def test_c_a_post_ending_next_year_is_active_everywhere(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    cadre = await b.person(conn, w.county, "陈干部", party_member=True, household=w.neighbour_household)
    post = await b.post(conn, cadre, w.unit, "科员")
    # a post with a last day still to come (fixed far ahead: no test depends on today)
    await conn.execute("UPDATE posts SET until = $2 WHERE id = $1", post, datetime.date(2100, 12, 31))
    admin = api.token_for(w.users["admin"])

    members = await api.ok(
        "query($id: ID!) { node(id: $id) { ... on Organisation { memberCount } } }",
        {"id": gid("Organisation", w.unit)},
        token=admin,
    )
    assert members["node"]["memberCount"] == 3  # the world's cadre and unit admin, and this cadre

    result = await api.op(
        "Pair", {"cadreId": gid("Person", cadre), "householdId": gid("Household", w.household)}, token=admin
    )
    assert result["data"]["pair"]["userErrors"] == []
    # the unit's admin follows the pairing as they follow every pairing of their unit's cadres
    unit = api.token_for(w.users["unit"])
    assert (await _pairing_count(api, unit, cadre))[0] == 1

    # a post that has ended is not
    await conn.execute("UPDATE posts SET until = $2 WHERE id = $1", post, datetime.date(2024, 6, 30))
    assert (await _pairing_count(api, unit, cadre))[0] == 0
    members = await api.ok(
        "query($id: ID!) { node(id: $id) { ... on Organisation { memberCount } } }",
        {"id": gid("Organisation", w.unit)},
        token=admin,
    )
    assert members["node"]["memberCount"] == 2


# --- (d) the building head --------------------------------------------------------------------


@pytest.mark.parametrize("head_by", ["responsibility", "grant"])
async def test_d_building_head_has_one_meaning(api: Api, conn: asyncpg.Connection, head_by: str) -> None:
    """The responsible person reads the building's residents and opens its pairings; a
    BUILDING_HEAD grant without the responsibility does neither."""
    w = await b.world(conn)
    someone = await b.person(conn, w.county, "冯居民", household=w.neighbour_household)
    if head_by == "responsibility":
        await conn.execute("UPDATE responsibilities SET until = now() WHERE area_id = $1 AND until IS NULL", w.building)
        await b.responsible(conn, w.building, someone)
        user = await b.user(conn, w.county, person_id=someone, grants=[("RESIDENT", w.other_building)])
    else:
        user = await b.user(conn, w.county, person_id=someone, grants=[("BUILDING_HEAD", w.building)])
    token = api.token_for(user)
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)

    sees_residents = bool(await _residents(api, token, w.household))
    opens_pairing = await _visible(api, token, "Pairing", pairing)
    lists_pairing = (await _pairing_count(api, token, w.people["cadre"]))[0] == 1
    expected = head_by == "responsibility"
    assert (sees_residents, opens_pairing, lists_pairing) == (expected, expected, expected)


# --- (e) unit kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "is_unit"),
    [
        ("GOVERNMENT_UNIT", True),
        ("ENTERPRISE", True),
        ("PUBLIC_INSTITUTION", True),
        ("SERVICE_PROVIDER", False),
        ("PROPERTY_COMPANY", False),
    ],
)
async def test_e_unit_kinds_mean_the_same_to_adopt_pair_and_follow(
    api: Api, conn: asyncpg.Connection, kind: str, is_unit: bool
) -> None:
    """An organisation of a unit kind adopts, gives its members standing as cadres, and its
    UNIT_ADMIN follows their pairings in lists and node() alike; any other kind none of it."""
    w = await b.world(conn)
    org = await b.organisation(conn, w.county, kind)
    cadre = await b.person(conn, w.county, "蒋党员", party_member=True)
    await b.post(conn, cadre, org, "职工")
    admin_person = await b.person(conn, w.county, "管理员")
    org_admin = api.token_for(await b.user(conn, w.county, person_id=admin_person, grants=[("UNIT_ADMIN", org)]))
    county_admin = api.token_for(w.users["admin"])

    adopted = await api.op(
        "Adopt", {"unitId": gid("Organisation", org), "areaId": gid("Compound", w.compound)}, token=county_admin
    )
    assert (adopted["data"]["adopt"]["userErrors"] == []) is is_unit
    paired = await api.op(
        "Pair",
        {"cadreId": gid("Person", cadre), "householdId": gid("Household", w.neighbour_household)},
        token=county_admin,
    )
    assert (paired["data"]["pair"]["userErrors"] == []) is is_unit
    # pair the cadre directly (as an import would) also when pair refused: who follows it?
    pairing = await b.pairing(conn, cadre, w.household)
    total, _ = await _pairing_count(api, org_admin, cadre)
    opened = await _visible(api, org_admin, "Pairing", pairing)
    assert (total >= 1, opened) == (is_unit, is_unit)


# --- (f) what a report lists, its reader may open ---------------------------------------------


async def test_f_an_adopting_units_admin_opens_the_pairings_compliance_lists(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    adopter = await b.organisation(conn, w.county, "ENTERPRISE", "县供电公司")
    admin_person = await b.person(conn, w.county, "供电公司办公室")
    reader = api.token_for(await b.user(conn, w.county, person_id=admin_person, grants=[("UNIT_ADMIN", adopter)]))
    await b.adoption(conn, adopter, w.compound)
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)

    result = await api.op("Compliance", {"areaId": gid("Compound", w.compound), "asOf": "2025-03-15"}, token=reader)
    assert "errors" not in result, result
    listed = [e["node"]["id"] for e in result["data"]["compliance"]["due"]["edges"]]
    assert listed == [gid("Pairing", pairing)]
    for node_id in listed:
        opened = await api.ok(
            "query($id: ID!) { node(id: $id) { ... on Pairing { id cadre { id name } household { id label } } } }",
            {"id": node_id},
            token=reader,
        )
        assert opened["node"] is not None and opened["node"]["id"] == node_id
