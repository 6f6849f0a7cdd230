"""Coverage, compliance and statistics of an area of any level, through HTTP."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import asyncpg
import pytest

from resolvers import ids
from tests import builders as b
from tests.support import Api


def gid(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


@dataclass
class Report:
    w: b.World
    other_compound: int
    third_building: int
    third_household: int
    second_unit: int
    second_cadre: int
    late_cadre: int


@pytest.fixture
async def rep(conn: asyncpg.Connection) -> Report:
    """The world plus: a compound in the other community with one building (adopted
    directly by a second unit, headed by a second head) and one unpaired household; the
    world's compound adopted as a whole; a second cadre paired with the neighbour."""
    w = await b.world(conn)
    other_compound = await b.area(conn, "COMPOUND", "椒溪苑", w.other_community)
    third_building = await b.area(conn, "BUILDING", "5号楼", other_compound)
    third_household = await b.household(conn, third_building, "2单元302")
    second_unit = await b.organisation(conn, w.county, "ENTERPRISE", "佛坪供电公司")
    await b.adoption(conn, w.unit, w.compound)
    await b.adoption(conn, second_unit, third_building)
    ended = await b.adoption(conn, second_unit, w.building)
    await conn.execute("UPDATE adoptions SET until = DATE '2024-06-30' WHERE id = $1", ended)
    await b.responsible(conn, w.other_building, w.people["head"])
    second_head = await b.person(conn, w.county, "周楼长", household=third_household)
    await b.responsible(conn, third_building, second_head)
    second_cadre = await b.cadre(conn, w.county, second_unit, "吴干部")
    await b.pairing(conn, second_cadre, w.neighbour_household, since="2025-01-01")
    late_cadre = await b.cadre(conn, w.county, w.unit, "郑干部")
    await b.pairing(conn, late_cadre, w.household, since="2025-08-01")
    gone = await b.pairing(conn, late_cadre, third_household, since="2024-01-01")
    await conn.execute("UPDATE pairings SET until = DATE '2024-12-31' WHERE id = $1", gone)
    return Report(w, other_compound, third_building, third_household, second_unit, second_cadre, late_cadre)


def tok(api: Api, rep: Report, who: str) -> str:
    return api.token_for(rep.w.users[who])


# --- coverage --------------------------------------------------------------------------------


async def test_coverage_of_the_county(api: Api, rep: Report) -> None:
    result = await api.op("Coverage", {"areaId": gid("County", rep.w.county)}, token=tok(api, rep, "admin"))
    assert "errors" not in result
    coverage = result["data"]["coverage"]
    assert {k: v for k, v in coverage.items() if k != "uncoveredHouseholds"} == {
        "buildings": 3,
        "buildingsWithHead": 3,
        "adoptedBuildings": 3,
        "households": 3,
        "pairedHouseholds": 2,
    }
    assert coverage["uncoveredHouseholds"] == {
        "totalCount": 1,
        "edges": [{"node": {"id": gid("Household", rep.third_household), "label": "2单元302"}}],
    }


@pytest.mark.parametrize(
    ("level", "attr", "expected"),
    [
        ("Community", "community", (2, 2, 2, 2, 2)),
        ("District", "district", (2, 2, 2, 2, 2)),
        ("Compound", "compound", (2, 2, 2, 2, 2)),
        ("Building", "building", (1, 1, 1, 1, 1)),
        ("Community", "other_community", (1, 1, 1, 1, 0)),
    ],
)
async def test_coverage_of_any_level(api: Api, rep: Report, level: str, attr: str, expected: tuple[int, ...]) -> None:
    area = getattr(rep.w, attr)
    result = await api.op("Coverage", {"areaId": gid(level, area)}, token=tok(api, rep, "admin"))
    c = result["data"]["coverage"]
    figures = (c["buildings"], c["buildingsWithHead"], c["adoptedBuildings"], c["households"], c["pairedHouseholds"])
    assert figures == expected
    assert c["uncoveredHouseholds"]["totalCount"] == expected[3] - expected[4]


async def test_an_ended_adoption_and_a_missing_head_leave_coverage(
    api: Api, conn: asyncpg.Connection, rep: Report
) -> None:
    await conn.execute("UPDATE adoptions SET until = DATE '2025-01-01' WHERE area_id = $1", rep.w.compound)
    await conn.execute("UPDATE responsibilities SET until = now() WHERE area_id = $1", rep.w.other_building)
    result = await api.op("Coverage", {"areaId": gid("Community", rep.w.community)}, token=tok(api, rep, "staff"))
    c = result["data"]["coverage"]
    assert (c["buildings"], c["buildingsWithHead"], c["adoptedBuildings"]) == (2, 1, 0)


# --- compliance ------------------------------------------------------------------------------


