"""Benchmark: `serviceOrders { totalCount }` call after call at 100,000 orders, to show that
no call falls off a generic-plan cliff (PostgreSQL may switch a prepared statement to a
generic plan from the sixth run; the pool plans every run for its parameters).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/service_orders.py

It creates a scratch database, seeds one county with `--orders` orders spread over 1,000
households, starts `gongjian serve`, and sends the contract's `ServiceOrders` `--calls`
times in a row as a resident (their household's orders) and as community staff (all of
them), printing the latency of the first five calls and of the rest (`-` when there are
no more than five calls). The database is dropped at the end.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from tests import builders

SERVICE_ORDERS = common.OPERATIONS["ServiceOrders"]


async def _seed(url: str, orders: int) -> builders.World:
    async with common.connection(url, migrated=True) as conn:
        w = await builders.world(conn)
        await builders.service_categories(conn)
        households = [w.household] + await builders.households_in(conn, w.building, 999, residents=1)
        await conn.execute(
            """
            INSERT INTO service_orders (county_id, number, household_id, community_id, title, category, placed_by)
            SELECT $1, 'BENCH-' || n, ($2::bigint[])[1 + n % array_length($2::bigint[], 1)], $3,
                   '水管漏水', 'REPAIR', $4
            FROM generate_series(1, $5) AS n
            """,
            w.county,
            households,
            w.community,
            w.users["resident"],
            orders,
        )
        await conn.execute("ANALYZE")
        return w


async def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    async with common.scratch_database() as url:
        w = await _seed(url, args.orders)
        async with common.serve(url) as server, httpx.AsyncClient(base_url=server.base, timeout=120) as http:
            print(f"{args.orders} orders over 1,000 households; {args.calls} calls each")
            print(
                f"{'viewer':<10} {'totalCount':>10} {'calls 1-5 p50 ms':>17} {'calls 6+ p50 ms':>16} {'slowest ms':>11}"
            )
            for who in ("resident", "staff"):
                token = server.token(w.users[who])
                latencies: list[float] = []
                total = 0
                for _ in range(args.calls):
                    started = time.perf_counter()
                    response = await common.graphql(http, SERVICE_ORDERS, {"first": 20}, token)
                    latencies.append((time.perf_counter() - started) * 1000)
                    total = response.json()["data"]["serviceOrders"]["totalCount"]
                first = common.percentile(latencies[:5], 0.5)
                # calls 6+ exist only when more than five were made
                rest = f"{common.percentile(latencies[5:], 0.5):.1f}" if len(latencies) > 5 else "-"
                print(f"{who:<10} {total:>10} {first:>17.1f} {rest:>16} {max(latencies):>11.1f}")


if __name__ == "__main__":
    asyncio.run(main())
