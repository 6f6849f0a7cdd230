"""Soak: a real `gongjian serve` under a mixed load for `--seconds` (10 minutes by default),
then every invariant checked, with memory and error figures.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/soak.py [--seconds 600]

It creates a scratch database, seeds one county (tests/builders.py's small world, a large
resource and need, 300 activities of capacity 3), starts the server with rate limits off,
and runs at once: readers (Viewer, ServiceOrders, Areas, Activities), residents placing
orders that staff dispatch, staff allocating 1 at a time, users signing up for random
activities, and a subscriber to the community's order events over graphql-transport-ws.
Afterwards it checks: the ledger (each resource's remaining and each need's fulfilled
agree with the exchanges that are not cancelled), no activity over capacity and no double
sign-up, one PLACED event per order, every order event of the run delivered exactly once
to the subscriber; and it prints requests per kind, answers by status and error code, and
the server's resident memory at the start and the end. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from httpx_ws import aconnect_ws

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db.migrate import migrate  # noqa: E402 - after the path is set
from gongjian import tokens  # noqa: E402
from resolvers import ids  # noqa: E402
from tests import builders  # noqa: E402
from tests.support import contract_operations  # noqa: E402

OPS = contract_operations()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Tally:
    def __init__(self) -> None:
        self.requests: collections.Counter[str] = collections.Counter()
        self.answers: collections.Counter[str] = collections.Counter()

    def count(self, kind: str, response: httpx.Response) -> dict[str, Any]:
        self.requests[kind] += 1
        body: dict[str, Any] = response.json()
        codes = [e.get("extensions", {}).get("code", "?") for e in body.get("errors", [])]
        payload = next(iter((body.get("data") or {}).values()), None)
        if isinstance(payload, dict):
            codes += [f"userError:{e['code']}" for e in payload.get("userErrors", [])]
        self.answers[f"{response.status_code} {','.join(codes) or 'ok'}"] += 1
        return body


async def _seed(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        w = await builders.world(conn)
        await builders.service_categories(conn)
        resource = await builders.resource(conn, w.unit, [w.community], quantity=1_000_000)
        need = await builders.need(conn, w.community, quantity=1_000_000)
        hosts = [w.unit]
        activities = [
            await builders.activity(conn, w.county, w.community, hosts, capacity=3, title=f"活动{i}")
            for i in range(300)
        ]
        return {"w": w, "resource": resource, "need": need, "activities": activities}
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--readers", type=int, default=4)
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        sys.exit("bench: set DATABASE_URL to a PostgreSQL server (a scratch database is created there)")
    name = f"gj_soak_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    server = None
    try:
        seed = await _seed(url)
        w: builders.World = seed["w"]
        secret = secrets.token_urlsafe(32)
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "GONGJIAN_SECRET": secret,
            "GONGJIAN_LOG_LEVEL": "WARNING",
            "GONGJIAN_RATE_MUTATIONS_PER_ACCOUNT": "0",
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
        token = {k: tokens.sign(secret, u, 24 * 3600)[0] for k, u in w.users.items()}
        tally = Tally()
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for _ in range(300):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            else:
                sys.exit("bench: the server did not become ready")
            rss_start = _rss_kib(server.pid)
            until = time.monotonic() + args.seconds
            seen_events: list[str] = []
            subscribed = asyncio.Event()

            async def gql(kind: str, who: str, op: str, variables: dict[str, Any]) -> dict[str, Any]:
                response = await http.post(
                    "/graphql",
                    json={"query": OPS[op], "variables": variables},
                    headers={"authorization": f"Bearer {token[who]}"},
                )
                return tally.count(kind, response)

            async def reader(n: int) -> None:
                rng = random.Random(n)
                community = ids.encode("Community", w.community)
                while time.monotonic() < until:
                    choices: list[tuple[str, dict[str, Any]]] = [
                        ("Viewer", {}),
                        ("ServiceOrders", {"first": 20}),
                        ("Areas", {"parentId": community}),
                        ("Activities", {"communityId": community, "first": 20}),
                    ]
                    op, variables = rng.choice(choices)
                    await gql("read", rng.choice(["staff", "resident", "admin"]), op, variables)

            async def orders() -> None:
                household = ids.encode("Household", w.household)
                cadre = ids.encode("Person", w.people["cadre"])
                while time.monotonic() < until:
                    body = await gql(
                        "placeOrder",
                        "resident",
                        "PlaceOrder",
                        {"householdId": household, "title": "漏水", "category": "REPAIR"},
                    )
                    order = ((body.get("data") or {}).get("placeOrder") or {}).get("order")
                    if order:
                        await gql(
                            "dispatchOrder", "staff", "DispatchOrder", {"orderId": order["id"], "assigneeId": cadre}
                        )

            async def allocations() -> None:
                variables = {
                    "resourceId": ids.encode("Resource", seed["resource"]),
                    "needId": ids.encode("Need", seed["need"]),
                    "quantity": 1,
                }
                while time.monotonic() < until:
                    await gql("allocate", "staff", "Allocate", variables)

            async def sign_ups(n: int) -> None:
                rng = random.Random(100 + n)
                while time.monotonic() < until:
                    activity = ids.encode("Activity", rng.choice(seed["activities"]))
                    who = rng.choice(["resident", "neighbour", "head", "cadre", "staff"])
                    await gql("signUp", who, "SignUp", {"activityId": activity})

            async def subscriber() -> None:
                async with httpx.AsyncClient() as client:
                    connecting: Any = aconnect_ws(f"{base}/graphql", client, subprotocols=["graphql-transport-ws"])
                    async with connecting as ws:
                        await ws.send_json({"type": "connection_init", "payload": {"token": token["staff"]}})
                        await ws.receive_json()
                        variables = {"communityId": ids.encode("Community", w.community)}
                        await ws.send_json(
                            {
                                "id": "1",
                                "type": "subscribe",
                                "payload": {"query": OPS["OrderEvents"], "variables": variables},
                            }
                        )
                        subscribed.set()
                        while True:
                            message = await ws.receive_json()
                            if message.get("type") != "next" or "errors" in message["payload"]:
                                tally.answers[f"subscription {message}"[:120]] += 1
                                return
                            event = message["payload"]["data"]["orderEvents"]
                            seen_events.append(f"{event['order']['id']}:{event['action']}")

            listening = asyncio.create_task(subscriber())
            await subscribed.wait()
            await asyncio.sleep(1.0)  # the listener connects
            await asyncio.gather(
                *(reader(i) for i in range(args.readers)), orders(), allocations(), *(sign_ups(i) for i in range(2))
            )
            await asyncio.sleep(2.0)  # the last events
            listening.cancel()
            rss_end = _rss_kib(server.pid)

        conn = await asyncpg.connect(url)
        try:
            problems = []
            ledger = await conn.fetch(
                "SELECT r.id, r.quantity - r.remaining AS given, coalesce(sum(e.quantity) FILTER"
                " (WHERE e.status <> 'CANCELLED'), 0) AS ledger FROM resources r LEFT JOIN exchanges e"
                " ON e.resource_id = r.id GROUP BY r.id"
            )
            problems += [
                f"resource {r['id']}: {r['given']} given, ledger {r['ledger']}"
                for r in ledger
                if r["given"] != r["ledger"]
            ]
            needs = await conn.fetch(
                "SELECT n.id, n.fulfilled, coalesce(sum(e.quantity) FILTER (WHERE e.status <> 'CANCELLED'), 0)"
                " AS ledger FROM needs n LEFT JOIN exchanges e ON e.need_id = n.id GROUP BY n.id"
            )
            problems += [
                f"need {r['id']}: {r['fulfilled']} vs {r['ledger']}" for r in needs if r["fulfilled"] != r["ledger"]
            ]
            over = await conn.fetchval(
                "SELECT count(*) FROM (SELECT a.id FROM activities a JOIN signups s ON s.activity_id = a.id"
                " WHERE s.cancelled_at IS NULL GROUP BY a.id, a.capacity HAVING count(*) > a.capacity) AS x"
            )
            if over:
                problems.append(f"{over} activities over capacity")
            orders_without_one_placed = await conn.fetchval(
                "SELECT count(*) FROM service_orders o WHERE (SELECT count(*) FROM order_events e"
                " WHERE e.order_id = o.id AND e.action = 'PLACED') <> 1"
            )
            if orders_without_one_placed:
                problems.append(f"{orders_without_one_placed} orders without exactly one PLACED event")
            events = await conn.fetchval("SELECT count(*) FROM order_events")
            duplicates = len(seen_events) - len(set(seen_events))
            if duplicates or len(seen_events) != events:
                problems.append(f"{events} order events, {len(seen_events)} delivered, {duplicates} duplicates")
        finally:
            await conn.close()
        print(f"soak: {args.seconds:.0f} s, {sum(tally.requests.values())} requests")
        for kind, n in sorted(tally.requests.items()):
            print(f"  {kind:<14} {n:>8}  {n / args.seconds:>7.1f}/s")
        print("answers:")
        for answer, n in tally.answers.most_common():
            print(f"  {n:>8}  {answer}")
        print(f"server memory (RSS): {rss_start / 1024:.1f} MiB at the start, {rss_end / 1024:.1f} MiB at the end")
        print("invariants: " + ("all hold" if not problems else "VIOLATED: " + "; ".join(problems)))
        if problems:
            sys.exit(1)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
