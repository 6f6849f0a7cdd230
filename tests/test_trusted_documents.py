"""Trusted documents: registered operations sent by their sha256 hash; optionally only those."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import OperationDefinitionNode, parse, print_ast, validate

from db.pool import PoolDatabase, create_pool
from gongjian import trusted_documents
from gongjian.app import create_app
from gongjian.config import Settings
from schema.root import build
from tests.conftest import TEST_SECRET
from tests.probes import probe_api, probe_client
from tests.support import CONTRACT, REPO, Api, contract_operations
from tests.test_contract import PENDING

__all__ = ["probe_api"]


def _registered(name: str) -> tuple[str, str]:
    manifest = json.loads((REPO / "schema" / "trusted_documents.json").read_text(encoding="utf-8"))
    operation = next(o for o in manifest["operations"] if o["name"] == name)
    return operation["id"], operation["body"]


def test_manifest_is_up_to_date_with_the_contract() -> None:
    committed = (REPO / "schema" / "trusted_documents.json").read_text(encoding="utf-8")
    schema = build()._schema
    fresh = trusted_documents.dumps(trusted_documents.manifest_from_contract(CONTRACT.glob("*.graphql"), schema))
    assert committed == fresh, "schema/trusted_documents.json is stale: run `gongjian trusted-documents <contract>`"
    manifest = json.loads(committed)
    assert manifest["format"] == "apollo-persisted-query-manifest" and len(manifest["operations"]) >= 40
    assert "sha256" in manifest["description"]  # how a client gets its ids
    for operation in manifest["operations"]:
        assert operation["id"] == trusted_documents.document_id(operation["body"])
        assert not validate(schema, parse(operation["body"])), operation["name"]
    # every contract operation is registered but those still being built
    names = {operation["name"] for operation in manifest["operations"]}
    assert names == set(contract_operations()) - PENDING


@pytest.mark.parametrize("name", ["Viewer", "Areas", "PlaceOrder"])
async def test_registered_document_by_hash_answers_as_its_text(probe_api: Api, name: str) -> None:
    document_id, body = _registered(name)
    by_hash = await probe_api.client.post(
        "/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_id}}}
    )
    by_text = await probe_api.client.post("/graphql", json={"query": body})
    assert by_hash.status_code == by_text.status_code == 200
    assert by_hash.json() == by_text.json()


async def test_hash_over_get(probe_api: Api) -> None:
    document_id, _ = _registered("Viewer")
    extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": document_id}})
    response = await probe_api.client.get("/graphql", params={"extensions": extensions})
    assert response.status_code == 200
    assert "PERSISTED_QUERY_NOT_FOUND" not in response.text


@pytest.mark.parametrize(
    ("persisted", "code"),
    [
        ({"version": 1, "sha256Hash": "0" * 64}, "PERSISTED_QUERY_NOT_FOUND"),
        ({"version": 2, "sha256Hash": "0" * 64}, "BAD_REQUEST"),
        ({"version": 1}, "BAD_REQUEST"),
        ("nope", "BAD_REQUEST"),
    ],
)
async def test_unknown_or_malformed_hash_is_refused(probe_api: Api, persisted: object, code: str) -> None:
    response = await probe_api.client.post("/graphql", json={"extensions": {"persistedQuery": persisted}})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == code


async def test_text_that_does_not_match_its_hash_is_refused(probe_api: Api) -> None:
    document_id, _ = _registered("Viewer")
    response = await probe_api.client.post(
        "/graphql",
        json={"query": "{ __typename }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_id}}},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_trusted_documents_only(conn: asyncpg.Connection, settings: Settings) -> None:
    async for api in probe_client(conn, replace(settings, trusted_documents_only=True)):
        refused = await api.post("{ viewer { id } }")
        assert refused["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
        assert refused["data"] is None
        document_id, body = _registered("Viewer")
        by_hash = await api.client.post(
            "/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_id}}}
        )
        by_text = await api.client.post("/graphql", json={"query": body})
        for response in (by_hash, by_text):
            codes = [e["extensions"]["code"] for e in response.json().get("errors", [])]
            assert "TRUSTED_DOCUMENT_REQUIRED" not in codes


async def test_any_document_is_accepted_by_default(probe_api: Api) -> None:
    assert (await probe_api.post("{ __typename }"))["data"] == {"__typename": "Query"}


async def test_query_text_with_a_lone_surrogate_is_refused_not_a_500(
    probe_api: Api, conn: asyncpg.Connection, settings: Settings
) -> None:
    """Half a surrogate pair (JSON `\\ud800`) has no UTF-8 form: hashing such a text must
    not fail, it simply matches no registered document."""
    document_id, _ = _registered("Viewer")
    query = "{ __typename # \ud800\n }"
    headers = {"content-type": "application/json"}
    # json.dumps escapes the lone surrogate as `\ud800`, as a client's JSON would
    persisted = {"version": 1, "sha256Hash": document_id}
    with_hash = json.dumps({"query": query, "extensions": {"persistedQuery": persisted}})
    response = await probe_api.client.post("/graphql", content=with_hash.encode(), headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    async for api in probe_client(conn, replace(settings, trusted_documents_only=True)):
        alone = await api.client.post("/graphql", content=json.dumps({"query": query}).encode(), headers=headers)
        assert alone.status_code == 200, alone.text
        assert alone.json()["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"


# --- the canonical form: a client's own print of a registered operation -----------------


def _as_written(name: str) -> str:
    """The operation's text exactly as the contract file has it."""
    for path in sorted(CONTRACT.glob("*.graphql")):
        source = path.read_text(encoding="utf-8")
        for definition in parse(source).definitions:
            assert isinstance(definition, OperationDefinitionNode) and definition.name and definition.loc
            if definition.name.value == name:
                return source[definition.loc.start : definition.loc.end]
    raise AssertionError(name)