async def test_compliance_at_a_date(api: Api, conn: asyncpg.Connection, rep: Report) -> None:
    w = rep.w
    first = await b.pairing_of(conn, w.people["cadre"], w.household)
    second = await b.pairing_of(conn, rep.second_cadre, w.neighbour_household)
    for kind, day in (("HOME_VISIT", "2025-07-01"), ("HEART_TO_HEART", "2025-07-02"), ("GOOD_DEED", "2025-03-01")):
        await b.visit(conn, first, kind, day)
    for kind, day in (("HOME_VISIT", "2025-06-30"), ("HEART_TO_HEART", "2025-06-30"), ("GOOD_DEED", "2025-01-01")):
        await b.visit(conn, second, kind, day)
    await b.visit(conn, second, "HOME_VISIT", "2025-07-16")  # after asOf: not counted
    result = await api.op(
        "Compliance", {"areaId": gid("Community", w.community), "asOf": "2025-07-15"}, token=tok(api, rep, "staff")
    )
    assert "errors" not in result
    compliance = result["data"]["compliance"]
    # the late cadre's pairing began after asOf; the ended one is in the other community
    assert compliance["pairings"] == 2
    assert compliance["byKind"] == [
        {"kind": "HOME_VISIT", "met": 1, "due": 1},
        {"kind": "HEART_TO_HEART", "met": 1, "due": 1},
        {"kind": "GOOD_DEED", "met": 2, "due": 0},
    ]
    assert compliance["due"] == {
        "totalCount": 1,
        "edges": [
            {
                "node": {
                    "id": gid("Pairing", second),
                    "cadre": {"id": gid("Person", rep.second_cadre), "name": "吴干部"},
                    "household": {"id": gid("Household", w.neighbour_household), "label": "1单元202"},
                }
            }
        ],
    }
    # a month later everything monthly is due again, and the late pairing counts
    august = await api.op(
        "Compliance", {"areaId": gid("Community", w.community), "asOf": "2025-08-01"}, token=tok(api, rep, "staff")
    )
    assert august["data"]["compliance"]["pairings"] == 3
    assert august["data"]["compliance"]["byKind"][0] == {"kind": "HOME_VISIT", "met": 0, "due": 3}
    assert august["data"]["compliance"]["due"]["totalCount"] == 3


async def test_compliance_matches_the_pairings_own_obligations(api: Api, conn: asyncpg.Connection, rep: Report) -> None:
    w = rep.w
    first = await b.pairing_of(conn, w.people["cadre"], w.household)
    await b.visit(conn, first, "HOME_VISIT", "2024-12-31")
    await b.visit(conn, first, "GOOD_DEED", "2024-12-31")
    for as_of in ("2024-12-31", "2025-01-01"):
        compliance = await api.op(
            "Compliance", {"areaId": gid("Building", w.building), "asOf": as_of}, token=tok(api, rep, "admin")
        )
        own = await api.ok(
            "query($id: ID!, $asOf: Date) { node(id: $id) { ... on Pairing { "
            "obligations(asOf: $asOf) { kind status } } } }",
            {"id": gid("Pairing", first), "asOf": as_of},
            token=tok(api, rep, "admin"),
        )
        by_kind = {k["kind"]: ("MET" if k["met"] else "DUE") for k in compliance["data"]["compliance"]["byKind"]}
        assert by_kind == {o["kind"]: o["status"] for o in own["node"]["obligations"]}


# --- statistics ------------------------------------------------------------------------------


