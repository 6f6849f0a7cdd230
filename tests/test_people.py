"""Finding people (SearchPeople): by name or phone, within the searcher's reach, audited."""

from __future__ import annotations

import asyncpg

from resolvers import ids
from tests import builders as b
from tests.support import Api


def _names(data: dict[str, object]) -> list[str]:
    people = data["data"]["people"]  # type: ignore[index]
    return [e["node"]["name"] for e in people["edges"]]


async def test_staff_find_a_resident_by_name_or_phone_ending_with_address_and_phone(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    by_name = await api.op("SearchPeople", {"search": "赵"}, token=staff)
    [edge] = by_name["data"]["people"]["edges"]
    assert edge["node"] == {
        "id": ids.encode("Person", w.people["resident"]),
        "name": "赵居民",
        "phone": "13800000004",
        "household": {
            "id": ids.encode("Household", w.household),
            "label": "1单元101",
            "fullAddress": "东岳殿社区 滨河小区 1号楼 1单元101",
        },
    }
    by_phone = await api.op("SearchPeople", {"search": "0005"}, token=staff)
    assert _names(by_phone) == ["钱邻居"]
    # three digits are a name search, which matches nobody
    assert _names(await api.op("SearchPeople", {"search": "005"}, token=staff)) == []


async def test_tag_narrows_and_an_empty_search_lists_everyone_in_reach(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    await conn.execute("UPDATE persons SET tags = '{独居老人}' WHERE id = $1", w.people["neighbour"])
    staff = api.token_for(w.users["staff"])
    assert _names(await api.op("SearchPeople", {"search": "", "tag": "独居老人"}, token=staff)) == ["钱邻居"]
    everyone = await api.op("SearchPeople", {"search": "", "first": 2}, token=staff)
    page = everyone["data"]["people"]
    # staff reach the three people living in the community, not the cadre, staff or unit admin
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"]
    rest = await api.op("SearchPeople", {"search": "", "after": page["pageInfo"]["endCursor"]}, token=staff)
    assert len(rest["data"]["people"]["edges"]) == 1


async def test_reach_by_role(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    # the head of the building reaches its residents, not the neighbour of the other building
    head = api.token_for(w.users["head"])
    assert _names(await api.op("SearchPeople", {"search": "居"}, token=head)) == ["赵居民"]
    assert _names(await api.op("SearchPeople", {"search": "钱"}, token=head)) == []
    # residents and cadres get an empty list, not an error
    for plain in ("resident", "cadre", "unit"):
        assert _names(await api.op("SearchPeople", {"search": "赵"}, token=api.token_for(w.users[plain]))) == []
    # the county admin reaches everyone of the county, people without a household included
    admin = api.token_for(w.users["admin"])
    assert _names(await api.op("SearchPeople", {"search": "张干部"}, token=admin)) == ["张干部"]
    # staff of another community reach nobody here
    far_staff = await b.user(conn, w.county, grants=[("COMMUNITY_STAFF", w.other_community)])
    assert _names(await api.op("SearchPeople", {"search": "赵"}, token=api.token_for(far_staff))) == []
    # the admin of another county finds only their own county's 赵居民
    other = await b.world(conn)
    found = await api.op("SearchPeople", {"search": "赵"}, token=api.token_for(other.users["admin"]))
    assert [e["node"]["id"] for e in found["data"]["people"]["edges"]] == [
        ids.encode("Person", other.people["resident"])
    ]


async def test_each_page_writes_one_audit_row_per_household_read(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    before = await conn.fetchval("SELECT max(id) FROM audit_log") or 0
    await api.op("SearchPeople", {"search": ""}, token=staff)
    rows = await conn.fetch(
        "SELECT target_id, detail->>'field' AS field, detail->>'reason' AS reason FROM audit_log "
        "WHERE id > $1 AND action = 'read.personalData' AND detail->>'field' = 'people' ORDER BY target_id",
        before,
    )
    assert [(r["target_id"], r["reason"]) for r in rows] == [
        (w.household, "STAFF"),
        (w.neighbour_household, "STAFF"),
    ]


async def test_bad_input_is_refused(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    too_long = await api.op("SearchPeople", {"search": "赵" * 101}, token=staff)
    assert too_long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    too_many = await api.op("SearchPeople", {"search": "赵", "first": 101}, token=staff)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await api.op("SearchPeople", {"search": "赵"}))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_building_head_reaches_by_the_current_responsibility_alone(api: Api, conn: asyncpg.Connection) -> None:
    """The search runs the SQL rule with the viewer (`findable_people`), not a reach taken from
    the viewer's grants: a responsibility changed in the database moves the reach at once, the
    old head's BUILDING_HEAD grant notwithstanding."""
    w = await b.world(conn)
    head, successor = api.token_for(w.users["head"]), api.token_for(w.users["resident"])
    assert _names(await api.op("SearchPeople", {"search": "居"}, token=head)) == ["赵居民"]
    await conn.execute("UPDATE responsibilities SET until = now() WHERE area_id = $1 AND until IS NULL", w.building)
    await b.responsible(conn, w.building, w.people["resident"])
    assert await conn.fetchval(
        "SELECT count(*) FROM role_grants WHERE user_id = $1 AND role = 'BUILDING_HEAD'", w.users["head"]
    )
    assert _names(await api.op("SearchPeople", {"search": "居"}, token=head)) == []
    before = await conn.fetchval("SELECT max(id) FROM audit_log") or 0
    assert "赵居民" in _names(await api.op("SearchPeople", {"search": ""}, token=successor))
    reasons = await conn.fetch(
        "SELECT DISTINCT detail->>'reason' AS reason FROM audit_log "
        "WHERE id > $1 AND action = 'read.personalData' AND detail->>'field' = 'people'",
        before,
    )
    assert [r["reason"] for r in reasons] == ["BUILDING_HEAD"]
