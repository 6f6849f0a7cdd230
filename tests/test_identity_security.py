"""Sign-in under attack: concurrent guessing, timing, hostile strings."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import asyncpg
import httpx

from db.pool import PoolDatabase, create_pool
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids
from tests.builders import SAMPLE_PASSWORD, with_passwords, world
from tests.conftest import TEST_SECRET
from tests.injection import HOSTILE_STRINGS, assert_injection_safe
from tests.support import Api


def _code(result: dict[str, Any]) -> str | None:
    errors = result["data"]["login"]["userErrors"]
    return errors[0]["code"] if errors else None


async def test_concurrent_guesses_on_two_instances_get_exactly_five_tries(committed_db: dict[str, Any]) -> None:
    async with committed_db["pool"].acquire() as conn:
        w = await world(conn)
        names = await with_passwords(conn, w)
    second_pool = await create_pool(committed_db["url"], min_size=1, max_size=10)
    try:
        second_app = create_app(Settings(secret=TEST_SECRET), db=PoolDatabase(second_pool))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=second_app), base_url="http://b") as client:
            instances = [committed_db["api"], Api(client=client, secret=TEST_SECRET)]
            attempts = [
                instances[i % 2].op("Login", {"username": names["resident"], "password": f"guess {i}"})
                for i in range(12)
            ]
            codes = [_code(r) for r in await asyncio.gather(*attempts)]
            assert codes.count("INVALID_CREDENTIALS") == 5, codes
            assert codes.count("TOO_MANY_ATTEMPTS") == 7, codes
            # the right password is refused too until the window passes
            late = await instances[1].op("Login", {"username": names["resident"], "password": SAMPLE_PASSWORD})
            assert _code(late) == "TOO_MANY_ATTEMPTS"
    finally:
        await second_pool.close()
    async with committed_db["pool"].acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM login_failures") == 5


async def test_unknown_users_take_about_as_long_as_wrong_passwords(api: Api, conn: asyncpg.Connection) -> None:
    """A behaviour check, not a speed target: both paths run one argon2 verification."""
    w = await world(conn)
    names = await with_passwords(conn, w)

    async def timed(username: str) -> float:
        await conn.execute("DELETE FROM login_failures")
        started = time.perf_counter()
        result = await api.op("Login", {"username": username, "password": "wrong password"})
        elapsed = time.perf_counter() - started
        assert _code(result) == "INVALID_CREDENTIALS"
        return elapsed

    await timed(names["admin"])  # warm up (the dummy hash is made once)
    await timed("warm-up-nobody")
    wrong = statistics.median([await timed(names["admin"]) for _ in range(5)])
    unknown = statistics.median([await timed(f"nobody{i}") for i in range(5)])
    assert 1 / 3 < unknown / wrong < 3, (unknown, wrong)


async def test_hostile_strings_in_login(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    names = await with_passwords(conn, w)
    results = await assert_injection_safe(
        api, conn, "Login", {"username": names["staff"], "password": "x"}, ["username", "password"]
    )
    answered = [r for r in results if r["data"]]
    assert len(answered) == len(results) - 2  # the NUL strings are refused before running
    assert {_code(r) for r in answered} <= {"INVALID_CREDENTIALS", "TOO_MANY_ATTEMPTS"}


async def test_hostile_strings_in_api_token_operations(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    admin = api.token_for(w.users["admin"])
    organisation_id = ids.encode("Organisation", w.unit)
    results = await assert_injection_safe(
        api, conn, "CreateApiToken", {"organisationId": organisation_id, "name": "n"}, ["name"], token=admin
    )
    stored = {
        r["data"]["createApiToken"]["apiToken"]["id"]
        for r in results
        if r["data"] and r["data"]["createApiToken"]["apiToken"]
    }
    names = await conn.fetch("SELECT name FROM api_tokens WHERE organisation_id = $1", w.unit)
    # stored verbatim (the name is trimmed; text with a NUL is refused as BAD_USER_INPUT)
    assert {r["name"] for r in names} == {s.strip() for s in HOSTILE_STRINGS if s.strip() and "\x00" not in s}
    assert len(stored) == len(names)
    await assert_injection_safe(
        api, conn, "CreateApiToken", {"organisationId": organisation_id, "name": "n"}, ["organisationId"], token=admin
    )
    await assert_injection_safe(api, conn, "RevokeApiToken", {"apiTokenId": "x"}, ["apiTokenId"], token=admin)
    await assert_injection_safe(api, conn, "Nodes", {"ids": ["x"]}, ["ids.0"], token=admin)


async def test_hostile_strings_in_the_audit_filter(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    admin = api.token_for(w.users["admin"])
    query = (
        "query($a: String, $u: ID, $t: String, $after: String) { auditLog(filter: {action: $a, userId: $u, "
        "targetType: $t}, after: $after) { totalCount edges { node { id } } } }"
    )
    for key in ("a", "u", "t", "after"):
        for hostile in HOSTILE_STRINGS:
            result = await api.post(query, {key: hostile}, token=admin)
            codes = [e["extensions"]["code"] for e in result.get("errors", [])]
            assert codes in ([], ["BAD_USER_INPUT"]), (key, hostile, result)
            if not codes:
                assert result["data"]["auditLog"]["totalCount"] == 0


async def test_hostile_strings_in_the_api_token_list(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    unit_admin = api.token_for(w.users["unit"])
    query = "query($o: ID!, $after: String) { apiTokens(organisationId: $o, after: $after) { totalCount } }"
    organisation = ids.encode("Organisation", w.unit)
    for hostile in HOSTILE_STRINGS:
        by_id = await api.post(query, {"o": hostile}, token=unit_admin)
        refusal = "BAD_USER_INPUT" if "\x00" in hostile else "FORBIDDEN"
        assert [e["extensions"]["code"] for e in by_id["errors"]] == [refusal], hostile
        by_cursor = await api.post(query, {"o": organisation, "after": hostile}, token=unit_admin)
        assert [e["extensions"]["code"] for e in by_cursor.get("errors", [])] == ["BAD_USER_INPUT"], hostile


async def test_text_with_nul_is_bad_user_input_everywhere(api: Api, conn: asyncpg.Connection) -> None:
    """PostgreSQL text cannot hold NUL: refused before any resolver runs, in variables or literals."""
    w = await world(conn)
    admin = api.token_for(w.users["admin"])
    by_variable = await api.op("Areas", {"search": "a\x00b"}, token=admin)
    assert [e["extensions"]["code"] for e in by_variable["errors"]] == ["BAD_USER_INPUT"]
    nested = await api.op(
        "CreateApiToken", {"organisationId": ids.encode("Organisation", w.unit), "name": "x\x00"}, token=admin
    )
    assert [e["extensions"]["code"] for e in nested["errors"]] == ["BAD_USER_INPUT"]
    by_literal = await api.post('{ areas(filter: {search: "a\\u0000b"}) { totalCount } }', token=admin)
    assert [e["extensions"]["code"] for e in by_literal["errors"]] == ["BAD_USER_INPUT"]
    assert await conn.fetchval("SELECT count(*) FROM api_tokens") == 0
    # the connection is still usable afterwards: nothing failed inside the database
    fine = await api.op("Areas", {"search": "社区"}, token=admin)
    assert "errors" not in fine


async def test_hostile_strings_in_the_areas_operations(api: Api, conn: asyncpg.Connection) -> None:
    """The reusable helper applied to every string argument of the areas operations."""
    w = await world(conn)
    admin = api.token_for(w.users["admin"])
    community = ids.encode("Community", w.community)
    cases: list[tuple[str, dict[str, Any], list[str]]] = [
        ("Areas", {"parentId": community, "search": "x"}, ["search", "parentId", "after"]),
        ("Compounds", {"communityId": community, "search": "x"}, ["search", "communityId", "after"]),
        ("Organisations", {"search": "x"}, ["search", "after"]),
        ("CrossAppointments", {"communityId": community}, ["communityId"]),
        ("CompoundDetail", {"id": "x"}, ["id"]),
        ("BuildingHouseholds", {"id": ids.encode("Building", w.building)}, ["id", "after"]),
        ("ResponsibilityChain", {"householdId": "x"}, ["householdId"]),
        (
            "AssignResponsible",
            {"areaId": community, "personId": ids.encode("Person", w.people["head"])},
            ["areaId", "personId"],
        ),
    ]
    for operation, variables, paths in cases:
        await assert_injection_safe(api, conn, operation, variables, paths, token=admin)


async def test_a_bearer_token_with_non_ascii_characters_is_no_token(api: Api, conn: asyncpg.Connection) -> None:
    """A header decoded as latin-1 can hold any character: a token that is not ASCII is
    simply not valid (UNAUTHENTICATED), never a 500."""
    await world(conn)
    for token in ("v1.payload.sïgnature", "v1.pâyload.signature", "gjt_sécret"):
        response = await api.client.post(
            "/graphql",
            json={"query": "{ viewer { id } areas { totalCount } }"},
            headers={b"Authorization": f"Bearer {token}".encode("latin-1")},
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["data"] is None or result["data"].get("viewer") is None
        assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]


async def test_text_with_a_lone_surrogate_is_bad_user_input(api: Api, conn: asyncpg.Connection) -> None:
    """JSON may escape half a surrogate pair (`\\ud800`): such text cannot be encoded for
    PostgreSQL or argon2, so it is refused as BAD_USER_INPUT before any resolver runs, never
    an INTERNAL_SERVER_ERROR."""
    w = await world(conn)
    admin = api.token_for(w.users["admin"])
    login = "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { token } }"
    bodies = [
        (login, '{"u": "admin", "p": "a\\ud800b"}', None),
        (login, '{"u": "a\\udc00", "p": "secret"}', None),
        ("query($s: String) { areas(filter: {search: $s}) { totalCount } }", '{"s": "\\ud83d"}', admin),
    ]
    for query, variables, token in bodies:
        body = '{"query": %s, "variables": %s}' % (json.dumps(query), variables)  # noqa: UP031 - raw JSON escapes
        headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
        response = await api.client.post("/graphql", content=body.encode(), headers=headers)
        assert response.status_code == 200, response.text
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_USER_INPUT"], response.text
    assert await conn.fetchval("SELECT count(*) FROM login_failures") == 0
    # a well-formed pair (an emoji) is ordinary text
    fine = await api.op("Areas", {"search": "\U0001f3e0"}, token=admin)
    assert "errors" not in fine
