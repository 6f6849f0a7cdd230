"""Benchmark `allocate`: allocations per second and latency under concurrent clients,
against a real `gongjian serve` process over HTTP.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/allocate.py

It creates a scratch database on that server, starts `gongjian serve` on it, seeds one
county, then runs two scenarios with `--clients` concurrent clients, each sending the
contract's `Allocate` operation one after the other for `--seconds`:

- one resource: every client allocates 1 from the same resource to the same need
  (all requests queue on one row lock: the worst case for the guards);
- many resources: each request picks one of `--resources` resource/need pairs at random.

Afterwards it checks the invariant (allocated total == quantity - remaining, never
negative) and prints allocations/s, refusals, p50/p95/p99 latency. The scratch database
is dropped and the server stopped at the end.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from resolvers import ids

ALLOCATE = common.OPERATIONS["Allocate"]


@dataclass
class Scenario:
    name: str
    pairs: list[tuple[str, str]]
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    refused: int = 0
    elapsed: float = 0.0


async def _seed(url: str, pairs: int, quantity: int) -> tuple[int, list[tuple[int, int]]]:
    """A county with one community, a unit and a staff user; `pairs` resource/need pairs."""
    async with common.connection(url) as conn:
        county = await conn.fetchval("INSERT INTO areas (level, name) VALUES ('COUNTY', '基准县') RETURNING id")
        town = await conn.fetchval(
            "INSERT INTO areas (level, name, parent_id) VALUES ('TOWN', '基准街道', $1) RETURNING id", county
        )
        community = await conn.fetchval(
            "INSERT INTO areas (level, name, parent_id) VALUES ('COMMUNITY', '基准社区', $1) RETURNING id", town
        )
        unit = await conn.fetchval(
            "INSERT INTO organisations (county_id, kind, name) VALUES ($1, 'GOVERNMENT_UNIT', '基准单位') RETURNING id",
            county,
        )
        staff = await conn.fetchval(
            "INSERT INTO users (county_id, username, password_hash) VALUES ($1, 'bench-staff', 'x') RETURNING id",
            county,
        )
        await conn.execute(
            "INSERT INTO role_grants (county_id, user_id, role, area_id) VALUES ($1, $2, 'COMMUNITY_STAFF', $3)",
            county,
            staff,
            community,
        )
        made: list[tuple[int, int]] = []
        for i in range(pairs):
            resource = await conn.fetchval(
                "INSERT INTO resources (county_id, provider_id, title, category, quantity, remaining, unit) "
                "VALUES ($1, $2, $3, 'PARKING', $4, $4, '个') RETURNING id",
                county,
                unit,
                f"车位{i}",
                quantity,
            )
            await conn.execute("INSERT INTO resource_communities VALUES ($1, $2)", resource, community)
            need = await conn.fetchval(
                "INSERT INTO needs (county_id, area_id, community_id, title, category, quantity) "
                "VALUES ($1, $2, $2, $3, 'PARKING', $4) RETURNING id",
                county,
                community,
                f"需求{i}",
                quantity,
            )
            made.append((resource, need))
        return staff, made


async def _run(base: str, token: str, scenario: Scenario, clients: int, seconds: float) -> None:
    rng = random.Random(1)
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

        async def client() -> None:
            while time.perf_counter() < deadline:
                resource, need = rng.choice(scenario.pairs)
                variables = {"resourceId": resource, "needId": need, "quantity": 1}
                started = time.perf_counter()
                response = await common.graphql(http, ALLOCATE, variables, token)
                scenario.latencies.append(time.perf_counter() - started)
                payload = response.json()["data"]["allocate"]
                if payload["userErrors"]:
                    scenario.refused += 1
                else:
                    scenario.ok += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        scenario.elapsed = time.perf_counter() - started


async def _check(url: str) -> None:
    async with common.connection(url) as conn:
        bad = await conn.fetchval(
            "SELECT count(*) FROM resources r WHERE r.remaining < 0 OR r.quantity - r.remaining <> "
            "(SELECT coalesce(sum(quantity), 0) FROM exchanges e WHERE e.resource_id = r.id AND status <> 'CANCELLED')"
        )
        assert bad == 0, f"{bad} resources disagree with the ledger"


async def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--resources", type=int, default=200, help="resource/need pairs of the 'many' scenario")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the server")
    parser.add_argument("--pool-max", type=int, default=20, help="GONGJIAN_POOL_MAX of the server")
    args = parser.parse_args()
    server_env = {"GONGJIAN_POOL_MAX": str(args.pool_max), **common.RATE_LIMITS_OFF}
    async with (
        common.scratch_database() as url,
        common.serve(url, env=server_env, args=["--workers", str(args.workers)]) as server,
    ):
        staff, pairs = await _seed(url, 1 + args.resources, 1_000_000)
        token = server.token(staff)
        gids = [(ids.encode("Resource", r), ids.encode("Need", n)) for r, n in pairs]
        scenarios = [Scenario("one resource", gids[:1]), Scenario(f"{args.resources} resources", gids[1:])]
        print(
            f"gongjian serve (workers={args.workers}, pool max {args.pool_max}), {args.clients} clients, "
            f"{args.seconds:.0f} s per scenario"
        )
        print(f"{'scenario':<16} {'allocations/s':>14} {'refused':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
        for scenario in scenarios:
            await _run(server.base, token, scenario, args.clients, args.seconds)
            p50, p95, p99 = (common.percentile(scenario.latencies, p) * 1000 for p in (0.5, 0.95, 0.99))
            print(
                f"{scenario.name:<16} {scenario.ok / scenario.elapsed:>14.0f} {scenario.refused:>8} "
                f"{p50:>8.1f} {p95:>8.1f} {p99:>8.1f}"
            )
        await _check(url)
        print("invariant holds: every resource's allocated total equals quantity - remaining, none negative")


if __name__ == "__main__":
    asyncio.run(main())
