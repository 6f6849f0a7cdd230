"""A query the compiled path answered once is answered again without strawberry
(gongjian/compiled_http.py), and only where strawberry would have sent the same: every
request that may differ goes the ordinary way and gets its own answer there."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import asyncpg
import httpx
import pytest

from db.pool import SingleConnectionDatabase
from gongjian import tokens, trusted_documents
from gongjian.compiled_http import CompiledHttp
from resolvers import ids
from tests import builders as b
from tests.conftest import TEST_SECRET
from tests.support import contract_operations
from tests.test_compiled import Both, both  # noqa: F401 - `both` is a fixture

QUERY = contract_operations()["BuildingHouseholds"]
DEEP = """
query Deep($n: Int) {
  compounds(first: $n) { edges { node { id
    buildings(first: $n) { edges { node { id households(first: $n) { edges { node { id label } } } } } } } } }
}"""


@dataclasses.dataclass
class Apps:
    """The app as served, and one with compiled reads off (the ordinary answer)."""

    compiled: httpx.AsyncClient
    ordinary: httpx.AsyncClient
    door: CompiledHttp
    conn: asyncpg.Connection
    db: SingleConnectionDatabase
    caplog: pytest.LogCaptureFixture

    async def send(self, client: httpx.AsyncClient, body: dict[str, Any], token: str | None, **headers: str) -> Any:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await client.post("/graphql", json=body, headers={"Accept-Language": "en", **headers})

    async def both(self, body: dict[str, Any], token: str | None, **headers: str) -> tuple[httpx.Response, bool]:
        """The compiled app's response (checked against the ordinary app's) and whether the
        compiled path's own way answered it."""
        before = self.door.answered
        self.caplog.clear()
        response = await self.send(self.compiled, body, token, **headers)
        by_door = self.door.answered == before + 1
        expected = await self.send(self.ordinary, body, token, **headers)
        assert response.json() == expected.json(), body
        assert response.status_code == expected.status_code
        assert response.headers["content-type"] == expected.headers["content-type"]
        return response, by_door


@pytest.fixture
def apps(both: Both) -> Apps:  # noqa: F811 - the fixture imported above
    """test_compiled's two apps (compiled reads on and off), sent raw requests."""
    return Apps(both.compiled.client, both.ordinary.client, both.door, both.conn, both.db, both.caplog)


def _operation_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        r.fields  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "gongjian.graphql" and r.getMessage() == "operation"
    ]


async def test_a_read_answered_once_is_answered_again_the_same_without_strawberry(apps: Apps) -> None:
    w = await b.world(apps.conn)
    token = _token(w.users["staff"])
    body = {
        "query": QUERY,
        "operationName": "BuildingHouseholds",
        "variables": {"id": ids.encode("Building", w.building), "first": 20},
    }
    first, by_door = await apps.both(body, token)
    assert not by_door, "the first request goes through the whole pipeline"
    assert first.json()["data"]["node"]["head"]["phone"] == "13800000002"
    again, by_door = await apps.both(body, token)
    assert by_door
    assert again.content == first.content
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    line = _operation_lines(apps.caplog)[0]  # the compiled app's (the ordinary app's follows)
    assert (line["operation"], line["path"], line["sql_statements"], line["errors"]) == (
        "BuildingHouseholds",
        "compiled",
        2,  # the read, and the staff member's reads of personal data written to the audit log
        [],
    )
    audited = await apps.conn.fetch(
        "SELECT detail->>'field' AS field, detail->>'reason' AS reason FROM audit_log "
        "WHERE request_id = $1 AND action = 'read.personalData'",
        again.headers["x-request-id"],
    )
    assert {(r["field"], r["reason"]) for r in audited} == {("residents", "STAFF"), ("phone", "STAFF")}
    # the client's request id, the response media type it asks for, other variables
    response, by_door = await apps.both(
        {**body, "variables": {"id": ids.encode("Building", w.building), "first": 1}},
        token,
        **{"X-Request-Id": "mobile-42", "Accept": "application/graphql-response+json"},
    )
    assert by_door
    assert response.headers["x-request-id"] == "mobile-42"
    assert response.headers["content-type"] == "application/graphql-response+json"
    # a registered document by its hash alone (Apollo's persisted query: the manifest's text)
    [digest] = [k for k, text in trusted_documents.registered().items() if "query BuildingHouseholds(" in text]
    persisted = {
        "operationName": "BuildingHouseholds",
        "variables": body["variables"],
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
    }
    by_hash, by_door = await apps.both(persisted, token)
    assert not by_door, "the manifest's text is another document"
    assert by_hash.json()["data"]["node"]["__typename"] == "Building"
    again, by_door = await apps.both(persisted, token)
    assert by_door and again.content == by_hash.content


def _token(user: int) -> str:
    return tokens.sign(TEST_SECRET, user, 3600)[0]


async def test_every_request_that_may_differ_goes_the_ordinary_way(apps: Apps) -> None:
    w = await b.world(apps.conn)
    token = _token(w.users["staff"])
    building = ids.encode("Building", w.building)
    body = {"query": QUERY, "operationName": "BuildingHouseholds", "variables": {"id": building}}
    await apps.both(body, token)
    assert (await apps.both(body, token))[1], "admitted"
    deep = {"query": DEEP, "variables": {"n": 1}}
    await apps.both(deep, token)
    assert (await apps.both(deep, token))[1], "admitted"
    refused: list[tuple[dict[str, Any], str | None]] = [
        # the ordinary path's refusals of values: NUL, an over-long text, a bad id, first over 100
        ({**body, "variables": {"id": "x\u0000"}}, "BAD_USER_INPUT"),
        ({**body, "variables": {"id": "x" * 101}}, None),
        ({**body, "variables": {"id": building, "first": 101}}, None),
        ({**body, "variables": {"id": building, "first": "many"}}, None),
        ({**body, "variables": {"id": building, "after": "not-a-cursor"}}, None),
        # the cost of these variables: 100 + 100² + 100³ nodes
        ({**deep, "variables": {"n": 100}}, "QUERY_TOO_COSTLY"),
        # bodies strawberry reads otherwise
        ({**body, "operationName": "Other"}, None),
        ({**body, "variables": [1]}, None),
        ({**body, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}, None),
        ({**body, "extra": 1}, None),
    ]
    for request, code in refused:
        response, by_door = await apps.both(request, token)
        assert not by_door, request
        if code is not None:
            assert response.json()["errors"][0]["extensions"]["code"] == code
    # other viewers: none, an expired token, an API token are the ordinary path's
    for other in (None, "not-a-token", "gjt_unknown-" + "x" * 30):
        assert not (await apps.both(body, other))[1]
    # a GET
    response = await apps.compiled.get(
        "/graphql",
        params={"query": QUERY, "variables": json.dumps({"id": building})},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.json()["data"]["node"]["id"] == building
    assert apps.door.answered == 2
    # a disabled account: the statement says no, the ordinary path answers (as without a token)
    savepoint = apps.conn.transaction()
    async with apps.db.lock:
        await savepoint.start()
        await apps.conn.execute("UPDATE users SET disabled = true WHERE id = $1", w.users["staff"])
    try:
        response, by_door = await apps.both(body, token)
        assert not by_door
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    finally:
        async with apps.db.lock:
            await savepoint.rollback()
    assert (await apps.both(body, token))[1], "the same document, fine again"
