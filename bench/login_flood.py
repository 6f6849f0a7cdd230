"""Benchmark: what a flood of sign-ins does to everybody else.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/login_flood.py

It creates a scratch database, starts a real `gongjian serve` on it (rate limits on sign-ins
turned off, so that every attempt costs its argon2 check), and measures a signed-in
`{ viewer { id } }` probe and `/readyz`, first idle, then while `--clients` clients send
`login` with unknown usernames back to back. The target: the probe's p50 under the flood
within 2x of idle, and `/readyz` always 200. The database is dropped at the end.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

LOGIN = common.OPERATIONS["Login"]
PROBE = "{ viewer { id } }"


async def _probe(http: httpx.AsyncClient, token: str, n: int) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    ready: list[int] = []
    for _ in range(n):
        started = time.perf_counter()
        response = await common.graphql(http, PROBE, token=token)
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
        ready.append((await http.get("/readyz")).status_code)
        await asyncio.sleep(0.02)
    return latencies, ready


async def _flood(base: str, stop: asyncio.Event, counts: list[int]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while not stop.is_set():
            variables = {"username": f"nobody-{secrets.token_hex(4)}", "password": "guess"}
            await common.graphql(http, LOGIN, variables)
            counts[0] += 1


async def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--probes", type=int, default=100)
    args = parser.parse_args()
    async with common.scratch_database() as url, common.serve(url, env=common.RATE_LIMITS_OFF) as server:
        async with common.connection(url) as conn:
            county = await conn.fetchval("INSERT INTO areas (level, name) VALUES ('COUNTY', '基准县') RETURNING id")
            user = await conn.fetchval(
                "INSERT INTO users (county_id, username, password_hash) VALUES ($1, 'probe', 'x') RETURNING id", county
            )
        token = server.token(user)
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
            await _probe(http, token, 10)  # warm-up
            idle, idle_ready = await _probe(http, token, args.probes)
            stop, counts = asyncio.Event(), [0]
            flood = [asyncio.create_task(_flood(server.base, stop, counts)) for _ in range(args.clients)]
            await asyncio.sleep(2)
            started = time.perf_counter()
            busy, busy_ready = await _probe(http, token, args.probes)
            elapsed = time.perf_counter() - started
            stop.set()
            await asyncio.gather(*flood)
    ratio = common.percentile(busy, 0.5) / common.percentile(idle, 0.5)
    print(f"{args.clients} sign-in clients: {counts[0] / (elapsed + 2):.0f} sign-ins/s")
    print(f"{'probe':<8} {'p50 ms':>8} {'p95 ms':>8} {'/readyz not 200':>16}")
    for label, values, ready in (("idle", idle, idle_ready), ("flood", busy, busy_ready)):
        bad = sum(1 for r in ready if r != 200)
        print(f"{label:<8} {common.percentile(values, 0.5):>8.1f} {common.percentile(values, 0.95):>8.1f} {bad:>16}")
    print(f"p50 under the flood: {ratio:.2f}x idle (target: at most 2x)")


if __name__ == "__main__":
    asyncio.run(main())
