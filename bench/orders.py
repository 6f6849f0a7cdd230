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

import asyncio
import contextlib
import datetime
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from httpx_ws import aconnect_ws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from resolvers import ids

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


async def _gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str) -> Any:
    response = await common.graphql(client, query, variables, token)
    body = response.json()
    if "errors" in body:
        raise RuntimeError(body["errors"])
    return body["data"]


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
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < until:
            placed = await _gql(client, PLACE, {"householdId": rng.choice(households)}, token)
            order = placed["placeOrder"]["order"]["id"]
            dispatched = await _gql(client, DISPATCH, {"orderId": order, "assigneeId": rng.choice(cadres)}, token)
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
    with contextlib.suppress(asyncio.CancelledError):
        await subscriber
    pairs = len(done)
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "orders_placed_and_dispatched": pairs,
        "placed_per_s": round(pairs / elapsed, 1),
        "transitions_per_s": round(2 * pairs / elapsed, 1),
        "events": len(delays),
        "delay_ms_p50": round(statistics.median(delays), 1) if delays else None,
        "delay_ms_p95": round(common.percentile(delays, 0.95), 1) if delays else None,
    }


async def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    secret = "bench-secret-" + "x" * 32  # both instances accept the same tokens
    async with common.scratch_database("gj_bench_orders") as url:
        await common.load_demo(url, PASSWORD)
        async with common.connection(url) as db:
            community = await db.fetchval(
                "SELECT g.area_id FROM role_grants g JOIN users u ON u.id = g.user_id WHERE u.username = 'staff'"
            )
            households = [
                ids.encode("Household", r["id"])
                for r in await db.fetch(
                    "SELECT h.id FROM households h JOIN areas b ON b.id = h.building_id WHERE b.path[3] = $1", community
                )
            ]
            members = await db.fetch(  # who may take the community's orders (README "Service orders")
                "SELECT p.id FROM persons p JOIN registrations r ON r.person_id = p.id"
                " WHERE p.party_member AND r.community_id = $1 AND r.status = 'CONFIRMED'",
                community,
            )
            cadres = [ids.encode("Person", r["id"]) for r in members]
        pool = {"GONGJIAN_POOL_MAX": "20", **common.RATE_LIMITS_OFF}
        async with (
            common.serve(url, env=pool, secret=secret) as server_a,
            common.serve(url, env=pool, secret=secret) as server_b,
        ):
            a, b = server_a.base, server_b.base
            async with httpx.AsyncClient(base_url=b) as client:
                token = await common.sign_in(client, "staff", PASSWORD)
            community_id = ids.encode("Community", community)
            loaded = await _round(a, b, token, community_id, households, cadres, args.clients, args.seconds)
            idle = await _round(a, b, token, community_id, households, cadres, 1, min(args.seconds, 10))
    print(f"under load ({args.clients} clients):", loaded)
    print("one client:", idle)


if __name__ == "__main__":
    asyncio.run(main())