def _graphql_js_print(text: str) -> str:
    """graphql-js prints object values `{a: $a}` where graphql-core prints `{ a: $a }`."""
    return re.sub(r"\{ ([^{}]*?) \}", r"{\1}", print_ast(parse(text)))


def _apollo_print(text: str) -> str:
    """Apollo Client's document: `__typename` added, printed by graphql-js."""
    return _graphql_js_print(print_ast(trusted_documents.with_typename(parse(text))))


def test_prints_of_one_operation_share_the_canonical_form() -> None:
    written = _as_written("Login")
    assert "{username: $username" in written  # the contract's own style
    forms = {
        trusted_documents.canonical(parse(text))
        for text in (written, _registered("Login")[1], _graphql_js_print(written), _apollo_print(written))
    }
    assert len(forms) == 1
    other = trusted_documents.canonical(parse(written.replace("token\n", "")))
    assert other not in forms


@pytest.mark.parametrize("style", ["as written", "graphql-js", "apollo", "one line"])
async def test_trusted_only_accepts_a_clients_own_print_of_a_registered_operation(
    conn: asyncpg.Connection, settings: Settings, style: str
) -> None:
    written = _as_written("Login")
    text = {
        "as written": written,
        "graphql-js": _graphql_js_print(written),
        "apollo": _apollo_print(written),
        "one line": " ".join(written.split()),
    }[style]
    async for api in probe_client(conn, replace(settings, trusted_documents_only=True)):
        result = await api.post(text, {"username": "nobody", "password": "wrong-password"})
        assert "errors" not in result, result
        assert result["data"]["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
        if style == "apollo":  # the client's own document runs: its __typename comes back
            assert result["data"]["login"]["__typename"] == "LoginPayload"
        # changed in any other way, it is refused
        changed = await api.post(text.replace("expiresAt", ""), {"username": "nobody", "password": "x"})
        assert changed["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"


async def test_registered_responses_carry_typename_for_apollos_cache(probe_api: Api) -> None:
    document_id, _ = _registered("Login")
    response = await probe_api.client.post(
        "/graphql",
        json={
            "variables": {"username": "nobody", "password": "wrong-password"},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_id}},
        },
    )
    login = response.json()["data"]["login"]
    assert login["__typename"] == "LoginPayload"
    assert login["userErrors"][0]["__typename"] == "UserError"


INTROSPECTION = (
    "query IntrospectionQuery { __schema { queryType { name } types { ...T } } } fragment T on __Type { name }"
)


