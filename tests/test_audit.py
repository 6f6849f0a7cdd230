"""The audit log: one row per mutation, append-only in the database, read by COUNTY_ADMIN."""

from __future__ import annotations

import asyncpg
import pytest

from resolvers import ids
from tests.builders import area, user, world
from tests.support import Api

AUDIT = """
query($filter: AuditLogFilter, $first: Int, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id at action targetType targetId requestId user { id username } } }
  }
}
"""


async def _mutate(api: Api, token: str, organisation: int, request_id: str) -> str:
    response = await api.client.post(
        "/graphql",
        json={
            "query": 'mutation($o: ID!) { createApiToken(input: {organisationId: $o, name: "n"}) '
            "{ apiToken { id } userErrors { code } } }",
            "variables": {"o": ids.encode("Organisation", organisation)},
        },
        headers={"Authorization": f"Bearer {token}", "X-Request-Id": request_id},
    )
    token_id: str = response.json()["data"]["createApiToken"]["apiToken"]["id"]
    return token_id


async def test_each_mutation_writes_one_row_with_actor_target_and_request_id(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await world(conn)
    admin = api.token_for(w.users["admin"])
    token_id = await _mutate(api, admin, w.unit, "req-123")
    rows = await conn.fetch("SELECT * FROM audit_log WHERE request_id = 'req-123'")
    assert len(rows) == 1
    row = rows[0]
    assert (row["action"], row["user_id"], row["county_id"], row["target_type"]) == (
        "createApiToken",
        w.users["admin"],
        w.county,
        "ApiToken",
    )
    assert ids.encode("ApiToken", row["target_id"]) == token_id and row["at"] is not None
    data = await api.ok(AUDIT, {"filter": {"action": "createApiToken"}}, token=admin)
    node = data["auditLog"]["edges"][0]["node"]
    assert node["targetId"] == token_id and node["requestId"] == "req-123" and node["targetType"] == "ApiToken"
    assert node["user"]["id"] == ids.encode("User", w.users["admin"])


async def test_filters_and_pages_newest_first(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    admin = api.token_for(w.users["admin"])
    unit = api.token_for(w.users["unit"])
    await conn.execute(
        "INSERT INTO audit_log (county_id, action, at) VALUES ($1, 'old', now() - interval '10 days')", w.county
    )
    for i in range(3):
        await _mutate(api, admin, w.unit, f"a{i}")
    await _mutate(api, unit, w.unit, "u0")
    everything = await api.ok(AUDIT, {"first": 2}, token=admin)
    assert everything["auditLog"]["totalCount"] == 5
    first_page = [e["node"]["requestId"] for e in everything["auditLog"]["edges"]]
    assert first_page == ["u0", "a2"]
    assert everything["auditLog"]["pageInfo"]["hasNextPage"]
    rest = await api.ok(AUDIT, {"first": 10, "after": everything["auditLog"]["pageInfo"]["endCursor"]}, token=admin)
    assert [e["node"]["action"] for e in rest["auditLog"]["edges"]] == ["createApiToken"] * 2 + ["old"]
    by_user = await api.ok(AUDIT, {"filter": {"userId": ids.encode("User", w.users["unit"])}}, token=admin)
    assert [e["node"]["requestId"] for e in by_user["auditLog"]["edges"]] == ["u0"]
    by_type = await api.ok(AUDIT, {"filter": {"targetType": "ApiToken"}}, token=admin)
    assert by_type["auditLog"]["totalCount"] == 4
    recent = await api.ok(AUDIT, {"filter": {"from": "2000-01-01T00:00:00+00:00"}}, token=admin)
    assert recent["auditLog"]["totalCount"] == 5
    old = await api.ok(AUDIT, {"filter": {"to": "2000-01-01T00:00:00+08:00"}}, token=admin)
    assert old["auditLog"]["totalCount"] == 0
    window = await conn.fetchval("SELECT (now() - interval '5 days')::text")
    only_old = await api.ok(AUDIT, {"filter": {"to": window.replace(" ", "T") + ":00"}}, token=admin)
    assert [e["node"]["action"] for e in only_old["auditLog"]["edges"]] == ["old"]
    nobody = await api.ok(AUDIT, {"filter": {"userId": "not-an-id"}}, token=admin)
    assert nobody["auditLog"]["totalCount"] == 0


async def test_only_county_admin_of_the_county_reads_it(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    await _mutate(api, api.token_for(w.users["admin"]), w.unit, "x")
    for key in ("staff", "head", "cadre", "resident", "neighbour", "unit"):
        result = await api.post(AUDIT, token=api.token_for(w.users[key]))
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", key
        assert result["data"] is None
    anonymous = await api.post(AUDIT)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    other_county = await area(conn, "COUNTY", "外县")
    foreign_admin = await user(conn, other_county, grants=[("COUNTY_ADMIN", other_county)])
    data = await api.ok(AUDIT, token=api.token_for(foreign_admin))
    assert data["auditLog"]["totalCount"] == 0


async def test_first_over_100_is_bad_user_input(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    result = await api.post(AUDIT, {"first": 101}, token=api.token_for(w.users["admin"]))
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
async def test_the_database_refuses_changes_to_the_log(conn: asyncpg.Connection, statement: str) -> None:
    await conn.execute("INSERT INTO audit_log (action) VALUES ('kept')")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        async with conn.transaction():
            await conn.execute(statement)
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'kept'") == 1
