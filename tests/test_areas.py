"""The area tree, organisations and people through the contract's operations (areas.graphql)."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import pytest

from resolvers import ids
from tests import builders as b
from tests.support import Api


def gid(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


async def tokens(api: Api, w: b.World) -> dict[str, str]:
    return {name: api.token_for(uid) for name, uid in w.users.items()}


def edges(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in connection["edges"]]


# --- Areas ---------------------------------------------------------------------------------------


async def test_areas_children_level_search_and_paging(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    other = await b.area(conn, "COUNTY", "别的县")
    await b.area(conn, "TOWN", "别的镇", other)

    data = (await api.op("Areas", {"parentId": gid("Community", w.community)}, token=t["resident"]))["data"]
    nodes = edges(data["areas"])
    assert [n["name"] for n in nodes] == ["第一片区"]
    assert nodes[0]["level"] == "DISTRICT" and nodes[0]["parent"]["name"] == "东岳殿社区"
    assert nodes[0]["responsible"] is None

    data = (await api.op("Areas", {"level": "BUILDING"}, token=t["resident"]))["data"]["areas"]
    assert data["totalCount"] == 2
    building = next(n for n in edges(data) if n["name"] == "1号楼")
    assert building["responsible"]["name"] == "李楼长"

    # the viewer's county only
    data = (await api.op("Areas", {"level": "TOWN"}, token=t["admin"]))["data"]["areas"]
    assert [n["name"] for n in edges(data)] == ["袁家庄街道"]

    # Chinese substring search, case-insensitive, % and _ match themselves
    data = (await api.op("Areas", {"search": "岳殿"}, token=t["staff"]))["data"]["areas"]
    assert [n["name"] for n in edges(data)] == ["东岳殿社区"]
    data = (await api.op("Areas", {"search": "%"}, token=t["staff"]))["data"]["areas"]
    assert data["totalCount"] == 0
    await b.area(conn, "DISTRICT", "Grid_A", w.community)
    data = (await api.op("Areas", {"search": "grid_a"}, token=t["staff"]))["data"]["areas"]
    assert [n["name"] for n in edges(data)] == ["Grid_A"]
    data = (await api.op("Areas", {"search": "gri__a"}, token=t["staff"]))["data"]["areas"]
    assert data["totalCount"] == 0

    # keyset paging
    page1 = (await api.op("Areas", {"first": 3}, token=t["admin"]))["data"]["areas"]
    assert page1["pageInfo"]["hasNextPage"] and len(page1["edges"]) == 3
    page2 = await api.op("Areas", {"first": 100, "after": page1["pageInfo"]["endCursor"]}, token=t["admin"])
    rest = page2["data"]["areas"]
    assert not rest["pageInfo"]["hasNextPage"]
    seen = [e["node"]["id"] for e in page1["edges"]] + [e["node"]["id"] for e in rest["edges"]]
    assert len(seen) == len(set(seen)) == page1["totalCount"]


async def test_areas_refusals(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    result = await api.op("Areas", {})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    result = await api.op("Areas", {"first": 101}, token=t["admin"])
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    result = await api.op("Areas", {"first": -1}, token=t["admin"])
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    result = await api.op("Areas", {"after": "not a cursor"}, token=t["admin"])
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    result = await api.op("Areas", {"parentId": gid("Person", 1)}, token=t["admin"])
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # an area of another county has no visible children
    other = await b.area(conn, "COUNTY", "别的县2")
    await b.area(conn, "TOWN", "别的镇2", other)
    result = await api.op("Areas", {"parentId": gid("County", other)}, token=t["admin"])
    assert result["data"]["areas"]["totalCount"] == 0


# --- Compounds and CompoundDetail ---------------------------------------------------------------------


async def test_compounds_within_an_area(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    await b.area(conn, "COMPOUND", "椒溪苑", w.other_community, compound_kind="STAFF_HOUSING")
    data = (await api.op("Compounds", {"communityId": gid("Community", w.community)}, token=t["resident"]))["data"]
    nodes = edges(data["compounds"])
    assert nodes == [
        {
            "id": gid("Compound", w.compound),
            "name": "滨河小区",
            "kind": "COMMERCIAL",
            "householdCount": 2,
            "district": {"id": gid("District", w.district), "name": "第一片区"},
        }
    ]
    town = (await api.op("Compounds", {"communityId": gid("Town", w.town)}, token=t["resident"]))["data"]
    assert {n["name"] for n in edges(town["compounds"])} == {"滨河小区", "椒溪苑"}
    searched = await api.op("Compounds", {"communityId": gid("Town", w.town), "search": "溪"}, token=t["admin"])
    assert [n["name"] for n in edges(searched["data"]["compounds"])] == ["椒溪苑"]
    assert edges(searched["data"]["compounds"])[0]["district"] is None


async def test_compound_detail(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    oc = await b.organisation(conn, w.county, "OWNER_COMMITTEE", "滨河小区业主委员会", area_id=w.compound)
    fb = await b.organisation(conn, w.county, "FUNCTIONAL_BRANCH", "滨河小区功能型党支部", area_id=w.compound)
    pm = await b.organisation(conn, w.county, "PROPERTY_COMPANY", "佛坪县安居物业管理有限公司")
    await conn.execute("UPDATE areas SET property_manager_id = $1 WHERE id = $2", pm, w.compound)
    adoption = await b.adoption(conn, w.unit, w.compound)
    data = (await api.op("CompoundDetail", {"id": gid("Compound", w.compound)}, token=t["neighbour"]))["data"]
    c = data["node"]
    assert c["name"] == "滨河小区" and c["kind"] == "COMMERCIAL" and c["address"] == "佛坪县袁家庄街道滨河路12号"
    assert [p["level"] for p in c["path"]] == ["COUNTY", "TOWN", "COMMUNITY", "DISTRICT", "COMPOUND"]
    assert c["community"]["name"] == "东岳殿社区"
    assert c["ownerCommittee"] == {"id": gid("Organisation", oc), "name": "滨河小区业主委员会"}
    assert c["functionalBranch"]["id"] == gid("Organisation", fb)
    assert c["propertyManager"]["name"] == "佛坪县安居物业管理有限公司"
    assert c["adoptions"] == [
        {
            "id": gid("Adoption", adoption),
            "unit": {"id": gid("Organisation", w.unit), "name": (await _name(conn, w.unit))},
            "duties": ["ASSIST_MANAGEMENT", "PUBLIC_SERVICE", "MOBILISATION"],
            "since": "2024-03-01",
        }
    ]
    buildings = c["buildings"]
    assert buildings["totalCount"] == 2
    first = edges(buildings)[0]
    assert first["name"] == "1号楼" and first["head"]["name"] == "李楼长" and first["householdCount"] == 1
    # an id of another type or county is null, never an error
    other = await b.area(conn, "COUNTY", "别的县3")
    for bad in (gid("Compound", other), gid("Compound", w.building), "garbage", gid("Compound", 10**15)):
        result = await api.op("CompoundDetail", {"id": bad}, token=t["admin"])
        assert result == {"data": {"node": None}}


async def _name(conn: asyncpg.Connection, organisation: int) -> str:
    return str(await conn.fetchval("SELECT name FROM organisations WHERE id = $1", organisation))


# --- BuildingHouseholds and personal-data masking ------------------------------------------------------


async def _residents_seen(api: Api, building: int, token: str) -> dict[str, list[tuple[str, str | None]]]:
    data = (await api.op("BuildingHouseholds", {"id": gid("Building", building)}, token=token))["data"]["node"]
    return {h["label"]: [(p["name"], p["phone"]) for p in h["residents"]] for h in edges(data["households"])}


async def _audit_rows(conn: asyncpg.Connection, user_id: int) -> list[tuple[str, int, str]]:
    rows = await conn.fetch(
        "SELECT target_type, target_id, detail->>'field' AS field FROM audit_log "
        "WHERE user_id = $1 AND action = 'read.personalData' ORDER BY id",
        user_id,
    )
    return [(r["target_type"], r["target_id"], r["field"]) for r in rows]


OURS = [("李楼长", "13800000002"), ("赵居民", "13800000004")]
THEIRS = [("王五", "13800000020")]


@pytest.mark.parametrize(
    ("viewer", "ours", "theirs", "audited"),
    [
        ("admin", OURS, THEIRS, set()),
        ("staff", OURS, THEIRS, {"ours", "theirs"}),
        ("head", OURS, THEIRS, {"theirs"}),  # the head lives in "ours": a member's read is not audited
        ("cadre", OURS, [], {"ours"}),  # paired with "ours" only
        ("resident", OURS, [], set()),
        ("neighbour", [], [], set()),
        ("unit", [], [], set()),
    ],
)
async def test_residents_are_masked_by_the_rules(
    api: Api,
    conn: asyncpg.Connection,
    viewer: str,
    ours: list[tuple[str, str]],
    theirs: list[tuple[str, str]],
    audited: set[str],
) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    other_home = await b.household(conn, w.building, "1单元102")
    await b.person(conn, w.county, "王五", household=other_home, phone="13800000020")
    assert await _residents_seen(api, w.building, t[viewer]) == {"1单元101": ours, "1单元102": theirs}
    rows = await _audit_rows(conn, w.users[viewer])
    targets = {"ours": w.household, "theirs": other_home}
    assert {target for _, target, _ in rows} == {targets[a] for a in audited}
    assert all(field in ("residents", "phone") for _, _, field in rows)


async def test_building_head_phone_visible_to_residents_they_serve(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    query = "query($id: ID!) { node(id: $id) { ... on Building { head { name phone } } } }"
    # the resident lives in the head's building; the neighbour does not
    assert (await api.ok(query, {"id": gid("Building", w.building)}, token=t["resident"]))["node"]["head"] == {
        "name": "李楼长",
        "phone": "13800000002",
    }
    neighbour = await api.ok(query, {"id": gid("Building", w.building)}, token=t["neighbour"])
    assert neighbour["node"]["head"] == {"name": "李楼长", "phone": None}
    # a compound's responsible person serves every resident of the compound
    compound_head = await b.person(conn, w.county, "周小区长", phone="13800000009")
    await b.responsible(conn, w.compound, compound_head)
    q2 = "query($id: ID!) { node(id: $id) { ... on Compound { responsible { name phone } } } }"
    for viewer in ("resident", "neighbour"):
        seen = await api.ok(q2, {"id": gid("Compound", w.compound)}, token=t[viewer])
        assert seen["node"]["responsible"]["phone"] == "13800000009"
    assert (await api.ok(q2, {"id": gid("Compound", w.compound)}, token=t["unit"]))["node"]["responsible"][
        "phone"
    ] is None


async def test_cadre_phone_visible_to_paired_household_only(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    query = "query($id: ID!) { node(id: $id) { ... on Person { name phone household { id } } } }"
    cadre = gid("Person", w.people["cadre"])
    assert (await api.ok(query, {"id": cadre}, token=t["resident"]))["node"]["phone"] == "13800000003"
    assert (await api.ok(query, {"id": cadre}, token=t["neighbour"]))["node"]["phone"] is None
    # where a resident lives is masked like the phone
    resident = gid("Person", w.people["resident"])
    assert (await api.ok(query, {"id": resident}, token=t["neighbour"]))["node"] == {
        "name": "赵居民",
        "phone": None,
        "household": None,
    }
    assert (await api.ok(query, {"id": resident}, token=t["cadre"]))["node"]["household"] == {
        "id": gid("Household", w.household)
    }
    # the phone of the people serving a resident is not the address of their home
    compound_head = await b.person(conn, w.county, "周小区长", household=w.neighbour_household, phone="13800000009")
    await b.responsible(conn, w.compound, compound_head)
    seen = await api.ok(query, {"id": gid("Person", compound_head)}, token=t["resident"])
    assert seen["node"] == {"name": "周小区长", "phone": "13800000009", "household": None}
    # the cadre's read of a paired household's phone is audited
    assert ("Household", w.household, "phone") in await _audit_rows(conn, w.users["cadre"])


async def test_staff_out_of_scope_sees_nothing(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    other_staff = await b.user(conn, w.county, grants=[("COMMUNITY_STAFF", w.other_community)])
    seen = await _residents_seen(api, w.building, api.token_for(other_staff))
    assert seen == {"1单元101": []}
    assert await _audit_rows(conn, other_staff) == []


async def test_building_households_paging(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    await b.households_in(conn, w.other_building, 30)
    first = await api.op("BuildingHouseholds", {"id": gid("Building", w.other_building), "first": 20}, token=t["admin"])
    page = first["data"]["node"]["households"]
    assert page["totalCount"] == 31 and page["pageInfo"]["hasNextPage"] and len(page["edges"]) == 20
    after = page["pageInfo"]["endCursor"]
    second = await api.op(
        "BuildingHouseholds", {"id": gid("Building", w.other_building), "first": 20, "after": after}, token=t["admin"]
    )
    rest = second["data"]["node"]["households"]
    assert len(rest["edges"]) == 11 and not rest["pageInfo"]["hasNextPage"]
    labels = [h["label"] for h in edges(page) + edges(rest)]
    assert len(set(labels)) == 31


# --- ResponsibilityChain --------------------------------------------------------------------------


async def test_responsibility_chain(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    secretary = await b.person(conn, w.county, "吴书记", phone="13800000011")
    await b.responsible(conn, w.community, secretary)
    data = (await api.op("ResponsibilityChain", {"householdId": gid("Household", w.household)}, token=t["resident"]))[
        "data"
    ]["node"]
    chain = data["responsibilityChain"]
    assert [c["level"] for c in chain] == ["COUNTY", "TOWN", "COMMUNITY", "DISTRICT", "COMPOUND", "BUILDING"]
    by_level = {c["level"]: c for c in chain}
    assert by_level["COUNTY"]["responsible"] is None
    assert by_level["COMMUNITY"]["responsible"] == {
        "id": gid("Person", secretary),
        "name": "吴书记",
        "phone": "13800000011",
    }
    assert by_level["BUILDING"]["area"]["name"] == "1号楼"
    assert by_level["BUILDING"]["responsible"]["phone"] == "13800000002"

    # a dwelling in a stairwell unit: the chain ends with the UNIT level
    stairwell = await b.area(conn, "UNIT", "2单元", w.building)
    home = await b.household(conn, w.building, "2单元301", unit=stairwell)
    chain = (await api.op("ResponsibilityChain", {"householdId": gid("Household", home)}, token=t["admin"]))["data"]
    levels = [c["level"] for c in chain["node"]["responsibilityChain"]]
    assert levels[-2:] == ["BUILDING", "UNIT"]
    assert chain["node"]["responsibilityChain"][-1]["responsible"] is None


async def test_chain_skips_a_missing_district_with_null_area(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    compound = await b.area(conn, "COMPOUND", "直属小区", w.community)
    building = await b.area(conn, "BUILDING", "1号楼", compound)
    home = await b.household(conn, building, "101")
    chain = (await api.op("ResponsibilityChain", {"householdId": gid("Household", home)}, token=t["admin"]))["data"]
    district = chain["node"]["responsibilityChain"][3]
    assert district == {"level": "DISTRICT", "area": None, "responsible": None}


# --- AssignResponsible ----------------------------------------------------------------------------


async def _current(conn: asyncpg.Connection, area: int) -> list[tuple[int, bool]]:
    rows = await conn.fetch(
        "SELECT person_id, until IS NULL AS current FROM responsibilities WHERE area_id = $1 ORDER BY id", area
    )
    return [(r["person_id"], r["current"]) for r in rows]


async def test_assign_responsible_keeps_history(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    new_head = w.people["resident"]
    result = await api.op(
        "AssignResponsible",
        {"areaId": gid("Building", w.building), "personId": gid("Person", new_head)},
        token=t["staff"],
    )
    payload = result["data"]["assignResponsible"]
    assert payload["userErrors"] == []
    assert payload["area"] == {
        "id": gid("Building", w.building),
        "level": "BUILDING",
        "responsible": {"id": gid("Person", new_head), "name": "赵居民"},
    }
    assert await _current(conn, w.building) == [(w.people["head"], False), (new_head, True)]
    # the admin assigns anywhere in the county, an audit row is written
    result = await api.op(
        "AssignResponsible",
        {"areaId": gid("County", w.county), "personId": gid("Person", w.people["staff"])},
        token=t["admin"],
    )
    assert result["data"]["assignResponsible"]["userErrors"] == []
    assert await conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'assignResponsible' AND target_id = $1", w.county
    )


@pytest.mark.parametrize(
    ("who", "area", "person", "code", "field"),
    [
        ("resident", "building", "resident", "FORBIDDEN", ["areaId"]),
        ("head", "building", "resident", "FORBIDDEN", ["areaId"]),
        ("unit", "building", "resident", "FORBIDDEN", ["areaId"]),
        ("staff", "county", "resident", "FORBIDDEN", ["areaId"]),
        ("other_staff", "building", "resident", "FORBIDDEN", ["areaId"]),
        ("admin", "missing", "resident", "NOT_FOUND", ["areaId"]),
        ("admin", "other_county", "resident", "NOT_FOUND", ["areaId"]),
        ("admin", "building", "missing", "NOT_FOUND", ["personId"]),
        ("admin", "building", "stranger", "INVALID", ["personId"]),
    ],
)
async def test_assign_responsible_refusals_change_nothing(
    api: Api, conn: asyncpg.Connection, who: str, area: str, person: str, code: str, field: list[str]
) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    t["other_staff"] = api.token_for(await b.user(conn, w.county, grants=[("COMMUNITY_STAFF", w.other_community)]))
    other_county = await b.area(conn, "COUNTY", "别的县4")
    stranger = await b.person(conn, other_county, "外县人")
    areas = {
        "building": gid("Building", w.building),
        "county": gid("County", w.county),
        "missing": gid("Building", 10**12),
        "other_county": gid("County", other_county),
    }
    people = {"resident": gid("Person", w.people["resident"]), "missing": "nope", "stranger": gid("Person", stranger)}
    before = await conn.fetchval("SELECT count(*) FROM responsibilities")
    result = await api.op("AssignResponsible", {"areaId": areas[area], "personId": people[person]}, token=t[who])
    payload = result["data"]["assignResponsible"]
    assert payload["area"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert await conn.fetchval("SELECT count(*) FROM responsibilities") == before
    assert await _current(conn, w.building) == [(w.people["head"], True)]


async def test_concurrent_assignments_keep_one_current(committed_db: dict[str, Any]) -> None:
    import asyncio

    pool = committed_db["pool"]
    api: Api = committed_db["api"]
    async with pool.acquire() as conn:
        w = await b.world(conn)
        people = [await b.person(conn, w.county, f"候选人{i}") for i in range(8)]
    token = api.token_for(w.users["admin"])
    results = await asyncio.gather(
        *(
            api.op(
                "AssignResponsible",
                {"areaId": gid("Building", w.building), "personId": gid("Person", p)},
                token=token,
            )
            for p in people
        )
    )
    assert all(r["data"]["assignResponsible"]["userErrors"] == [] for r in results)
    async with pool.acquire() as conn:
        rows = await _current(conn, w.building)
    assert len(rows) == 9 and sum(current for _, current in rows) == 1


# --- Organisations, OrganisationDetail, CrossAppointments ----------------------------------------------


async def test_organisations_filter_and_member_count(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    general = await b.organisation(conn, w.county, "GENERAL_BRANCH", "东岳殿社区党总支", area_id=w.community)
    branch = await b.organisation(conn, w.county, "PARTY_BRANCH", "东岳殿社区第一党支部", parent=general)
    await b.post(conn, w.people["head"], branch, "书记")
    await b.post(conn, w.people["resident"], branch, "党员")
    await b.post(conn, w.people["resident"], branch, "宣传委员")
    data = (await api.op("Organisations", {"kind": "PARTY_BRANCH"}, token=t["neighbour"]))["data"]["organisations"]
    assert edges(data) == [
        {
            "id": gid("Organisation", branch),
            "name": "东岳殿社区第一党支部",
            "kind": "PARTY_BRANCH",
            "parent": {"id": gid("Organisation", general), "name": "东岳殿社区党总支"},
            "memberCount": 2,
        }
    ]
    data = (await api.op("Organisations", {"search": "党总支"}, token=t["neighbour"]))["data"]["organisations"]
    assert [n["name"] for n in edges(data)] == ["东岳殿社区党总支"]


ORGANISATION_DETAIL = """
query OrganisationDetail($id: ID!) {
  node(id: $id) {
    ... on Organisation {
      id name kind parent { id name } children { id name kind }
      members(first: 100) { totalCount edges { node { person { id name } role since } } }
      adoptions { id area { id name level } duties since }
    }
  }
}
"""


async def test_organisation_detail_without_resources(api: Api, conn: asyncpg.Connection) -> None:
    """The contract's OrganisationDetail minus `resources`, which the dual list adds."""
    w = await b.world(conn)
    t = await tokens(api, w)
    branch = await b.organisation(conn, w.county, "PARTY_BRANCH", "财政局党支部", parent=w.unit)
    await b.adoption(conn, w.unit, w.building, "2024-05-01")
    data = (await api.ok(ORGANISATION_DETAIL, {"id": gid("Organisation", w.unit)}, token=t["resident"]))["node"]
    assert data["children"] == [{"id": gid("Organisation", branch), "name": "财政局党支部", "kind": "PARTY_BRANCH"}]
    assert data["members"]["totalCount"] == 2
    assert {(m["node"]["person"]["name"], m["node"]["role"]) for m in data["members"]["edges"]} == {
        ("张干部", "科员"),
        ("孙单位", "办公室主任"),
    }
    assert data["adoptions"][0]["area"] == {"id": gid("Building", w.building), "name": "1号楼", "level": "BUILDING"}
    assert data["adoptions"][0]["since"] == "2024-05-01"


