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

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Final

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from db.pool import connect
from resolvers import ids

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
    area = ids.encode("County", int(county))
    cases = {
        "statistics": ("Statistics", {"areaId": area}),
        "coverage": ("Coverage", {"areaId": area}),
        "compliance": ("Compliance", {"areaId": area, "asOf": today.isoformat()}),
    }
    results: dict[str, tuple[float, float, dict[str, Any]]] = {}
    async with common.serve(url) as server, httpx.AsyncClient(base_url=server.base, timeout=60) as client:
        token = server.token(int(user))
        for label, (name, variables) in cases.items():
            timings = []
            data: dict[str, Any] = {}
            for i in range(warmup + requests):
                started = time.perf_counter()
                response = await common.graphql(client, common.OPERATIONS[name], variables, token)
                elapsed = (time.perf_counter() - started) * 1000
                payload = response.json()
                assert "errors" not in payload, payload
                data = payload["data"]
                if i >= warmup:
                    timings.append(elapsed)
            results[label] = (statistics.median(timings), common.percentile(timings, 0.95), data)
    return results


async def run_scale(times: int, requests: int, warmup: int) -> None:
    async with common.scratch_database() as url:
        started = time.perf_counter()
        await common.load_demo(url, "bench-password")
        await grow(url, times)
        prepared = time.perf_counter() - started
        results = await measure(url, requests, warmup)
    households = results["coverage"][2]["coverage"]["households"]
    print(f"\n## county x{times}: {households} households (prepared in {prepared:.1f} s)")
    print("| report | p50 ms | p95 ms |")
    print("|---|---:|---:|")
    for label, (p50, p95, _) in results.items():
        print(f"| {label} | {p50:.1f} | {p95:.1f} |")


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--scales", default="1,10", help="comma-separated sizes of the county (default 1,10)")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    common.server_url()
    for times in (int(s) for s in args.scales.split(",")):
        asyncio.run(run_scale(times, args.requests, args.warmup))


if __name__ == "__main__":
    main()