async def _other_domains(conn: asyncpg.Connection, rep: Report) -> None:
    """Rows of the dual list, orders and community life that statistics read."""
    w = rep.w
    await b.organisation(conn, w.county, "GENERAL_BRANCH", "东岳殿社区党总支", area_id=w.community)
    await b.organisation(conn, w.county, "PARTY_BRANCH", "第一党支部", area_id=w.community)
    await b.organisation(conn, w.county, "PARTY_BRANCH", "第二党支部", area_id=w.district)
    await b.organisation(conn, w.county, "PARTY_BRANCH", "椒溪河党支部", area_id=w.other_community)
    await b.organisation(conn, w.county, "PARTY_BRANCH", "财政局机关党支部", parent=w.unit)
    await b.organisation(conn, w.county, "FUNCTIONAL_BRANCH", "滨河小区功能型党支部", area_id=w.compound)

    async def resource(category: str, quantity: int, communities: list[int], extra: str = "") -> None:
        rid = await conn.fetchval(
            "INSERT INTO resources (county_id, provider_id, title, category, quantity, remaining, unit) "
            "VALUES ($1, $2, '车位', $3, $4, $4, '个') RETURNING id",
            w.county,
            w.unit,
            category,
            quantity,
        )
        if extra:
            await conn.execute(f"UPDATE resources SET {extra} WHERE id = $1", rid)  # noqa: S608 - test constants
        for community in communities:
            await conn.execute("INSERT INTO resource_communities VALUES ($1, $2)", rid, community)

    await resource("PARKING", 10, [w.community, w.other_community])
    await resource("PARKING", 4, [w.other_community])
    await resource("PARKING", 5, [w.community], "withdrawn_at = now()")
    await resource("PARKING", 7, [w.community], "available_until = now() - interval '1 day'")
    await resource("PARKING", 6, [w.community], "available_until = now() + interval '30 days'")
    await resource("VENUE", 3, [w.community])

    day = datetime.timedelta(days=1)
    for community, ends in ((w.community, -day), (w.community, 2 * day), (w.other_community, -10 * day)):
        await conn.execute(
            "INSERT INTO activities (county_id, community_id, title, kind, starts_at, ends_at) "
            "VALUES ($1, $2, '义诊', 'FREE_CLINIC', now() + $3::interval - interval '2 hours', now() + $3::interval)",
            w.county,
            community,
            ends,
        )
    for compound, status in ((w.compound, "COMPLETED"), (w.compound, "COMPLETED"), (rep.other_compound, "PLANNED")):
        await conn.execute(
            "INSERT INTO renovations (county_id, compound_id, title, status, year) VALUES ($1, $2, '改造', $3, 2024)",
            w.county,
            compound,
            status,
        )
    for compound, category, rectified in (
        (w.compound, "ILLEGAL_STRUCTURE", True),
        (w.compound, "ILLEGAL_STRUCTURE", False),
        (w.compound, "BILLBOARD", True),
        (rep.other_compound, "ILLEGAL_STRUCTURE", True),
    ):
        await b.finding(
            conn,
            compound,
            category=category,
            deadline_in_days=-5,
            rectified_days_after_deadline=1 if rectified else None,
        )
    await conn.execute("INSERT INTO service_categories VALUES ('REPAIR', '维修', 48, 4) ON CONFLICT DO NOTHING")
    orders = [("COMPLETED", None), ("CLOSED", 4), ("CLOSED", 5), ("SUBMITTED", None), ("CANCELLED", None)]
    for n, (status, rating) in enumerate(orders):
        await conn.execute(
            "INSERT INTO service_orders (county_id, number, household_id, community_id, title, category, status, "
            "rating, placed_by, assignee_id) VALUES ($1, $2, $3, $4, '修水管', 'REPAIR', $5, $6, $7, $8)",
            w.county,
            f"T{w.county}-{n}",
            w.household,
            w.community,
            status,
            rating,
            w.users["resident"],
            w.people["cadre"],
        )


async def test_statistics_of_the_county(api: Api, conn: asyncpg.Connection, rep: Report) -> None:
    await _other_domains(conn, rep)
    result = await api.op("Statistics", {"areaId": gid("County", rep.w.county)}, token=tok(api, rep, "admin"))
    assert "errors" not in result
    assert result["data"]["statistics"] == {
        "partyBranches": 3,  # not the general branch, not the unit's own branch
        "functionalBranches": 1,
        "buildingHeads": 2,  # 李楼长 heads two buildings
        "households": 3,
        "residents": 4,
        "adoptingUnits": 2,
        "adoptedAreas": 2,  # the ended adoption does not count
        "pairedCadres": 3,
        "pairedHouseholds": 2,
        "parkingSpacesOpened": 20,  # 10 + 4 + 6: withdrawn, expired and venues excluded
        "activitiesHeld": 2,
        "renovatedCompounds": 1,
        "ordersPlaced": 5,
        "ordersCompleted": 3,
        "averageRating": 4.5,
    }


async def test_statistics_of_a_community_and_a_compound(api: Api, conn: asyncpg.Connection, rep: Report) -> None:
    await _other_domains(conn, rep)
    community = await api.op("Statistics", {"areaId": gid("Community", rep.w.community)}, token=tok(api, rep, "staff"))
    s = community["data"]["statistics"]
    assert (s["partyBranches"], s["functionalBranches"], s["buildingHeads"], s["households"]) == (2, 1, 1, 2)
    assert (s["adoptingUnits"], s["adoptedAreas"], s["pairedCadres"], s["pairedHouseholds"]) == (1, 1, 3, 2)
    assert (s["parkingSpacesOpened"], s["activitiesHeld"], s["renovatedCompounds"]) == (16, 1, 1)
    other = await api.op("Statistics", {"areaId": gid("Compound", rep.other_compound)}, token=tok(api, rep, "admin"))
    s = other["data"]["statistics"]
    # below a community, the community-level figures are those of its community
    assert (s["parkingSpacesOpened"], s["activitiesHeld"], s["renovatedCompounds"]) == (14, 1, 0)
    assert (s["households"], s["pairedHouseholds"], s["ordersPlaced"], s["averageRating"]) == (1, 0, 0, None)


