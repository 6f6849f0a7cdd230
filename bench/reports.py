"""Latency of the county reports (statistics, coverage, compliance) through HTTP.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench.reports

For each scale (the demo county, then the same county ten times larger) it creates a
database on the server of DATABASE_URL, migrates it, loads the demo, grows it by copying
the county's towns with everything below them (areas, organisations attached to areas,
households, residents, heads, adoptions, pairings, visits) under fresh ids, starts
`gongjian serve` on a free port and sends each report for the county sequentially
(after warm-up requests), printing p50 and p95 in milliseconds. The databases are dropped
afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from db.demo import load
from db.migrate import migrate
from db.pool import connect
from gongjian import clock, tokens
from resolvers import ids
from tests.support import contract_operations

OFFSET: Final = 10_000_000

# Copy k of the county's towns and all below them, ids shifted by k * OFFSET ($1 = k).
COPY_STATEMENTS: Final = [
    """
    INSERT INTO areas (id, county_id, parent_id, level, name, code, compound_kind, address, management_plan,
                       property_manager_id)
    OVERRIDING SYSTEM VALUE
    SELECT a.id + $1 * 10000000, a.county_id,
           CASE WHEN a.level = 'TOWN' THEN a.parent_id ELSE a.parent_id + $1 * 10000000 END,
           a.level, CASE WHEN a.level = 'TOWN' THEN a.name || '·' || $1 ELSE a.name END, NULL,
           a.compound_kind, a.address, a.management_plan, a.property_manager_id
    FROM areas a WHERE a.level = $2 AND a.id < 10000000 ORDER BY a.id
    """,
]
COPY_REST: Final = [
    """
    INSERT INTO organisations (id, county_id, parent_id, kind, name, code, area_id) OVERRIDING SYSTEM VALUE
    SELECT o.id + $1 * 10000000, o.county_id,
           CASE WHEN pa.level IS NOT NULL AND pa.level <> 'COUNTY' THEN o.parent_id + $1 * 10000000
                ELSE o.parent_id END,
           o.kind, o.name || '·' || $1, NULL, o.area_id + $1 * 10000000
    FROM organisations o JOIN areas a ON a.id = o.area_id
    LEFT JOIN organisations p ON p.id = o.parent_id LEFT JOIN areas pa ON pa.id = p.area_id
    WHERE o.id < 10000000 AND a.level <> 'COUNTY'
    ORDER BY o.id
    """,
    """
    INSERT INTO households (id, county_id, area_id, building_id, label, code) OVERRIDING SYSTEM VALUE
    SELECT h.id + $1 * 10000000, h.county_id, h.area_id + $1 * 10000000, h.building_id + $1 * 10000000, h.label, NULL
    FROM households h WHERE h.id < 10000000
    """,
    """
    INSERT INTO persons (id, county_id, name, phone, gender, birth_year, household_id, party_member, tags)
    OVERRIDING SYSTEM VALUE
    SELECT p.id + $1 * 10000000, p.county_id, p.name, p.phone, p.gender, p.birth_year,
           p.household_id + $1 * 10000000, p.party_member, p.tags
    FROM persons p WHERE p.household_id IS NOT NULL AND p.id < 10000000
    """,
    """
    INSERT INTO responsibilities (county_id, area_id, person_id, since)
    SELECT r.county_id, r.area_id + $1 * 10000000,
           CASE WHEN pe.household_id IS NOT NULL THEN r.person_id + $1 * 10000000 ELSE r.person_id END, r.since
    FROM responsibilities r JOIN areas a ON a.id = r.area_id JOIN persons pe ON pe.id = r.person_id
    WHERE a.level <> 'COUNTY' AND r.until IS NULL AND a.id < 10000000
    """,
    """
    INSERT INTO adoptions (county_id, unit_id, area_id, duties, since)
    SELECT county_id, unit_id, area_id + $1 * 10000000, duties, since FROM adoptions WHERE area_id < 10000000
    """,
    """
    INSERT INTO pairings (id, county_id, cadre_id, household_id, since, until) OVERRIDING SYSTEM VALUE
    SELECT id + $1 * 10000000, county_id, cadre_id, household_id + $1 * 10000000, since, until
    FROM pairings WHERE id < 10000000
    """,
    """
    INSERT INTO visits (county_id, pairing_id, kind, occurred_on, notes)
    SELECT county_id, pairing_id + $1 * 10000000, kind, occurred_on, notes FROM visits WHERE pairing_id < 10000000
    """,
]
LEVELS: Final = ("TOWN", "COMMUNITY", "DISTRICT", "COMPOUND", "BUILDING", "UNIT")


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def grow(url: str, times: int) -> None:
    """Make the county `times` times as large by copying its towns `times - 1` times."""
    conn = await connect(url)
    try:
        async with conn.transaction():
            for k in range(1, times):
                for level in LEVELS:
                    await conn.execute(COPY_STATEMENTS[0], k, level)
                for sql in COPY_REST:
                    await conn.execute(sql, k)
        await conn.execute("VACUUM ANALYZE")  # as autovacuum would have by now
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_ready(client: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    for _ in range(200):
        if process.returncode is not None:
            raise RuntimeError("gongjian serve exited")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("gongjian serve did not become ready")


async def measure(url: str, requests: int, warmup: int) -> dict[str, tuple[float, float, dict[str, Any]]]:
    conn = await connect(url)
    try:
        county = await conn.fetchval("SELECT id FROM areas WHERE level = 'COUNTY'")
        user = await conn.fetchval(
            "INSERT INTO users (county_id, username, password_hash) VALUES ($1, 'bench-admin', 'x') RETURNING id",
            county,
        )
        await conn.execute(
            "INSERT INTO role_grants (county_id, user_id, role, area_id) VALUES ($1, $2, 'COUNTY_ADMIN', $1)",
            county,
            user,
        )
        today = await conn.fetchval("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")
    finally:
        await conn.close()
    secret = secrets.token_hex(32)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "GONGJIAN_SECRET": secret, "GONGJIAN_LOG_LEVEL": "WARNING"}
    gongjian = Path(sys.executable).with_name("gongjian")
    process = await asyncio.create_subprocess_exec(
        str(gongjian), "serve", "--port", str(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    token = tokens.sign(secret, int(user), 3600)[0]
    operations = contract_operations()
    area = ids.encode("County", int(county))
    cases = {
        "statistics": ("Statistics", {"areaId": area}),
        "coverage": ("Coverage", {"areaId": area}),
        "compliance": ("Compliance", {"areaId": area, "asOf": today.isoformat()}),
    }
    results: dict[str, tuple[float, float, dict[str, Any]]] = {}
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            await _wait_ready(client, process)
            for label, (name, variables) in cases.items():
                body = {"query": operations[name], "variables": variables}
                timings = []
                data: dict[str, Any] = {}
                for i in range(warmup + requests):
                    started = time.perf_counter()
                    response = await client.post("/graphql", json=body)
                    elapsed = (time.perf_counter() - started) * 1000
                    payload = response.json()
                    assert "errors" not in payload, payload
                    data = payload["data"]
                    if i >= warmup:
                        timings.append(elapsed)
                timings.sort()
                p95 = timings[min(len(timings) - 1, round(0.95 * len(timings)) - 1)]
                results[label] = (statistics.median(timings), p95, data)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
    return results


async def run_scale(server: str, times: int, requests: int, warmup: int) -> None:
    name = f"gj_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server, name)
    try:
        raw = await connect(url)
        try:
            await migrate(raw)
        finally:
            await raw.close()
        started = time.perf_counter()
        assert await load.run(url, "bench-password", today=clock.today("Asia/Shanghai"))
        await grow(url, times)
        prepared = time.perf_counter() - started
        results = await measure(url, requests, warmup)
        households = results["coverage"][2]["coverage"]["households"]
        print(f"\n## county x{times}: {households} households (prepared in {prepared:.1f} s)")
        print("| report | p50 ms | p95 ms |")
        print("|---|---:|---:|")
        for label, (p50, p95, _) in results.items():
            print(f"| {label} | {p50:.1f} | {p95:.1f} |")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10", help="comma-separated sizes of the county (default 1,10)")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL")
    if not server:
        sys.exit("bench: set DATABASE_URL to a PostgreSQL server where databases may be created")
    for times in (int(s) for s in args.scales.split(",")):
        asyncio.run(run_scale(server, times, args.requests, args.warmup))


if __name__ == "__main__":
    main()
