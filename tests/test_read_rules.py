"""Issue 12, the read paths: the county's calendar is one SQL definition (`county_date`,
`county_today`, 0026_read_rules.sql) that findings follow too, and the objects a relation
leads to are those node() opens for the same viewer."""

from __future__ import annotations

import asyncpg

from resolvers import ids
from tests import builders as b
from tests.support import Api

FINDING = "query($id: ID!) { node(id: $id) { ... on Finding { status published } } }"
# 26 hours apart: their dates always differ
BEHIND, AHEAD = "Etc/GMT+12", "Pacific/Kiritimati"


async def test_a_finding_is_published_by_the_countys_date(api: Api, conn: asyncpg.Connection) -> None:
    """A finding due today in the county: open while the county's date (the session's
    `gongjian.time_zone`) is that day, published (通报曝光) once it is the next."""
    w = await b.world(conn)
    finding = await b.finding(conn, w.compound)
    await conn.execute("UPDATE findings SET deadline = (now() AT TIME ZONE $2)::date WHERE id = $1", finding, BEHIND)
    staff, resident = api.token_for(w.users["staff"]), api.token_for(w.users["resident"])
    seen: dict[str, tuple[object, object]] = {}
    for zone in (BEHIND, AHEAD):
        await conn.execute("SELECT set_config('gongjian.time_zone', $1, true)", zone)
        node = (await api.ok(FINDING, {"id": ids.encode("Finding", finding)}, token=staff))["node"]
        # residents read the public notices only: by the same date
        public = (await api.ok(FINDING, {"id": ids.encode("Finding", finding)}, token=resident))["node"]
        seen[zone] = (node, public)
    assert seen[BEHIND] == ({"status": "OPEN", "published": False}, None)
    assert seen[AHEAD] == ({"status": "OVERDUE", "published": True}, {"status": "OVERDUE", "published": True})