async def test_cross_appointments(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    owners = await b.organisation(conn, w.county, "OWNER_COMMITTEE", "滨河小区业委会", area_id=w.compound)
    committee = await b.organisation(conn, w.county, "RESIDENTS_COMMITTEE", "东岳殿社区居委会", area_id=w.community)
    general = await b.organisation(conn, w.county, "GENERAL_BRANCH", "东岳殿社区党总支", area_id=w.community)
    elsewhere = await b.organisation(conn, w.county, "RESIDENTS_COMMITTEE", "椒溪河居委会", area_id=w.other_community)
    await b.post(conn, w.people["head"], owners, "主任")
    await b.post(conn, w.people["head"], general, "委员")
    await b.post(conn, w.people["resident"], owners, "委员")  # only one side
    await b.post(conn, w.people["neighbour"], committee, "委员")  # only the other side
    await b.post(conn, w.people["neighbour"], elsewhere, "委员")
    data = (await api.op("CrossAppointments", {"communityId": gid("Community", w.community)}, token=t["staff"]))[
        "data"
    ]["crossAppointments"]
    assert data == [
        {
            "person": {"id": gid("Person", w.people["head"]), "name": "李楼长"},
            "posts": [
                {
                    "organisation": {
                        "id": gid("Organisation", owners),
                        "name": "滨河小区业委会",
                        "kind": "OWNER_COMMITTEE",
                    },
                    "role": "主任",
                },
                {
                    "organisation": {
                        "id": gid("Organisation", general),
                        "name": "东岳殿社区党总支",
                        "kind": "GENERAL_BRANCH",
                    },
                    "role": "委员",
                },
            ],
        }
    ]
    other = await api.op("CrossAppointments", {"communityId": gid("Community", w.other_community)}, token=t["staff"])
    assert other["data"]["crossAppointments"] == []
    bad = await api.op("CrossAppointments", {"communityId": gid("Compound", w.compound)}, token=t["staff"])
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# --- node / nodes ----------------------------------------------------------------------------------


async def test_nodes_of_every_areas_type(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    post = await b.post(conn, w.people["head"], w.unit, "志愿者")
    adoption = await b.adoption(conn, w.unit, w.compound)
    stairwell = await b.area(conn, "UNIT", "1单元", w.building)
    wanted = {
        gid("County", w.county): "County",
        gid("Town", w.town): "Town",
        gid("Community", w.community): "Community",
        gid("District", w.district): "District",
        gid("Compound", w.compound): "Compound",
        gid("Building", w.building): "Building",
        gid("Unit", stairwell): "Unit",
        gid("Organisation", w.unit): "Organisation",
        gid("Household", w.household): "Household",
        gid("Person", w.people["resident"]): "Person",
        gid("Post", post): "Post",
        gid("Adoption", adoption): "Adoption",
    }
    data = (await api.op("Nodes", {"ids": list(wanted)}, token=t["resident"]))["data"]["nodes"]
    assert [(n["id"], n["__typename"]) for n in data] == list(wanted.items())
    # another county's objects are null
    other = await b.area(conn, "COUNTY", "别的县5")
    other_person = await b.person(conn, other)
    other_org = await b.organisation(conn, other, "ENTERPRISE")
    other_post = await b.post(conn, other_person, other_org)
    hidden = [
        gid("County", other),
        gid("Person", other_person),
        gid("Organisation", other_org),
        gid("Post", other_post),
    ]
    assert (await api.op("Nodes", {"ids": hidden}, token=t["admin"]))["data"]["nodes"] == [None] * 4


# --- no N+1 ----------------------------------------------------------------------------------------


def _statements(caplog: pytest.LogCaptureFixture) -> int:
    records = [r for r in caplog.records if r.getMessage() == "operation"]
    assert records
    count: int = records[-1].fields["sql_statements"]  # type: ignore[attr-defined]
    return count


async def _count_statements(
    api: Api, caplog: pytest.LogCaptureFixture, name: str, variables: dict[str, Any], token: str
) -> int:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gongjian.graphql"):
        result = await api.op(name, variables, token=token)
    assert "errors" not in result, result
    return _statements(caplog)


async def test_compound_detail_statements_do_not_grow_with_buildings(
    api: Api, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    small = await b.area(conn, "COMPOUND", "小小区", w.district)
    big = await b.area(conn, "COMPOUND", "大小区", w.district)
    await b.buildings_in(conn, small, 3)
    await b.buildings_in(conn, big, 100)
    for compound in (small, big):
        await b.adoption(conn, w.unit, compound)
        await b.organisation(conn, w.county, "OWNER_COMMITTEE", area_id=compound)
    few = await _count_statements(api, caplog, "CompoundDetail", {"id": gid("Compound", small)}, t["staff"])
    many = await _count_statements(api, caplog, "CompoundDetail", {"id": gid("Compound", big)}, t["staff"])
    assert few == many
    data = (await api.op("CompoundDetail", {"id": gid("Compound", big)}, token=t["staff"]))["data"]["node"]
    assert data["buildings"]["totalCount"] == 100 and len(data["buildings"]["edges"]) == 100
    assert all(e["node"]["head"] is not None and e["node"]["householdCount"] == 1 for e in data["buildings"]["edges"])


async def test_building_households_statements_do_not_grow_with_households(
    api: Api, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    compound = await b.area(conn, "COMPOUND", "测试小区", w.district)
    small, big = await b.buildings_in(conn, compound, 2)
    await b.households_in(conn, small, 3, residents=3)
    await b.households_in(conn, big, 100, residents=3)
    for viewer in ("staff", "admin", "neighbour"):
        few = await _count_statements(
            api, caplog, "BuildingHouseholds", {"id": gid("Building", small), "first": 100}, t[viewer]
        )
        many = await _count_statements(
            api, caplog, "BuildingHouseholds", {"id": gid("Building", big), "first": 100}, t[viewer]
        )
        assert few == many, viewer
    data = (await api.op("BuildingHouseholds", {"id": gid("Building", big), "first": 100}, token=t["staff"]))["data"]
    homes = edges(data["node"]["households"])
    assert len(homes) == 100 and all(h["residents"] and all(p["phone"] for p in h["residents"]) for h in homes)
    # staff reads are audited: every household of the page, in one row per household and request
    audited = await conn.fetch(
        "SELECT target_id, count(*) FROM audit_log WHERE user_id = $1 AND detail->>'field' = 'residents' "
        "AND request_id = (SELECT request_id FROM audit_log WHERE user_id = $1 ORDER BY id DESC LIMIT 1) "
        "GROUP BY target_id",
        w.users["staff"],
    )
    shown = {ids.decode_as(h["id"], "Household") for h in homes}
    assert {r[0] for r in audited} == shown and all(r[1] == 1 for r in audited)


async def test_search_strings_are_data_not_sql(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    t = await tokens(api, w)
    for text in ("'; DROP TABLE areas; --", "\\", "%' OR '1'='1", "滨河' --"):
        for op, variables, key in (
            ("Areas", {"search": text}, "areas"),
            ("Compounds", {"communityId": gid("Community", w.community), "search": text}, "compounds"),
            ("Organisations", {"search": text}, "organisations"),
        ):
            result = await api.op(op, variables, token=t["admin"])
            assert result["data"][key]["totalCount"] == 0, (op, text)
    assert await conn.fetchval("SELECT count(*) FROM areas WHERE county_id = $1", w.county) == 8