async def test_statistics_count_removed_illegal_structures(api: Api, conn: asyncpg.Connection, rep: Report) -> None:
    await _other_domains(conn, rep)
    query = "query($id: ID!) { statistics(areaId: $id) { illegalStructuresRemoved } }"
    county = await api.ok(query, {"id": gid("County", rep.w.county)}, token=tok(api, rep, "admin"))
    assert county["statistics"]["illegalStructuresRemoved"] == 2  # rectified ones only, billboards apart
    compound = await api.ok(query, {"id": gid("Compound", rep.w.compound)}, token=tok(api, rep, "admin"))
    assert compound["statistics"]["illegalStructuresRemoved"] == 1


# --- who may read reports --------------------------------------------------------------------

REPORTS = [
    ("Coverage", {}),
    ("Compliance", {"asOf": "2025-07-15"}),
    ("Statistics", {}),
]


@pytest.mark.parametrize(("operation", "extra"), REPORTS)
@pytest.mark.parametrize("who", ["head", "cadre", "resident", "neighbour", "unit"])
async def test_reports_are_forbidden_to_others(
    api: Api, rep: Report, operation: str, extra: dict[str, str], who: str
) -> None:
    result = await api.op(operation, {"areaId": gid("Community", rep.w.community), **extra}, token=tok(api, rep, who))
    assert result["data"] == {operation.lower(): None}
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(("operation", "extra"), REPORTS)
async def test_staff_read_reports_only_inside_their_scope(
    api: Api, rep: Report, operation: str, extra: dict[str, str]
) -> None:
    staff = tok(api, rep, "staff")
    inside = await api.op(operation, {"areaId": gid("Compound", rep.w.compound), **extra}, token=staff)
    assert "errors" not in inside
    for area in (gid("County", rep.w.county), gid("Community", rep.w.other_community)):
        outside = await api.op(operation, {"areaId": area, **extra}, token=staff)
        assert outside["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(("operation", "extra"), REPORTS)
async def test_reports_need_a_token_and_null_unknown_areas(
    api: Api, rep: Report, operation: str, extra: dict[str, str]
) -> None:
    anonymous = await api.op(operation, {"areaId": gid("County", rep.w.county), **extra})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for unknown in (gid("County", 999999), gid("Household", rep.w.household), "garbage", gid("Town", rep.w.county)):
        result = await api.op(operation, {"areaId": unknown, **extra}, token=tok(api, rep, "admin"))
        assert "errors" not in result
        assert next(iter(result["data"].values())) is None


async def test_uncovered_households_page_and_refuse_large_first(
    api: Api, conn: asyncpg.Connection, rep: Report
) -> None:
    extra = [await b.household(conn, rep.third_building, f"9单元{i}") for i in range(3)]
    query = """
    query($id: ID!, $after: String, $first: Int) { coverage(areaId: $id) {
      uncoveredHouseholds(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
      edges { node { id } } } } }
    """
    admin = tok(api, rep, "admin")
    page = await api.ok(query, {"id": gid("County", rep.w.county), "first": 2}, token=admin)
    first = page["coverage"]["uncoveredHouseholds"]
    assert first["totalCount"] == 4
    assert [e["node"]["id"] for e in first["edges"]] == [gid("Household", h) for h in [rep.third_household, extra[0]]]
    page = await api.ok(
        query, {"id": gid("County", rep.w.county), "first": 2, "after": first["pageInfo"]["endCursor"]}, token=admin
    )
    rest = page["coverage"]["uncoveredHouseholds"]
    assert [e["node"]["id"] for e in rest["edges"]] == [gid("Household", h) for h in extra[1:]]
    assert rest["pageInfo"]["hasNextPage"] is False
    refused = await api.post(query, {"id": gid("County", rep.w.county), "first": 101}, token=admin)
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(("operation", "extra"), REPORTS)
async def test_unit_admin_reads_reports_of_adopted_areas(
    api: Api, rep: Report, operation: str, extra: dict[str, str]
) -> None:
    """The world's unit adopts the compound: its admin reads the compound and its buildings."""
    unit = tok(api, rep, "unit")
    for area in (gid("Compound", rep.w.compound), gid("Building", rep.w.other_building)):
        result = await api.op(operation, {"areaId": area, **extra}, token=unit)
        assert "errors" not in result, result
    for area in (gid("Community", rep.w.community), gid("Building", rep.third_building)):
        refused = await api.op(operation, {"areaId": area, **extra}, token=unit)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
