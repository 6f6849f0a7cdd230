"""Other people's clients and suites against a real `gongjian serve`: Apollo Client's own
persisted-query link and npm graphql-http's GraphQL-over-HTTP audits (tests/clients/, run
with Node.js where it is present; skipped otherwise, failed under CI=true)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gongjian import tokens, trusted_documents
from tests import needed
from tests.conftest import TEST_SECRET, _with_database
from tests.serving import Served, environment, fresh_database, serving
from tests.support import CONTRACT

pytestmark = [pytest.mark.e2e, pytest.mark.node]
__all__ = ["fresh_database"]


def _node(script: str, *args: str) -> str:
    binary = needed.node()
    needed.client_packages()
    done = subprocess.run(
        [binary, str(needed.CLIENTS / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=needed.CLIENTS,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
async def database(server_url: str) -> AsyncIterator[str]:
    name = f"gj_clients_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
def served(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    needed.client_packages()  # skip before starting anything
    folder = tmp_path_factory.mktemp("clients")
    with serving(environment(database, folder / "data"), folder / "serve.log") as server:
        yield server


def test_graphql_over_http_audits_pass_without_warnings(served: Served) -> None:
    audits = [json.loads(line) for line in _node("audit.mjs", f"{served.url}/graphql").splitlines()]
    assert len(audits) >= 60
    not_ok = [a for a in audits if a["status"] != "ok"]
    assert not_ok == [], not_ok


def _operation(name: str) -> str:
    """The contract's operation as written in its file."""
    from graphql import OperationDefinitionNode, parse

    for path in sorted(CONTRACT.glob("*.graphql")):
        source = path.read_text(encoding="utf-8")
        for definition in parse(source).definitions:
            assert isinstance(definition, OperationDefinitionNode) and definition.name and definition.loc
            if definition.name.value == name:
                return source[definition.loc.start : definition.loc.end]
    raise AssertionError(name)


def _apollo(url: str, steps: list[dict[str, Any]], *, token: str | None = None, use_get: bool = False) -> Any:
    config = {"url": f"{url}/graphql", "token": token, "useGET": use_get, "steps": steps}
    return json.loads(_node("apollo.mjs", json.dumps(config)))


LOGIN = {"username": "nobody", "password": "wrong-password"}


def _flow(requests: list[dict[str, Any]]) -> list[tuple[str, bool, int]]:
    return [(r["method"], r["withText"], r["status"]) for r in requests]


def test_apollos_persisted_query_link_registers_then_sends_the_hash_alone(served: Served) -> None:
    # graphql-js prints {username: $username}: Apollo's hash is not a manifest id
    step = {"document": _operation("Login"), "variables": LOGIN}
    run = _apollo(served.url, [step, step])
    for result in run["results"]:
        assert result["errorCodes"] == [], result
        payload = result["data"]["login"]
        assert payload["__typename"] == "LoginPayload" and payload["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    hashes = {r["hash"] for r in run["requests"]}
    assert len(hashes) == 1 and hashes.isdisjoint(trusted_documents.registered())
    # a mutation is always POSTed: unknown hash, then hash + text, then (a new client) the hash alone
    assert _flow(run["requests"]) == [("POST", False, 400), ("POST", True, 200), ("POST", False, 200)]
    assert all(r["contentType"] == "application/graphql-response+json" for r in run["requests"])


def test_a_hashed_query_over_get_and_apollos_cache_normalises_it(served: Served, database: str) -> None:
    user_id = _user(database)
    query = "query Me { viewer { id username roles { role } } }"
    token = tokens.sign(TEST_SECRET, user_id, 600)[0]
    run = _apollo(served.url, [{"document": query}, {"document": query}], token=token, use_get=True)
    first, second = run["results"]
    assert first["data"]["viewer"]["username"] == "apollo" and second == first
    # __typename came back, so the cache holds the user as its own normalised entry
    assert f"User:{first['data']['viewer']['id']}" in first["cacheKeys"]
    assert _flow(run["requests"]) == [("GET", False, 400), ("POST", True, 200), ("GET", False, 200)]


def _user(database: str) -> int:
    import asyncio

    async def insert() -> int:
        raw = await asyncpg.connect(database)
        try:
            county = await raw.fetchval("INSERT INTO areas (level, name) VALUES ('COUNTY', '佛坪县') RETURNING id")
            user: int = await raw.fetchval(
                "INSERT INTO users (county_id, username, password_hash) VALUES ($1, 'apollo', 'x') RETURNING id",
                county,
            )
            return user
        finally:
            await raw.close()

    return asyncio.run(insert())


def test_trusted_only_mode_accepts_apollos_print_of_a_contract_operation(fresh_database: str, tmp_path: Path) -> None:
    needed.client_packages()
    env = environment(fresh_database, tmp_path / "data", GONGJIAN_TRUSTED_DOCUMENTS_ONLY="true")
    with serving(env, tmp_path / "serve.log") as strict:
        login = {"document": _operation("Login"), "variables": LOGIN}
        stranger = {"document": "query Stranger { viewer { id } }"}
        run = _apollo(strict.url, [login, login, stranger])
        ok, again, refused = run["results"]
        assert ok["errorCodes"] == [] and ok["data"]["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
        assert again == ok
        assert refused["errorCodes"] == ["TRUSTED_DOCUMENT_REQUIRED"]
        assert _flow(run["requests"]) == [
            ("POST", False, 400),
            ("POST", True, 200),
            ("POST", False, 200),
            ("POST", False, 400),
            ("POST", True, 400),
        ]
