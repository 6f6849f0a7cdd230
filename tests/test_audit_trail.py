"""One object's history (AuditTrail): entries point at ids that `node()` resolves."""

from __future__ import annotations

import datetime
import itertools

import asyncpg

from resolvers import ids
from tests import builders as b
from tests.support import Api


async def test_a_building_s_history_names_the_building_and_the_previous_head(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    admin = api.token_for(w.users["admin"])
    building = ids.encode("Building", w.building)
    new_head = ids.encode("Person", w.people["neighbour"])
    assigned = await api.op(
        "AssignResponsible", {"areaId": building, "personId": new_head}, token=api.token_for(w.users["staff"])
    )
    assert assigned["data"]["assignResponsible"]["userErrors"] == []
    # an entry written before areas were recorded under their own type
    await conn.execute(
        "INSERT INTO audit_log (county_id, user_id, action, target_type, target_id) "
        "VALUES ($1, $2, 'assignResponsible', 'Area', $3)",
        w.county,
        w.users["admin"],
        w.building,
    )
    trail = await api.op("AuditTrail", {"targetId": building, "first": 10}, token=admin)
    every = [e["node"] for e in trail["data"]["auditLog"]["edges"]]
    assert trail["data"]["auditLog"]["totalCount"] == len(every)
    assert {e["targetId"] for e in every} == {building}
    # the BUILDING_HEAD grant followed the responsibility, on the building's history too
    assert "role.revoked" in {e["action"] for e in every}
    entries = [e for e in every if not e["action"].startswith("role.")]
    assert len(entries) == 2
    assert entries[0]["targetType"] == "Area" and entries[1]["targetType"] == "Building"
    latest = entries[1]
    assert latest["action"] == "assignResponsible"
    assert latest["user"]["id"] == ids.encode("User", w.users["staff"])
    assert latest["detail"] == {"person": new_head, "previous": ids.encode("Person", w.people["head"]), "changed": True}
    found = await api.ok("query($id: ID!) { node(id: $id) { id } }", {"id": latest["targetId"]}, token=admin)
    assert found["node"] == {"id": building}
    # another object's history does not mix in
    other = await api.op("AuditTrail", {"targetId": ids.encode("Building", w.other_building)}, token=admin)
    assert other["data"]["auditLog"]["totalCount"] == 0


async def test_a_household_s_history_holds_the_personal_data_reads(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    await api.op("SearchPeople", {"search": "赵"}, token=api.token_for(w.users["staff"]))
    household = ids.encode("Household", w.household)
    trail = await api.op("AuditTrail", {"targetId": household}, token=api.token_for(w.users["admin"]))
    entries = [e["node"] for e in trail["data"]["auditLog"]["edges"]]
    # the search's page, the phone and the household it showed
    assert sorted(e["detail"]["field"] for e in entries) == ["people", "phone", "residents"]
    assert {(e["action"], e["targetId"], e["detail"]["reason"]) for e in entries} == {
        ("read.personalData", household, "STAFF")
    }


async def test_only_the_county_admin_reads_trails_and_bad_ids_are_refused(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    building = ids.encode("Building", w.building)
    for who in ("staff", "head", "resident"):
        refused = await api.op("AuditTrail", {"targetId": building}, token=api.token_for(w.users[who]))
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", who
    bad = await api.op("AuditTrail", {"targetId": "not-an-id"}, token=api.token_for(w.users["admin"]))
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


HISTORY = (
    "query($id: ID!) { node(id: $id) { ... on Building { responsibilityHistory { person { name } since until } } } }"
)


async def test_responsibility_history_tells_who_was_responsible_when(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    building = ids.encode("Building", w.building)
    for person in ("neighbour", "resident"):
        await api.op(
            "AssignResponsible", {"areaId": building, "personId": ids.encode("Person", w.people[person])}, token=staff
        )
    seen = (await api.ok(HISTORY, {"id": building}, token=staff))["node"]["responsibilityHistory"]
    assert [p["person"]["name"] for p in seen] == ["赵居民", "钱邻居", "李楼长"]
    at = datetime.datetime.fromisoformat
    assert seen[0]["until"] is None
    # each earlier period ended when (or before) the next began
    for later, earlier in itertools.pairwise(seen):
        assert earlier["until"] is not None and at(earlier["until"]) <= at(later["since"])
    admin = (await api.ok(HISTORY, {"id": building}, token=api.token_for(w.users["admin"])))["node"]
    assert len(admin["responsibilityHistory"]) == 3
    for who in ("head", "resident", "cadre"):
        hidden = await api.ok(HISTORY, {"id": building}, token=api.token_for(w.users[who]))
        assert hidden["node"]["responsibilityHistory"] == [], who
