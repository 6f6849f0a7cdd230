"""The demo county's area tree, organisations and people: the figures of DOMAIN.md, and
two loads giving identical data."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from db.demo import load
from gongjian import clock
from resolvers import ids
from tests.conftest import _with_database
from tests.support import ZONE

CHECKSUMS = {
    table: f"SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM (SELECT {columns} FROM {table}) t"  # noqa: S608 - constant names
    for table, columns in {
        "areas": "id, county_id, parent_id, level, name, code, path, compound_kind, address, management_plan, "
        "property_manager_id",
        "organisations": "id, county_id, parent_id, kind, name, code, area_id",
        "households": "id, county_id, area_id, building_id, label, code",
        "persons": "id, county_id, name, phone, id_number, gender, birth_year, household_id, party_member, tags, code",
        "posts": "id, county_id, person_id, organisation_id, role, since, until",
        "responsibilities": "id, county_id, area_id, person_id, since, until",
    }.items()
}

FIGURES = """
SELECT
  (SELECT count(*) FROM organisations WHERE kind = 'PARTY_BRANCH' AND area_id IS NOT NULL) AS party_branches,
  (SELECT count(*) FROM organisations WHERE kind = 'FUNCTIONAL_BRANCH') AS functional_branches,
  (SELECT count(*) FROM organisations o JOIN areas a ON a.id = o.area_id
    WHERE o.kind = 'FUNCTIONAL_BRANCH' AND a.level = 'COMPOUND') AS functional_on_compounds,
  (SELECT count(*) FROM areas WHERE level = 'BUILDING') AS buildings,
  (SELECT count(DISTINCT r.person_id) FROM responsibilities r JOIN areas a ON a.id = r.area_id
    WHERE a.level = 'BUILDING' AND r.until IS NULL) AS building_heads,
  (SELECT count(*) FROM responsibilities r JOIN areas a ON a.id = r.area_id
     JOIN persons p ON p.id = r.person_id JOIN households h ON h.id = p.household_id
    WHERE a.level = 'BUILDING' AND h.building_id = a.id AND r.until IS NULL) AS heads_living_in_their_building,
  (SELECT count(*) FROM households) AS households,
  (SELECT count(*) FROM (SELECT household_id FROM persons WHERE household_id IS NOT NULL
     GROUP BY household_id HAVING count(*) BETWEEN 2 AND 4) x) AS households_with_2_to_4,
  (SELECT count(*) FROM areas a WHERE NOT EXISTS (
     SELECT 1 FROM responsibilities r WHERE r.area_id = a.id AND r.until IS NULL)) AS areas_without_responsible,
  (SELECT count(*) FROM organisations WHERE kind IN ('GOVERNMENT_UNIT', 'ENTERPRISE', 'PUBLIC_INSTITUTION')) AS units,
  (SELECT count(*) FROM organisations u WHERE u.kind IN ('GOVERNMENT_UNIT', 'ENTERPRISE', 'PUBLIC_INSTITUTION')
     AND EXISTS (SELECT 1 FROM organisations b WHERE b.parent_id = u.id AND b.kind = 'PARTY_BRANCH'
                 AND b.area_id IS NULL)) AS units_with_branch,
  (SELECT count(DISTINCT p.person_id) FROM posts p JOIN organisations o ON o.id = p.organisation_id
     JOIN persons x ON x.id = p.person_id
    WHERE o.kind IN ('GOVERNMENT_UNIT', 'ENTERPRISE', 'PUBLIC_INSTITUTION') AND x.party_member
      AND p.until IS NULL) AS cadres,
  (SELECT count(*) FROM areas WHERE level = 'COMMUNITY') AS communities,
  (SELECT count(*) FROM areas WHERE level = 'UNIT') AS stairwells,
  (SELECT count(*) FROM areas WHERE level = 'COMPOUND' AND compound_kind = 'COMMERCIAL'
     AND property_manager_id IS NOT NULL
     AND EXISTS (SELECT 1 FROM organisations o WHERE o.area_id = areas.id AND o.kind = 'OWNER_COMMITTEE'))
     AS commercial_managed,
  (SELECT count(*) FROM areas WHERE level = 'COMPOUND' AND compound_kind = 'COMMERCIAL') AS commercial
