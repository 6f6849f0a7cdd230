"""A resident's own household: its full address and its paired cadres (MyHousehold)."""

from __future__ import annotations

import asyncpg

from resolvers import ids
from tests import builders as b
from tests.support import Api

HOUSEHOLD_PAIRINGS = """
query($id: ID!) { node(id: $id) { ... on Household { fullAddress pairings { id cadre { name phone } } } } }
"""


async def test_a_resident_finds_their_paired_cadre_with_phone_and_unit(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    data = (await api.op("MyHousehold", token=api.token_for(w.users["resident"])))["data"]
    household = data["viewer"]["person"]["household"]
    assert household["fullAddress"] == "东岳殿社区 滨河小区 1号楼 1单元101"
    assert household["building"]["head"] == {
        "id": ids.encode("Person", w.people["head"]),
        "name": "李楼长",
        "phone": "13800000002",
    }
    [pairing] = household["pairings"]
    assert pairing["since"] == "2024-01-01"
    assert pairing["cadre"] == {"id": ids.encode("Person", w.people["cadre"]), "name": "张干部", "phone": "13800000003"}
    assert pairing["unit"]["id"] == ids.encode("Organisation", w.unit)


async def test_full_address_names_the_stairwell_unit_and_tells_equal_labels_apart(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    stairwell = await b.area(conn, "UNIT", "2单元", w.building)
    upstairs = await b.household(conn, w.building, "202", unit=stairwell)
    other = await b.household(conn, w.other_building, "202")
    admin = api.token_for(w.users["admin"])
    found = [
        (await api.ok(HOUSEHOLD_PAIRINGS, {"id": ids.encode("Household", h)}, token=admin))["node"]["fullAddress"]
        for h in (upstairs, other)
    ]
    assert found == ["东岳殿社区 滨河小区 1号楼 2单元 202", "东岳殿社区 滨河小区 2号楼 202"]


async def test_household_pairings_are_empty_to_a_neighbour_and_ended_pairings_are_left_out(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    household = {"id": ids.encode("Household", w.household)}
    neighbour = await api.ok(HOUSEHOLD_PAIRINGS, household, token=api.token_for(w.users["neighbour"]))
    assert neighbour["node"]["pairings"] == []
    await conn.execute("UPDATE pairings SET until = DATE '2024-06-30' WHERE household_id = $1", w.household)
    other_cadre = await b.cadre(conn, w.county, w.unit, "周干部")
    await b.pairing(conn, other_cadre, w.household, since="2024-07-01")
    for viewer in ("resident", "staff", "head", "admin"):
        seen = await api.ok(HOUSEHOLD_PAIRINGS, household, token=api.token_for(w.users[viewer]))
        assert [p["cadre"]["name"] for p in seen["node"]["pairings"]] == ["周干部"], viewer
    # the former cadre no longer serves the household
    former = await api.ok(HOUSEHOLD_PAIRINGS, household, token=api.token_for(w.users["cadre"]))
    assert former["node"]["pairings"] == []
