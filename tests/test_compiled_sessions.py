"""The sessions the compiled reads run on: a pool of their own whose sessions keep one
generic plan per statement, while every other statement is still planned for its
parameters (db/pool.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from db.pool import PoolDatabase, create_pool
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids
from tests import builders as b
from tests.conftest import TEST_SECRET, without_rate_limits
from tests.support import Api, contract_operations, own_connection
from tests.test_compiled import Both, both  # noqa: F401 - `both` is a fixture

COMPILED = "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'WITH vw %'"


@asynccontextmanager
async def _app_on_two_pools(url: str) -> AsyncIterator[tuple[Api, asyncpg.Pool, asyncpg.Pool]]:
    """The app as `gongjian serve` builds it: a pool for statements and one, with generic
    plans, for the compiled reads; one connection each, so a test can look at its session."""
    pool = await create_pool(url, min_size=1, max_size=1)
    reads = await create_pool(url, min_size=1, max_size=1, generic_plans=True)
    app = create_app(without_rate_limits(Settings(secret=TEST_SECRET)), db=PoolDatabase(pool, reads=reads))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield Api(client=client, secret=TEST_SECRET), pool, reads
    finally:
        await pool.close()
        await reads.close()


async def test_a_compiled_read_keeps_one_generic_plan_and_other_statements_are_planned_afresh(
    committed_db: dict[str, Any],
) -> None:
    async with own_connection(committed_db) as conn:
        w = await b.world(conn)
    async with _app_on_two_pools(committed_db["url"]) as (api, pool, reads):
        token = api.token_for(w.users["admin"])
        answers = [
            await api.op("BuildingHouseholds", {"id": ids.encode("Building", w.building), "first": 20}, token=token)
            for _ in range(3)
        ]
        assert answers[0] == answers[1] == answers[2]
        assert answers[0]["data"]["node"]["head"]["name"] == "李楼长"
        assert [e["node"]["id"] for e in answers[0]["data"]["node"]["households"]["edges"]] == [
            ids.encode("Household", w.household)
        ]
        async with reads.acquire() as session:
            # the one compiled statement, run three times on its generic plan: never planned again
            assert [tuple(r) for r in await session.fetch(COMPILED)] == [(3, 0)]
            # and the compiled reads' sessions write nothing
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                await session.execute("INSERT INTO audit_log (action) VALUES ('written')")
        async with pool.acquire() as session:
            # the viewer's lookup and every ordinary statement: planned for their parameters
            assert await session.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
            assert await session.fetchval("SHOW default_transaction_read_only") == "off"
            assert await session.fetch(COMPILED) == []


# four buildings' households with their residents: a compiled statement longer than
# asyncpg's default limit for keeping a statement prepared (15 KiB)
WIDE = (
    "query Wide($a: ID!, $b: ID!, $c: ID!, $d: ID!) {"
    + "".join(
        f" {k}: node(id: ${k}) {{ id ... on Building {{ name head {{ id name phone }} households {{ totalCount "
        "edges { node { id label residents { id name phone household { id label building { id name } } } } } } } }"
        for k in "abcd"
    )
    + " }"
)


async def test_a_long_compiled_statement_stays_prepared(committed_db: dict[str, Any]) -> None:
    async with own_connection(committed_db) as conn:
        w = await b.world(conn)
    async with _app_on_two_pools(committed_db["url"]) as (api, _, reads):
        token = api.token_for(w.users["admin"])
        building = ids.encode("Building", w.building)
        variables = {k: building for k in "abcd"}
        answers = [await api.post(WIDE, variables, token=token) for _ in range(3)]
        assert answers[0] == answers[1] == answers[2] and "errors" not in answers[0]
        assert answers[0]["data"]["d"]["households"]["totalCount"] == 1
        async with reads.acquire() as session:
            [(length, generic, custom)] = await session.fetch(
                "SELECT length(statement), generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE 'WITH vw %'"
            )
        assert length > 15 * 1024
        assert (generic, custom) == (3, 0), "prepared once, its generic plan used three times"


async def test_the_compiled_statement_signs_the_session_in_and_a_revoked_one_reads_nothing(
    both: Both,  # noqa: F811 - the fixture imported above
) -> None:
    """The session token's account is checked within the compiled statement (one statement
    a request and one for its audit rows, no lookup of its own); a token revoked by a password change, or a disabled
    account, gets what a request without a token gets, and no personal-data read is audited."""
    conn = both.conn
    w = await b.world(conn)
    staff = w.users["staff"]
    token = both.compiled.token_for(staff)
    variables = {"id": ids.encode("Building", w.building), "first": 20}
    query = contract_operations()["BuildingHouseholds"]
    answer, path, audited = await both.answer(both.compiled, query, variables, token)
    assert path == ("compiled", 2)
    assert answer["data"]["node"]["head"]["phone"] == "13800000002"  # staff in scope: unmasked, audited
    assert (w.household, "phone", "STAFF", staff, w.county) in audited
    assert await both.same(query, variables, token) == "compiled"
    anonymous, _, _ = await both.answer(both.ordinary, query, variables, None)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for revoke in (
        "UPDATE users SET token_generation = token_generation + 1 WHERE id = $1",
        "UPDATE users SET disabled = true WHERE id = $1",
    ):
        savepoint = conn.transaction()
        async with both.db.lock:
            await savepoint.start()
            await conn.execute(revoke, staff)
        try:
            answer, path, audited = await both.answer(both.compiled, query, variables, token)
            assert answer == anonymous
            assert path[0] == "resolvers"  # the statement said no; the ordinary path answered
            assert audited == set()
            assert await both.same(query, variables, token) == "resolvers"
        finally:
            async with both.db.lock:
                await savepoint.rollback()


async def test_a_compiled_read_whose_audit_rows_cannot_be_written_answers_no_personal_data(
    both: Both,  # noqa: F811 - the fixture imported above
) -> None:
    """The compiled statement returns its personal-data reads, and they are written before
    the answer goes out: when the audit log refuses them, the client gets the error, not the
    phones."""
    conn = both.conn
    w = await b.world(conn)
    token = both.compiled.token_for(w.users["staff"])
    body = {
        "query": contract_operations()["BuildingHouseholds"],
        "operationName": "BuildingHouseholds",
        "variables": {"id": ids.encode("Building", w.building), "first": 20},
    }
    headers = {"Authorization": f"Bearer {token}"}
    answered = (await both.compiled.client.post("/graphql", json=body, headers=headers)).json()
    assert answered["data"]["node"]["head"]["phone"] == "13800000002"  # audited, then answered
    savepoint = conn.transaction()
    async with both.db.lock:
        await savepoint.start()
        await conn.execute(
            "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit log is full'; END $$; "
            "CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse()"
        )
    try:
        # the compiled reads' own way runs the statement (it answered the document once) and
        # hands its failure to strawberry's, which answers it
        answered_by_door = both.door.answered
        response = await both.compiled.client.post("/graphql", json=body, headers=headers)
        assert both.door.answered == answered_by_door
        assert "13800000002" not in response.text
        assert response.json()["data"] is None, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    finally:
        async with both.db.lock:
            await savepoint.rollback()