"""


async def _checksums(conn: asyncpg.Connection) -> dict[str, str]:
    return {table: await conn.fetchval(sql) for table, sql in CHECKSUMS.items()}


async def test_demo_reproduces_the_figures_and_is_deterministic(
    committed_db: dict[str, Any], template_url: str, server_url: str
) -> None:
    assert await load.run(committed_db["url"], "demo-password-1", today=clock.today(ZONE))
    assert not await load.run(committed_db["url"], "demo-password-1", today=clock.today(ZONE)), (
        "a second load into a full database"
    )
    async with committed_db["pool"].acquire() as conn:
        f = dict(await conn.fetchrow(FIGURES))
        first = await _checksums(conn)
        county = await conn.fetchrow("SELECT id, name FROM areas WHERE level = 'COUNTY'")
        general = await conn.fetchrow(
            "SELECT o.id, o.area_id, (SELECT count(*) FROM organisations b WHERE b.parent_id = o.id "
            "AND b.kind = 'PARTY_BRANCH') AS branches, (SELECT count(*) FROM areas d WHERE d.parent_id = o.area_id "
            "AND d.level = 'DISTRICT') AS districts FROM organisations o WHERE o.kind = 'GENERAL_BRANCH' "
            "AND EXISTS (SELECT 1 FROM organisations b WHERE b.parent_id = o.id AND b.kind = 'PARTY_BRANCH')"
        )
        cross = await conn.fetchval(
            "SELECT count(DISTINCT oc.person_id) FROM posts oc JOIN organisations o ON o.id = oc.organisation_id "
            "JOIN posts pc ON pc.person_id = oc.person_id JOIN organisations c ON c.id = pc.organisation_id "
            "WHERE o.kind = 'OWNER_COMMITTEE' AND c.kind IN ('GENERAL_BRANCH', 'RESIDENTS_COMMITTEE')"
        )
    assert county["name"] == "佛坪县"
    assert f == {
        "party_branches": 3,
        "functional_branches": 15,
        "functional_on_compounds": 15,
        "buildings": 162,
        "building_heads": 162,
        "heads_living_in_their_building": 162,
        "households": 2483,
        "households_with_2_to_4": 2483,
        "areas_without_responsible": 0,
        "units": f["units"],
        "units_with_branch": f["units"],
        "cadres": 830,
        "communities": f["communities"],
        "stairwells": f["stairwells"],
        "commercial_managed": f["commercial"],
        "commercial": f["commercial"],
    }
    assert f["units"] >= 75 and f["communities"] > 1 and f["stairwells"] > 0
    assert general["branches"] == 3 and general["districts"] == 6
    assert cross >= 2

    # the figures through the API, as a county admin sees them
    from tests import builders

    async with committed_db["pool"].acquire() as conn:
        admin_user = await builders.user(conn, county["id"], grants=[("COUNTY_ADMIN", county["id"])])
    api = committed_db["api"]
    token = api.token_for(admin_user)
    buildings = await api.op("Areas", {"level": "BUILDING"}, token=token)
    assert buildings["data"]["areas"]["totalCount"] == 162
    districts = await api.op("Areas", {"level": "DISTRICT"}, token=token)
    assert districts["data"]["areas"]["totalCount"] == 6
    for kind, expected in (("FUNCTIONAL_BRANCH", 15), ("GENERAL_BRANCH", f["communities"])):
        found = await api.op("Organisations", {"kind": kind}, token=token)
        assert found["data"]["organisations"]["totalCount"] == expected
    whole = await api.ok(
        "query { areas(filter: {level: COUNTY}) { edges { node { name householdCount } } } }", token=token
    )
    assert whole["areas"]["edges"][0]["node"] == {"name": "佛坪县", "householdCount": 2483}
    main = general["area_id"]
    cross = await api.op("CrossAppointments", {"communityId": ids.encode("Community", main)}, token=token)
    assert len(cross["data"]["crossAppointments"]) >= 2

    # a second load into another fresh database gives the same rows
    template = urlsplit(template_url).path.lstrip("/")
    name = f"{template}_d{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        url = _with_database(server_url, name)
        assert await load.run(url, "demo-password-1", today=clock.today(ZONE))
        other = await asyncpg.connect(url)
        try:
            assert await _checksums(other) == first
        finally:
            await other.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_demo_publishes_the_ids_later_steps_use(conn: asyncpg.Connection) -> None:
    import datetime
    import random

    from db.demo import areas
    from db.pool import Conn

    demo = load.Demo(conn=Conn(conn), rng=random.Random(load.SEED), password="x" * 8, today=datetime.date(2026, 6, 1))
    await areas.step(demo)
    ids = demo.ids
    assert len(ids["households"]) == 2483 and len(ids["buildings"]) == 162
    assert len(ids["cadres"]) == 830 and set(ids["cadre_unit"]) == set(ids["cadres"])
    assert len(ids["units"]) >= 75 and set(ids["cadre_unit"].values()) <= set(ids["units"])
    assert len(set(ids["building_heads"].values())) == 162
    assert ids["community"] in ids["communities"] and len(ids["communities"]) > 1
    assert len(ids["districts"]) == 6 and ids["towns"] and ids["compounds"] and ids["party_members"]
    s = ids["sample"]
    assert s["community"] == ids["community"]
    assert ids["cadre_unit"][s["cadre"]] == s["unit"]
    assert ids["building_heads"][s["resident_building"]] == s["head"]
    assert s["resident_building"] != s["neighbour_building"]
    where = await conn.fetch(
        "SELECT p.id, p.household_id, h.building_id, b.path FROM persons p "
        "JOIN households h ON h.id = p.household_id JOIN areas b ON b.id = h.building_id "
        "WHERE p.id = ANY($1::bigint[])",
        [s["resident"], s["neighbour"], s["head"]],
    )
    by = {r["id"]: r for r in where}
    assert by[s["resident"]]["household_id"] == s["resident_household"]
    assert by[s["neighbour"]]["household_id"] == s["neighbour_household"]
    assert by[s["head"]]["building_id"] == s["resident_building"]
    assert by[s["head"]]["household_id"] != s["resident_household"]
    assert s["community"] in by[s["neighbour"]]["path"] and s["community"] in by[s["resident"]]["path"]
    # the resident lives in a building with stairwell units: the chain has a UNIT level
    assert (
        await conn.fetchval(
            "SELECT a.level FROM households h JOIN areas a ON a.id = h.area_id WHERE h.id = $1", s["resident_household"]
        )
        == "UNIT"
    )
    staff_post = await conn.fetchval(
        "SELECT o.kind FROM posts p JOIN organisations o ON o.id = p.organisation_id WHERE p.person_id = $1",
        s["staff"],
    )
    assert staff_post == "RESIDENTS_COMMITTEE"
    assert await conn.fetchval("SELECT organisation_id FROM posts WHERE person_id = $1", s["unit_admin"]) == s["unit"]
    assert s["cadre"] not in (s["resident"], s["neighbour"], s["head"], s["staff"])
