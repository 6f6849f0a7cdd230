"""The demo's sample accounts sign in with the demo password and hold the contract's roles."""

from __future__ import annotations

from typing import Any

from db.demo import load
from gongjian import clock
from resolvers import ids
from tests.support import ZONE

PASSWORD = "demo-password-1"


async def test_every_sample_account_signs_in_with_its_role(committed_db: dict[str, Any]) -> None:
    assert await load.run(committed_db["url"], PASSWORD, today=clock.today(ZONE))
    api = committed_db["api"]
    async with committed_db["pool"].acquire() as conn:
        county = await conn.fetchval("SELECT id FROM areas WHERE level = 'COUNTY'")
        people = {
            r["username"]: r
            for r in await conn.fetch(
                "SELECT u.username, u.person_id, p.household_id, h.building_id FROM users u "
                "LEFT JOIN persons p ON p.id = u.person_id LEFT JOIN households h ON h.id = p.household_id"
            )
        }
        heads_building = await conn.fetchval(
            "SELECT r.area_id FROM responsibilities r JOIN users u ON u.person_id = r.person_id "
            "WHERE u.username = 'head' AND r.until IS NULL"
        )
        cadre_unit = await conn.fetchval(
            "SELECT p.organisation_id FROM posts p JOIN users u ON u.person_id = p.person_id "
            "WHERE u.username = 'cadre' AND p.until IS NULL"
        )
        unit_admin_unit = await conn.fetchval(
            "SELECT p.organisation_id FROM posts p JOIN users u ON u.person_id = p.person_id WHERE u.username = 'unit'"
        )
        staff_community = await conn.fetchval(
            "SELECT a.id FROM users u JOIN role_grants g ON g.user_id = u.id JOIN areas a ON a.id = g.area_id "
            "WHERE u.username = 'staff'"
        )
        hashes = await conn.fetchval("SELECT count(DISTINCT password_hash) FROM users")
    assert set(people) == {"admin", "staff", "head", "cadre", "resident", "neighbour", "unit"}
    assert hashes == 1
    resident, neighbour = people["resident"], people["neighbour"]
    assert heads_building == resident["building_id"] != neighbour["building_id"]
    assert cadre_unit == unit_admin_unit
    expected = {
        "admin": ("COUNTY_ADMIN", ids.encode("County", county)),
        "staff": ("COMMUNITY_STAFF", ids.encode("Community", staff_community)),
        "head": ("BUILDING_HEAD", ids.encode("Building", resident["building_id"])),
        "cadre": ("CADRE", ids.encode("Organisation", cadre_unit)),
        "resident": ("RESIDENT", ids.encode("Building", resident["building_id"])),
        "neighbour": ("RESIDENT", ids.encode("Building", neighbour["building_id"])),
        "unit": ("UNIT_ADMIN", ids.encode("Organisation", cadre_unit)),
    }
    for username, (role, scope) in expected.items():
        login = (await api.op("Login", {"username": username, "password": PASSWORD}))["data"]["login"]
        assert login["userErrors"] == [], username
        assert [(g["role"], g["scope"]["id"]) for g in login["viewer"]["roles"]] == [(role, scope)], username
        viewer = (await api.op("Viewer", token=login["token"]))["data"]["viewer"]
        person_id = people[username]["person_id"]
        assert (viewer["person"] or {}).get("id") == (ids.encode("Person", person_id) if person_id else None)
    wrong = (await api.op("Login", {"username": "admin", "password": "wrong"}))["data"]["login"]
    assert [e["code"] for e in wrong["userErrors"]] == ["INVALID_CREDENTIALS"]
    # the staff member's community holds the resident and the neighbour
    async with committed_db["pool"].acquire() as conn:
        paths = await conn.fetch(
            "SELECT b.path FROM areas b WHERE b.id = ANY($1::bigint[])",
            [resident["building_id"], neighbour["building_id"]],
        )
    assert all(staff_community in r["path"] for r in paths)
