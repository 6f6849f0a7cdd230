"""End-to-end: real `gongjian serve` processes on fresh databases."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import asyncpg
import httpx
import pytest

from db.migrate import available
from gongjian import config, tokens
from tests.conftest import TEST_SECRET
from tests.serving import GONGJIAN, environment, fresh_database, serving, start, stop, wait_ready

__all__ = ["fresh_database"]

pytestmark = pytest.mark.e2e

# uvicorn shuts down gracefully on SIGTERM, then re-raises the signal so that the process
# ends as a SIGTERM'd process would (the exit status a supervisor expects)
GRACEFUL = (0, -signal.SIGTERM)


async def test_serve_migrates_a_fresh_database_and_answers(fresh_database: str, tmp_path: Path) -> None:
    with serving(environment(fresh_database, tmp_path), tmp_path / "serve.log") as served:
        async with httpx.AsyncClient(base_url=served.url) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            assert (await client.get("/readyz")).json() == {"status": "ready"}
            answer = await client.post("/graphql", json={"query": "{ __typename }"})
            assert answer.json() == {"data": {"__typename": "Query"}}
            assert answer.headers["x-request-id"]
    raw = await asyncpg.connect(fresh_database)
    try:
        versions = [r["version"] for r in await raw.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
    finally:
        await raw.close()
    assert versions == [m.version for m in available()]


async def test_two_instances_starting_at_once_migrate_safely(fresh_database: str, tmp_path: Path) -> None:
    env = environment(fresh_database, tmp_path)
    first = start(env, tmp_path / "a.log")
    second = start(env, tmp_path / "b.log")
    try:
        for served in (first, second):
            wait_ready(served)
            async with httpx.AsyncClient(base_url=served.url) as client:
                assert (await client.post("/graphql", json={"query": "{ __typename }"})).status_code == 200
    finally:
        codes = [stop(first), stop(second)]
    assert all(code in GRACEFUL for code in codes), codes
    raw = await asyncpg.connect(fresh_database)
    try:
        rows = await raw.fetch("SELECT version, count(*) AS n FROM schema_migrations GROUP BY version")
    finally:
        await raw.close()
    assert sorted(r["version"] for r in rows) == [m.version for m in available()]
    assert all(r["n"] == 1 for r in rows)


async def _county_admin(url: str) -> tuple[asyncpg.Connection, str]:
    """A connection to the database, and the token of a county admin of a new county."""
    raw = await asyncpg.connect(url)
    county = await raw.fetchval("INSERT INTO areas (level, name) VALUES ('COUNTY', '佛坪县') RETURNING id")
    user = await raw.fetchval(
        "INSERT INTO users (county_id, username, password_hash) VALUES ($1, 'admin', 'x') RETURNING id", county
    )
    await raw.execute(
        "INSERT INTO role_grants (county_id, user_id, role, area_id) VALUES ($1, $2, 'COUNTY_ADMIN', $1)", county, user
    )
    return raw, tokens.sign(TEST_SECRET, user, 600)[0]


async def test_sigterm_lets_an_in_flight_request_finish(fresh_database: str, tmp_path: Path) -> None:
    """The request is slow because the test holds a lock on `users`, which the server reads
    to find the viewer of the bearer token; SIGTERM arrives while it waits."""
    served = start(environment(fresh_database, tmp_path), tmp_path / "serve.log")
    try:
        wait_ready(served)
        raw, token = await _county_admin(fresh_database)
        lock = raw.transaction()
        await lock.start()
        await raw.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            request = asyncio.create_task(
                client.post(
                    "/graphql",
                    json={"query": "{ nodes(ids: []) { id } }"},
                    headers={"authorization": f"Bearer {token}"},
                )
            )
            for _ in range(200):  # until the server's query waits for the lock
                waiting = await raw.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name LIKE 'gongjian%' AND wait_event_type = 'Lock'"
                )
                if waiting:
                    break
                await asyncio.sleep(0.05)
            assert waiting, "the request never reached the database"
            served.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            assert served.process.poll() is None, "the server exited with a request in flight"
            await lock.commit()
            response = await request
        await raw.close()
        assert response.status_code == 200 and response.json() == {"data": {"nodes": []}}
        assert served.process.wait(20) in GRACEFUL
        assert "Traceback" not in served.log()
    finally:
        stop(served)


async def _reads_waiting(url: str) -> int:
    """Compiled reads' sessions waiting for a lock (asked on a connection of its own: within a
    transaction, pg_stat_activity stays as it was when the transaction first read it)."""
    raw = await asyncpg.connect(url)
    try:
        return int(
            await raw.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gongjian-reads'"
                " AND datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    finally:
        await raw.close()


@pytest.mark.parametrize(("given", "expected"), [("2", 2), (None, config.reads_pool_share(1))])
async def test_compiled_reads_wait_for_their_own_bounded_pool(
    fresh_database: str, tmp_path: Path, given: str | None, expected: int
) -> None:
    """Twelve compiled reads at once, each held by a lock on `areas` once it has a
    connection: as many reach PostgreSQL as the compiled reads' pool holds (2 x cores + 1 by
    default, GONGJIAN_READS_POOL_MAX when set); the others wait in the pool's queue, and all
    twelve are answered when the lock goes."""
    extra = {"GONGJIAN_READS_POOL_MAX": given} if given else {}
    with serving(environment(fresh_database, tmp_path, **extra), tmp_path / "serve.log") as served:
        raw, token = await _county_admin(fresh_database)
        try:
            lock = raw.transaction()
            await lock.start()
            await raw.execute("LOCK TABLE areas IN ACCESS EXCLUSIVE MODE")
            async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
                body = {"query": "{ compounds(first: 5) { totalCount } }"}
                headers = {"authorization": f"Bearer {token}"}
                requests = [asyncio.create_task(client.post("/graphql", json=body, headers=headers)) for _ in range(12)]
                for _ in range(40):  # until the pool's connections all wait for the lock
                    if await _reads_waiting(fresh_database) >= expected:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)  # time enough for a connection beyond the pool's to show
                waiting = await _reads_waiting(fresh_database)
                await lock.commit()
                answers = [(await r).json() for r in requests]
        finally:
            await raw.close()
    assert waiting == expected
    assert answers == [{"data": {"compounds": {"totalCount": 0}}}] * 12
    assert served.log().count('"path":"compiled"') == 12


async def test_serve_shares_the_compiled_reads_connections_among_its_workers(
    fresh_database: str, tmp_path: Path
) -> None:
    with serving(environment(fresh_database, tmp_path), tmp_path / "serve.log", "--workers", "2") as served:
        async with httpx.AsyncClient(base_url=served.url) as client:
            metrics = (await client.get("/metrics")).text
    share = config.reads_pool_share(2)
    assert f'gongjian_db_pool_connections{{pool="compiled_reads",state="max"}} {share}.0' in metrics
    assert 'gongjian_db_pool_connections{pool="statements",state="max"} 10.0' in metrics


def test_a_worker_s_share_of_the_compiled_reads_connections() -> None:
    assert [config.reads_pool_share(w, cores=2) for w in (1, 2, 3, 8)] == [5, 3, 2, 2]
    assert [config.reads_pool_share(w, cores=16) for w in (1, 2, 4)] == [33, 17, 9]
    assert config.load({"GONGJIAN_READS_POOL_MAX": "7"}).reads_pool_max == 7


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GONGJIAN, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://postgres@127.0.0.1:1/postgres", "cannot reach the database"),
        ("postgresql://postgres@127.0.0.1:5432/gj_no_such_database_here", "cannot reach the database"),
        ("mysql://root@localhost/x", "DATABASE_URL: expected a postgresql:// URL"),
    ],
)
def test_bad_database_url_exits_with_one_line(tmp_path: Path, url: str, reason: str) -> None:
    result = _run(environment(url, tmp_path), "serve")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_bad_configuration_gives_one_line_per_value(tmp_path: Path) -> None:
    env = environment(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        tmp_path,
        GONGJIAN_POOL_MAX="many",
        GONGJIAN_TIMEZONE="Mars/Olympus",
        GONGJIAN_INTROSPECTION="perhaps",
        GONGJIAN_SECRET="short",
    )
    result = _run(env, "serve")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4, result.stderr
    assert all(line.startswith("gongjian: configuration: ") for line in lines)
    for name in ("GONGJIAN_POOL_MAX", "GONGJIAN_TIMEZONE", "GONGJIAN_INTROSPECTION", "GONGJIAN_SECRET"):
        assert any(name in line for line in lines), name
