"""Partner units' API tokens: created once, stored hashed, acting as UNIT_ADMIN, revocable."""

from __future__ import annotations

import hashlib

import asyncpg

from resolvers import ids
from tests.builders import area, organisation, world
from tests.support import Api


async def _create(api: Api, token: str, organisation_id: int, name: str = "物资对接") -> dict[str, object]:
    result = await api.op(
        "CreateApiToken", {"organisationId": ids.encode("Organisation", organisation_id), "name": name}, token=token
    )
    assert "errors" not in result, result
    payload: dict[str, object] = result["data"]["createApiToken"]
    return payload


def _codes(payload: dict[str, object]) -> list[str]:
    errors = payload["userErrors"]
    assert isinstance(errors, list)
    return [e["code"] for e in errors]


async def test_unit_admin_creates_a_token_shown_once_and_stored_hashed(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    made = await _create(api, api.token_for(w.users["unit"]), w.unit)
    assert made["userErrors"] == []
    secret = made["token"]
    assert isinstance(secret, str) and secret.startswith("gjt_") and len(secret) >= 4 + 43
    api_token = made["apiToken"]
    assert isinstance(api_token, dict)
    assert api_token["name"] == "物资对接" and api_token["revoked"] is False and api_token["createdAt"]
    pk = ids.decode_as(api_token["id"], "ApiToken")
    stored = await conn.fetchrow("SELECT token_hash, created_by FROM api_tokens WHERE id = $1", pk)
    assert stored is not None
    assert stored["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert stored["created_by"] == w.users["unit"]
    dump = await conn.fetchval("SELECT count(*) FROM api_tokens WHERE token_hash = $1 OR name = $1", secret)
    assert dump == 0
    # the secret is not readable afterwards: ApiToken has no field holding it
    again = await api.ok(
        "query($id: ID!) { node(id: $id) { ... on ApiToken { id name revoked lastUsedAt organisation { id } } } }",
        {"id": api_token["id"]},
        token=api.token_for(w.users["unit"]),
    )
    assert again["node"]["lastUsedAt"] is None
    assert again["node"]["organisation"] == {"id": ids.encode("Organisation", w.unit)}


async def test_a_token_acts_as_unit_admin_of_its_organisation_only_and_records_use(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await world(conn)
    made = await _create(api, api.token_for(w.users["admin"]), w.unit)
    secret = made["token"]
    assert isinstance(secret, str)
    viewer = (await api.op("Viewer", token=secret))["data"]["viewer"]
    assert viewer["person"] is None
    assert viewer["roles"] == [
        {
            "role": "UNIT_ADMIN",
            "scope": {
                "id": ids.encode("Organisation", w.unit),
                "name": await conn.fetchval("SELECT name FROM organisations WHERE id = $1", w.unit),
            },
        }
    ]
    pk = ids.decode_as(made["apiToken"]["id"], "ApiToken")  # type: ignore[index]
    assert await conn.fetchval("SELECT last_used_at FROM api_tokens WHERE id = $1", pk) is not None
    # acting as UNIT_ADMIN only: it cannot read the audit log nor mint or revoke tokens
    audit = await api.post("{ auditLog { totalCount } }", token=secret)
    assert audit["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    nested = await _create(api, secret, w.unit)
    assert _codes(nested) == ["FORBIDDEN"]
    revoke = (await api.op("RevokeApiToken", {"apiTokenId": made["apiToken"]["id"]}, token=secret))["data"]  # type: ignore[index]
    assert [e["code"] for e in revoke["revokeApiToken"]["userErrors"]] == ["FORBIDDEN"]
    # and the creator's own roles are not lent to it
    assert viewer["id"] == ids.encode("User", w.users["admin"])


async def test_revoked_token_is_unauthenticated(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    unit_admin = api.token_for(w.users["unit"])
    made = await _create(api, unit_admin, w.unit)
    secret = made["token"]
    assert isinstance(secret, str)
    token_id = made["apiToken"]["id"]  # type: ignore[index]
    nodes = {"ids": [ids.encode("County", w.county)]}
    assert "errors" not in await api.op("Nodes", nodes, token=secret)
    revoked = (await api.op("RevokeApiToken", {"apiTokenId": token_id}, token=unit_admin))["data"]["revokeApiToken"]
    assert revoked == {"apiToken": {"id": token_id, "revoked": True}, "userErrors": []}
    result = await api.op("Nodes", nodes, token=secret)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.op("Viewer", token=secret))["data"]["viewer"] is None
    twice = (await api.op("RevokeApiToken", {"apiTokenId": token_id}, token=unit_admin))["data"]["revokeApiToken"]
    assert [e["code"] for e in twice["userErrors"]] == ["INVALID_STATE"]
    assert twice["apiToken"] is None


async def test_who_may_create_and_revoke(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    other_unit = await organisation(conn, w.county, "ENTERPRISE", "某企业")
    for key in ("staff", "head", "cadre", "resident", "neighbour"):
        refused = await _create(api, api.token_for(w.users[key]), w.unit)
        assert _codes(refused) == ["FORBIDDEN"], key
        assert refused["token"] is None and refused["apiToken"] is None
    # a unit admin of another organisation
    assert _codes(await _create(api, api.token_for(w.users["unit"]), other_unit)) == ["FORBIDDEN"]
    # COUNTY_ADMIN of any organisation of the county
    assert _codes(await _create(api, api.token_for(w.users["admin"]), other_unit)) == []
    made = await _create(api, api.token_for(w.users["admin"]), w.unit)
    token_id = made["apiToken"]["id"]  # type: ignore[index]
    for key in ("staff", "cadre", "resident"):
        result = (await api.op("RevokeApiToken", {"apiTokenId": token_id}, token=api.token_for(w.users[key])))["data"]
        assert [e["code"] for e in result["revokeApiToken"]["userErrors"]] == ["NOT_FOUND"], key
    assert await conn.fetchval("SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL") == 0


async def test_refusals_change_nothing(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    before = await conn.fetchval("SELECT (SELECT count(*) FROM api_tokens) + (SELECT count(*) FROM audit_log)")
    admin = api.token_for(w.users["admin"])
    assert _codes(await _create(api, admin, w.unit, "   ")) == ["INVALID"]
    assert _codes(await _create(api, admin, w.unit, "x" * 101)) == ["INVALID"]
    assert _codes(await _create(api, api.token_for(w.users["resident"]), w.unit)) == ["FORBIDDEN"]
    unknown = await api.op("CreateApiToken", {"organisationId": "bogus", "name": "n"}, token=admin)
    assert [e["code"] for e in unknown["data"]["createApiToken"]["userErrors"]] == ["NOT_FOUND"]
    assert unknown["data"]["createApiToken"]["userErrors"][0]["field"] == ["organisationId"]
    # an organisation of another county is not found either
    other_county = await area(conn, "COUNTY", "外县")
    foreign = await organisation(conn, other_county, "GOVERNMENT_UNIT")
    assert _codes(await _create(api, admin, foreign)) == ["NOT_FOUND"]
    missing = await api.op("RevokeApiToken", {"apiTokenId": ids.encode("ApiToken", 987654)}, token=admin)
    assert [e["code"] for e in missing["data"]["revokeApiToken"]["userErrors"]] == ["NOT_FOUND"]
    after = await conn.fetchval("SELECT (SELECT count(*) FROM api_tokens) + (SELECT count(*) FROM audit_log)")
    assert after == before


async def test_anonymous_cannot_create_or_revoke(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    created = await api.op("CreateApiToken", {"organisationId": ids.encode("Organisation", w.unit), "name": "n"})
    assert created["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    revoked = await api.op("RevokeApiToken", {"apiTokenId": ids.encode("ApiToken", 1)})
    assert revoked["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


API_TOKENS = """
query($o: ID!, $first: Int, $after: String) {
  apiTokens(organisationId: $o, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id name revoked lastUsedAt } }
  }
}
"""


async def test_an_organisation_lists_its_tokens_with_last_use(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    unit_admin = api.token_for(w.users["unit"])
    made = [await _create(api, unit_admin, w.unit, f"接口{i}") for i in range(3)]
    used = made[0]["token"]
    assert isinstance(used, str)
    await api.op("Viewer", token=used)
    org = ids.encode("Organisation", w.unit)
    first = (await api.ok(API_TOKENS, {"o": org, "first": 2}, token=unit_admin))["apiTokens"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"]
    assert [e["node"]["name"] for e in first["edges"]] == ["接口2", "接口1"]
    rest = await api.ok(API_TOKENS, {"o": org, "after": first["pageInfo"]["endCursor"]}, token=used)
    [oldest] = [e["node"] for e in rest["apiTokens"]["edges"]]
    assert oldest["name"] == "接口0" and oldest["lastUsedAt"] is not None
    assert (await api.ok(API_TOKENS, {"o": org}, token=api.token_for(w.users["admin"])))["apiTokens"]["totalCount"] == 3
    for key in ("staff", "cadre", "resident"):
        refused = await api.post(API_TOKENS, {"o": org}, token=api.token_for(w.users[key]))
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", key
    assert (await api.post(API_TOKENS, {"o": org}))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    other = ids.encode("Organisation", await organisation(conn, w.county, "ENTERPRISE"))
    refused = await api.post(API_TOKENS, {"o": other}, token=unit_admin)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
