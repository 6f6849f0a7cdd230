"""Benchmark of the order workflow: orders placed and dispatched per second by concurrent
clients, and the delay from a transition to its event at a subscriber.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/orders.py

It creates a fresh database on that server, loads the demo, starts two `gongjian serve`
processes (A and B), subscribes to `orderEvents` of the demo community on A, and lets
`--clients` clients (each with its own connection) place an order and dispatch it in a
loop on B for `--seconds`. Every event that reaches the subscriber gives one delay:
arrival time minus the event's `at` (taken inside the transition's transaction; same
host clock). Then the same is measured once more with one client, on an idle system.
The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from httpx_ws import aconnect_ws

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from resolvers import ids  # noqa: E402 - after the path is set

GONGJIAN = Path(sys.executable).parent / "gongjian"
PASSWORD = "bench-password-1"  # noqa: S105 - the throwaway demo database's password

PLACE = """
mutation($householdId: ID!, $key: String) {
  placeOrder(input: {householdId: $householdId, title: "楼道灯不亮", category: "REPAIR", idempotencyKey: $key}) {
    order { id } userErrors { code }
  }
}"""
DISPATCH = """
mutation($orderId: ID!, $assigneeId: ID!) {
  dispatchOrder(input: {orderId: $orderId, assigneeId: $assigneeId}) { order { id status } userErrors { code } }
}"""
SUBSCRIBE = "subscription($c: ID!) { orderEvents(communityId: $c) { action at order { id number status } } }"
LOGIN = "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { token } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(url: str, folder: Path) -> tuple[asyncio.subprocess.Process, str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "GONGJIAN_LOG_LEVEL": "WARNING", "GONGJIAN_DATA_DIR": str(folder)}
    env.setdefault("GONGJIAN_SECRET", "bench-secret-" + "x" * 32)
    env["GONGJIAN_POOL_MAX"] = "20"
    process = await asyncio.create_subprocess_exec(
        str(GONGJIAN), "serve", "--port", str(port), env=env, stderr=asyncio.subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            try:
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return process, base
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("gongjian serve did not become ready")


async def _gql(client: httpx.AsyncClient, base: str, query: str, variables: dict[str, Any], token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(f"{base}/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    if "errors" in body:
        raise RuntimeError(body["errors"])
    return body["data"]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _subscriber(base: str, token: str, community: str, delays: list[float], ready: asyncio.Event) -> None:
    async with httpx.AsyncClient() as client:
        connecting: Any = aconnect_ws(f"{base}/graphql", client, subprotocols=["graphql-transport-ws"])
        async with connecting as ws:
            await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
            await ws.receive_json()
            await ws.send_json(
                {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"c": community}}}
            )
            ready.set()
            while True:
                message = await ws.receive_json()
                arrived = datetime.datetime.now(datetime.UTC)
                if message.get("type") != "next":
                    raise RuntimeError(message)
                at = datetime.datetime.fromisoformat(message["payload"]["data"]["orderEvents"]["at"])
                delays.append((arrived - at).total_seconds() * 1000)


async def _client(
    base: str, token: str, households: list[str], cadres: list[str], until: float, done: list[int], seed: int
) -> None:
    import random

    rng = random.Random(seed)
    async with httpx.AsyncClient(timeout=30) as client:
        while time.monotonic() < until:
            placed = await _gql(client, base, PLACE, {"householdId": rng.choice(households)}, token)
            order = placed["placeOrder"]["order"]["id"]
            dispatched = await _gql(client, base, DISPATCH, {"orderId": order, "assigneeId": rng.choice(cadres)}, token)
            assert dispatched["dispatchOrder"]["userErrors"] == [], dispatched
            done.append(1)


async def _round(
    a: str, b: str, token: str, community: str, households: list[str], cadres: list[str], clients: int, seconds: float
) -> dict[str, Any]:
    delays: list[float] = []
    ready = asyncio.Event()
    subscriber = asyncio.create_task(_subscriber(a, token, community, delays, ready))
    await ready.wait()
    await asyncio.sleep(1.0)  # let instance A start listening
    done: list[int] = []
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*[_client(b, token, households, cadres, until, done, i) for i in range(clients)])
    elapsed = time.monotonic() - started
    await asyncio.sleep(1.0)  # the last events
    subscriber.cancel()
    pairs = len(done)
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "orders_placed_and_dispatched": pairs,
        "placed_per_s": round(pairs / elapsed, 1),
        "transitions_per_s": round(2 * pairs / elapsed, 1),
        "events": len(delays),
        "delay_ms_p50": round(statistics.median(delays), 1) if delays else None,
        "delay_ms_p95": round(_percentile(delays, 95), 1) if delays else None,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL")
    if not server:
        raise SystemExit("set DATABASE_URL to a PostgreSQL server the benchmark may create a database on")
    name = f"gj_bench_orders_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server)._replace(path="/" + name))
    processes: list[asyncio.subprocess.Process] = []
    folder = Path(tempfile.mkdtemp(prefix=name))
    try:
        env = {**os.environ, "DATABASE_URL": url, "GONGJIAN_DATA_DIR": str(folder)}
        migrate = await asyncio.create_subprocess_exec(str(GONGJIAN), "migrate", env=env)
        await migrate.wait()
        demo = await asyncio.create_subprocess_exec(
            str(GONGJIAN), "demo", "--password", PASSWORD, env=env, stderr=asyncio.subprocess.DEVNULL
        )
        await demo.wait()
        db = await asyncpg.connect(url)
        community = await db.fetchval(
            "SELECT g.area_id FROM role_grants g JOIN users u ON u.id = g.user_id WHERE u.username = 'staff'"
        )
        households = [
            ids.encode("Household", r["id"])
            for r in await db.fetch(
                "SELECT h.id FROM households h JOIN areas b ON b.id = h.building_id WHERE b.path[3] = $1", community
            )
        ]
        cadres = [ids.encode("Person", r["id"]) for r in await db.fetch("SELECT id FROM persons WHERE party_member")]
        await db.close()
        pa, a = await _serve(url, folder / "a")
        pb, b = await _serve(url, folder / "b")
        processes += [pa, pb]
        async with httpx.AsyncClient() as client:
            token = (await _gql(client, b, LOGIN, {"u": "staff", "p": PASSWORD}))["login"]["token"]
        community_id = ids.encode("Community", community)
        loaded = await _round(a, b, token, community_id, households, cadres, args.clients, args.seconds)
        idle = await _round(a, b, token, community_id, households, cadres, 1, min(args.seconds, 10))
        print(f"under load ({args.clients} clients):", loaded)
        print("one client:", idle)
    finally:
        for process in processes:
            process.terminate()
            await process.wait()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