async def test_trusted_only_allows_introspection_when_introspection_is_on(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    async for api in probe_client(conn, replace(settings, trusted_documents_only=True)):
        allowed = await api.post(INTROSPECTION)
        assert allowed["data"]["__schema"]["queryType"] == {"name": "Query"}
        mixed = await api.post("{ __schema { queryType { name } } viewer { id } }")
        assert mixed["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
    async for api in probe_client(conn, replace(settings, trusted_documents_only=True, introspection=False)):
        refused = await api.post(INTROSPECTION)
        assert refused["data"] is None and refused["errors"]


# --- Apollo's automatic persisted queries ------------------------------------------------


def _persisted(text: str | None, variables: dict[str, object] | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": trusted_documents.document_id(text or "")}}
    }
    if variables is not None:
        body["variables"] = variables
    return body


async def _send(
    client: httpx.AsyncClient, text: str, *, with_text: bool, variables: dict[str, object] | None = None
) -> dict[str, Any]:
    body = _persisted(text, variables)
    if with_text:
        body["query"] = text
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _code(result: dict[str, Any]) -> str | None:
    errors = result.get("errors") or []
    return str(errors[0]["extensions"]["code"]) if errors else None


async def test_hash_and_text_register_the_text_for_every_instance(committed_db: dict[str, Any]) -> None:
    text = "query Mine { __typename viewer { id } }"
    first: httpx.AsyncClient = committed_db["api"].client
    assert _code(await _send(first, text, with_text=False)) == "PERSISTED_QUERY_NOT_FOUND"
    registered = await _send(first, text, with_text=True)
    assert registered == {"data": {"__typename": "Query", "viewer": None}}
    # another instance (its own app and pool) on the same database knows the hash
    pool = await create_pool(committed_db["url"], min_size=1, max_size=2)
    try:
        other = create_app(Settings(secret=TEST_SECRET), db=PoolDatabase(pool))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://test") as client:
            assert await _send(client, text, with_text=False) == registered
    finally:
        await pool.close()


async def test_a_document_that_does_not_validate_is_not_registered(committed_db: dict[str, Any]) -> None:
    client: httpx.AsyncClient = committed_db["api"].client
    text = "{ noSuchField }"
    assert _code(await _send(client, text, with_text=True)) == "GRAPHQL_VALIDATION_FAILED"
    assert _code(await _send(client, text, with_text=False)) == "PERSISTED_QUERY_NOT_FOUND"


async def test_registrations_are_bounded_under_concurrency(committed_db: dict[str, Any]) -> None:
    keep = 5
    app = create_app(replace(Settings(secret=TEST_SECRET), persisted_queries_max=keep), db=committed_db["db"])
    texts = [f"query Q{n} {{ __typename }}" for n in range(30)]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        results = await asyncio.gather(*(_send(client, text, with_text=True) for text in texts))
        assert all(r == {"data": {"__typename": "Query"}} for r in results)
        pool: asyncpg.Pool = committed_db["pool"]
        assert await pool.fetchval("SELECT count(*) FROM persisted_queries") == keep
        # the newest registrations are the ones kept; re-registering an old one brings it back
        kept = {r["sha256"] for r in await pool.fetch("SELECT sha256 FROM persisted_queries")}
        for text in texts:
            found = _code(await _send(client, text, with_text=False))
            assert found == (None if trusted_documents.document_id(text) in kept else "PERSISTED_QUERY_NOT_FOUND")
        await _send(client, texts[0], with_text=True)
        assert _code(await _send(client, texts[0], with_text=False)) is None
        assert await pool.fetchval("SELECT count(*) FROM persisted_queries") == keep


async def test_trusted_only_registers_only_registered_operations(committed_db: dict[str, Any]) -> None:
    pool: asyncpg.Pool = committed_db["pool"]
    app = create_app(replace(Settings(secret=TEST_SECRET), trusted_documents_only=True), db=committed_db["db"])
    apollo = _apollo_print(_as_written("Login"))
    assert trusted_documents.document_id(apollo) not in trusted_documents.registered()
    login: dict[str, object] = {"username": "nobody", "password": "wrong-password"}
    stranger = "query Viewer { viewer { id username } }"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert _code(await _send(client, apollo, with_text=False, variables=login)) == "PERSISTED_QUERY_NOT_FOUND"
        answer = await _send(client, apollo, with_text=True, variables=login)
        assert answer["data"]["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
        again = await _send(client, apollo, with_text=False, variables=login)
        assert again["data"]["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
        assert _code(await _send(client, stranger, with_text=True)) == "TRUSTED_DOCUMENT_REQUIRED"
        assert _code(await _send(client, stranger, with_text=False)) == "PERSISTED_QUERY_NOT_FOUND"
        # registered while trusted-only was off: refused once it is on
        await pool.execute(
            "INSERT INTO persisted_queries (sha256, body) VALUES ($1, $2)",
            trusted_documents.document_id(stranger),
            stranger,
        )
        assert _code(await _send(client, stranger, with_text=False)) == "TRUSTED_DOCUMENT_REQUIRED"
    registered = {r["body"] for r in await pool.fetch("SELECT body FROM persisted_queries")}
    assert registered == {apollo, stranger}
