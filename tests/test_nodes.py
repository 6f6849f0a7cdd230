"""`node` and `nodes` as a client meets them."""

from __future__ import annotations

import asyncpg

from resolvers import ids
from tests.support import Api


async def _county_and_user(conn: asyncpg.Connection) -> tuple[int, int]:
    county = await conn.fetchval("INSERT INTO areas (level, name) VALUES ('COUNTY', '佛坪县') RETURNING id")
    user = await conn.fetchval(
        "INSERT INTO users (county_id, username, password_hash) VALUES ($1, 'tester', 'x') RETURNING id", county
    )
    return county, user


async def test_node_resolves_known_and_nulls_unknown_or_malformed(api: Api, conn: asyncpg.Connection) -> None:
    county, user = await _county_and_user(conn)
    token = api.token_for(user)
    gid = ids.encode("County", county)
    data = await api.ok(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id __typename ... on Area { name level } } }",
        {"ids": [gid, ids.encode("Compound", county), "not-an-id", ids.encode("County", 999999)]},
        token=token,
    )
    assert data["nodes"] == [{"id": gid, "__typename": "County", "name": "佛坪县", "level": "COUNTY"}, None, None, None]


async def test_world_builds_and_cadre_sees_own_viewer_person(api: Api, conn: asyncpg.Connection) -> None:
    from tests.builders import world

    w = await world(conn)
    data = await api.ok(
        "query($id: ID!) { node(id: $id) { ... on Person { name household { label building { name } } } } }",
        {"id": ids.encode("Person", w.people["resident"])},
        token=api.token_for(w.users["cadre"]),
    )
    assert data["node"] == {"name": "赵居民", "household": {"label": "1单元101", "building": {"name": "1号楼"}}}
