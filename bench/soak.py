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

import asyncio
import collections
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from httpx_ws import aconnect_ws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from resolvers import ids
from tests import builders

OPS = common.OPERATIONS
# what must never happen, each with the statement that counts its cases
COUNTED_VIOLATIONS = [
    (
        "activities over capacity",
        "SELECT count(*) FROM (SELECT a.id FROM activities a JOIN signups s ON s.activity_id = a.id"
        " WHERE s.cancelled_at IS NULL GROUP BY a.id, a.capacity HAVING count(*) > a.capacity) AS x",
    ),
    (
        "double sign-ups",
        "SELECT count(*) FROM (SELECT 1 FROM signups WHERE cancelled_at IS NULL"
        " GROUP BY activity_id, person_id HAVING count(*) > 1) AS x",
    ),
    ("repeated order numbers", "SELECT count(*) - count(DISTINCT (county_id, number)) FROM service_orders"),
    (
        "orders without exactly one PLACED event",
        "SELECT count(*) FROM service_orders o WHERE (SELECT count(*) FROM order_events e"
        " WHERE e.order_id = o.id AND e.action = 'PLACED') <> 1",
    ),
]


class Tally:
    def __init__(self) -> None:
        self.requests: collections.Counter[str] = collections.Counter()
        self.answers: collections.Counter[str] = collections.Counter()

    def count(self, kind: str, response: httpx.Response) -> dict[str, Any]:
        self.requests[kind] += 1
        try:
            body: dict[str, Any] = response.json()
        except ValueError:  # not JSON: a plain-text 500 or a proxy's page
            self.answers[f"{response.status_code} not JSON: {response.text[:60]!r}"] += 1
            return {}
        codes = [e.get("extensions", {}).get("code", "?") for e in body.get("errors", [])]
        payload = next(iter((body.get("data") or {}).values()), None)
        if isinstance(payload, dict):
            codes += [f"userError:{e['code']}" for e in payload.get("userErrors", [])]
        self.answers[f"{response.status_code} {','.join(codes) or 'ok'}"] += 1
        return body


async def _seed(url: str) -> dict[str, Any]:
    async with common.connection(url, migrated=True) as conn:
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


async def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--readers", type=int, default=4)
    args = parser.parse_args()
    async with common.scratch_database("gj_soak") as url:
        seed = await _seed(url)
        w: builders.World = seed["w"]
        async with (
            common.serve(url, env=common.RATE_LIMITS_OFF) as server,
            httpx.AsyncClient(base_url=server.base, timeout=60) as http,
        ):
            token = {k: server.token(u) for k, u in w.users.items()}
            tally = Tally()
            rss_start = server.rss_kib()
            until = time.monotonic() + args.seconds
            seen_events: list[str] = []
            subscribed = asyncio.Event()

            async def gql(kind: str, who: str, op: str, variables: dict[str, Any]) -> dict[str, Any]:
                return tally.count(kind, await common.graphql(http, OPS[op], variables, token[who]))

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
                    ws_url = f"{server.base}/graphql"
                    connecting: Any = aconnect_ws(ws_url, client, subprotocols=["graphql-transport-ws"])
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
            rss_end = server.rss_kib()

        async with common.connection(url) as conn:
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
            for label, count in COUNTED_VIOLATIONS:
                violations = await conn.fetchval(count)
                if violations:
                    problems.append(f"{violations} {label}")
            events = await conn.fetchval("SELECT count(*) FROM order_events")
            duplicates = len(seen_events) - len(set(seen_events))
            if duplicates or len(seen_events) != events:
                problems.append(f"{events} order events, {len(seen_events)} delivered, {duplicates} duplicates")
        print(f"soak: {args.seconds:.0f} s, {sum(tally.requests.values())} requests")
        for kind, n in sorted(tally.requests.items()):
            print(f"  {kind:<14} {n:>8}  {n / args.seconds:>7.1f}/s")
        print("answers:")
        for answer, n in tally.answers.most_common():
            print(f"  {n:>8}  {answer}")
        print(f"server memory (RSS): {rss_start / 1024:.1f} MiB at the start, {rss_end / 1024:.1f} MiB at the end")
        print("invariants: " + ("all hold" if not problems else "VIOLATED: " + "; ".join(problems)))
        server_errors = sum(n for answer, n in tally.answers.items() if answer[:1] == "5")
        internal = sum(n for answer, n in tally.answers.items() if "INTERNAL_SERVER_ERROR" in answer)
        print(f"errors: {server_errors} answers 5xx, {internal} with INTERNAL_SERVER_ERROR")
        if problems or server_errors or internal:
            sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
