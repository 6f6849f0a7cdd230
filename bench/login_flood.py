"""Benchmark: what a flood of sign-ins does to everybody else.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/login_flood.py

It creates a scratch database, starts a real `gongjian serve` on it (rate limits on sign-ins
turned off, so that every attempt costs its argon2 check), and measures a signed-in
`{ viewer { id } }` probe and `/readyz`, first idle, then while `--clients` clients send
`login` with unknown usernames back to back. The target: the probe's p50 under the flood
within 2x of idle, and `/readyz` always 200. The database is dropped at the end.
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

from gongjian import tokens  # noqa: E402 - after the path is set
from tests.support import contract_operations  # noqa: E402

LOGIN = contract_operations()["Login"]
PROBE = "{ viewer { id } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


async def _probe(http: httpx.AsyncClient, token: str, n: int) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    ready: list[int] = []
    for _ in range(n):
        started = time.perf_counter()
        response = await http.post("/graphql", json={"query": PROBE}, headers={"authorization": f"Bearer {token}"})
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
        ready.append((await http.get("/readyz")).status_code)
        await asyncio.sleep(0.02)
    return latencies, ready


async def _flood(base: str, stop: asyncio.Event, counts: list[int]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while not stop.is_set():
            variables = {"username": f"nobody-{secrets.token_hex(4)}", "password": "guess"}
            await http.post("/graphql", json={"query": LOGIN, "variables": variables})
            counts[0] += 1


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--probes", type=int, default=100)
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        sys.exit("bench: set DATABASE_URL to a PostgreSQL server (a scratch database is created there)")
    name = f"gj_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    secret = secrets.token_urlsafe(32)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "GONGJIAN_SECRET": secret,
        "GONGJIAN_LOG_LEVEL": "WARNING",
        "GONGJIAN_RATE_LOGINS_PER_ADDRESS": "0",
        "GONGJIAN_RATE_MUTATIONS_PER_ADDRESS": "0",
    }
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any request
        [sys.executable, "-m", "gongjian.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for _ in range(200):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            else:
                sys.exit("bench: the server did not become ready")
            conn = await asyncpg.connect(url)
            county = await conn.fetchval("INSERT INTO areas (level, name) VALUES ('COUNTY', '基准县') RETURNING id")
            user = await conn.fetchval(
                "INSERT INTO users (county_id, username, password_hash) VALUES ($1, 'probe', 'x') RETURNING id", county
            )
            await conn.close()
            token = tokens.sign(secret, user, 3600)[0]
            await _probe(http, token, 10)  # warm-up
            idle, idle_ready = await _probe(http, token, args.probes)
            stop, counts = asyncio.Event(), [0]
            flood = [asyncio.create_task(_flood(base, stop, counts)) for _ in range(args.clients)]
            await asyncio.sleep(2)
            started = time.perf_counter()
            busy, busy_ready = await _probe(http, token, args.probes)
            elapsed = time.perf_counter() - started
            stop.set()
            await asyncio.gather(*flood)
        ratio = _percentile(busy, 0.5) / _percentile(idle, 0.5)
        print(f"{args.clients} sign-in clients: {counts[0] / (elapsed + 2):.0f} sign-ins/s")
        print(f"{'probe':<8} {'p50 ms':>8} {'p95 ms':>8} {'/readyz not 200':>16}")
        for label, values, ready in (("idle", idle, idle_ready), ("flood", busy, busy_ready)):
            bad = sum(1 for r in ready if r != 200)
            print(f"{label:<8} {_percentile(values, 0.5):>8.1f} {_percentile(values, 0.95):>8.1f} {bad:>16}")
        print(f"p50 under the flood: {ratio:.2f}x idle (target: at most 2x)")
    finally:
        server.terminate()
        server.wait(timeout=30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
