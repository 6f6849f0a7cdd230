"""The demo's sample accounts (contract README), all with the password given to the loader.

RESIDENT is granted in the building of the resident's household (the scope of what a
resident sees around them); BUILDING_HEAD in the building they head; COMMUNITY_STAFF in the
community; CADRE and UNIT_ADMIN in the unit; COUNTY_ADMIN in the county. The password is
hashed once with argon2id and the hash shared, so the step stays fast.
"""

from __future__ import annotations

from typing import Final

from db.demo.load import Demo

INSERT_USERS: Final = """
INSERT INTO users (county_id, username, password_hash, person_id)
SELECT $1, u.username, $2, u.person_id
FROM unnest($3::text[], $4::bigint[]) AS u (username, person_id)
RETURNING id, username
"""

INSERT_GRANTS: Final = """
INSERT INTO role_grants (county_id, user_id, role, area_id, organisation_id)
SELECT $1, g.user_id, g.role, g.area_id, g.organisation_id
FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[]) AS g (user_id, role, area_id, organisation_id)
"""


async def step(demo: Demo) -> None:
    from gongjian.passwords import hash_password_async

    ids = demo.ids
    s = ids["sample"]
    county = ids["county"]
    # username -> (person, role, area scope, organisation scope)
    accounts: dict[str, tuple[int | None, str, int | None, int | None]] = {
        "admin": (None, "COUNTY_ADMIN", county, None),
        "staff": (s["staff"], "COMMUNITY_STAFF", s["community"], None),
        "head": (s["head"], "BUILDING_HEAD", s["resident_building"], None),
        "cadre": (s["cadre"], "CADRE", None, s["unit"]),
        "resident": (s["resident"], "RESIDENT", s["resident_building"], None),
        "neighbour": (s["neighbour"], "RESIDENT", s["neighbour_building"], None),
        "unit": (s["unit_admin"], "UNIT_ADMIN", None, s["unit"]),
    }
    password_hash = await hash_password_async(demo.password)
    names = list(accounts)
    rows = await demo.conn.fetch(INSERT_USERS, county, password_hash, names, [accounts[n][0] for n in names])
    users = {r["username"]: int(r["id"]) for r in rows}
    await demo.conn.execute(
        INSERT_GRANTS,
        county,
        [users[n] for n in names],
        [accounts[n][1] for n in names],
        [accounts[n][2] for n in names],
        [accounts[n][3] for n in names],
    )
    ids["users"] = users
