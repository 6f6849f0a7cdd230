"""Benchmark: `serviceOrders { totalCount }` call after call at 100,000 orders, to show that
no call falls off a generic-plan cliff (PostgreSQL may switch a prepared statement to a
generic plan from the sixth run; the pool plans every run for its parameters).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/service_orders.py

It creates a scratch database, seeds one county with `--orders` orders spread over 1,000
households, starts `gongjian serve`, and sends the contract's `ServiceOrders` `--calls`
times in a row as a resident (their household's orders) and as community staff (all of
them), printing the latency of the first five calls and of the rest. The database is
dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db.migrate import migrate  # noqa: E402 - after the path is set
from gongjian import tokens  # noqa: E402
from tests import builders  # noqa: E402
from tests.support import contract_operations  # noqa: E402

SERVICE_ORDERS = contract_operations()["ServiceOrders"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


async def _seed(url: str, orders: int) -> builders.World:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
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
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        sys.exit("bench: set DATABASE_URL to a PostgreSQL server (a scratch database is created there)")
    name = f"gj_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    server = None
    try:
        w = await _seed(url, args.orders)
        secret = secrets.token_urlsafe(32)
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": url, "GONGJIAN_SECRET": secret, "GONGJIAN_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any request
            [sys.executable, "-m", "gongjian.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            for _ in range(300):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            else:
                sys.exit("bench: the server did not become ready")
            print(f"{args.orders} orders over 1,000 households; {args.calls} calls each")
            print(
                f"{'viewer':<10} {'totalCount':>10} {'calls 1-5 p50 ms':>17} {'calls 6+ p50 ms':>16} {'slowest ms':>11}"
            )
            for who in ("resident", "staff"):
                token = tokens.sign(secret, w.users[who], 3600)[0]
                latencies: list[float] = []
                total = 0
                for _ in range(args.calls):
                    started = time.perf_counter()
                    response = await http.post(
                        "/graphql",
                        json={"query": SERVICE_ORDERS, "variables": {"first": 20}},
                        headers={"authorization": f"Bearer {token}"},
                    )
                    latencies.append((time.perf_counter() - started) * 1000)
                    total = response.json()["data"]["serviceOrders"]["totalCount"]
                print(
                    f"{who:<10} {total:>10} {_median(latencies[:5]):>17.1f} {_median(latencies[5:]):>16.1f} "
                    f"{max(latencies):>11.1f}"
                )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
