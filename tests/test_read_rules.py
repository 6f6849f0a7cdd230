"""Issue 12, the read paths: the county's calendar is one SQL definition (`county_date`,
`county_today`, 0026_read_rules.sql) that findings follow too, and the objects a relation
leads to are those node() opens for the same viewer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import asyncpg
import pytest

from gongjian.config import Settings
from resolvers import ids
from tests import builders as b
from tests.conftest import TEST_SECRET, without_rate_limits
from tests.support import Api


@pytest.fixture(params=[True, False], ids=["compiled", "resolvers"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Both read paths: the compiled one (one statement) and the resolvers'."""
    base = without_rate_limits(Settings(secret=TEST_SECRET, data_dir=tmp_path))
    return dataclasses.replace(base, compiled_reads=request.param)


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


RELATIONS = """
query($building: ID!, $person: ID!) {
  building: node(id: $building) { ... on Building { responsible { id name } head { id name } } }
  person: node(id: $person) { id }
}
"""


async def test_a_relation_answers_what_node_answers(api: Api, conn: asyncpg.Connection) -> None:
    """A single-object relation reads its target through the target's rule with the viewer:
    the person of another county made responsible for our building (a row no rule of ours
    admits) is null through `responsible` and `head`, as node() of that person is."""
    w, far = await b.world(conn), await b.world(conn)
    await conn.execute("UPDATE responsibilities SET until = now() WHERE area_id = $1 AND until IS NULL", w.building)
    await b.responsible(conn, w.building, far.people["resident"])
    variables = {"building": ids.encode("Building", w.building), "person": ids.encode("Person", far.people["resident"])}
    for account in ("admin", "staff", "resident"):
        found = await api.ok(RELATIONS, variables, token=api.token_for(w.users[account]))
        assert found == {"building": {"responsible": None, "head": None}, "person": None}, account
    # the other county's admin, who sees that person, still sees none of our building
    found = await api.ok(RELATIONS, variables, token=api.token_for(far.users["admin"]))
    assert found == {"building": None, "person": {"id": variables["person"]}}
