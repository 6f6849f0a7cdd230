"""Property: over any sequence of allocate, cancel, complete, withdraw and close (sent
through the API), every outcome is what a simple model predicts, and after every step
the invariants hold: 0 <= remaining <= quantity, 0 <= fulfilled <= quantity, and both
counters agree with the exchanges that are not cancelled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolvers import ids
from tests import builders as b
from tests.support import Api

RESOURCES = (5, 3, 8)
NEEDS = (6, 4)

step = st.one_of(
    st.tuples(
        st.just("allocate"),
        st.integers(0, len(RESOURCES) - 1),
        st.integers(0, len(NEEDS) - 1),
        st.integers(-1, 7),
    ),
    st.tuples(st.just("cancel"), st.integers(0, 15)),
    st.tuples(st.just("complete"), st.integers(0, 15)),
    st.tuples(st.just("withdraw"), st.integers(0, len(RESOURCES) - 1)),
    st.tuples(st.just("close"), st.integers(0, len(NEEDS) - 1)),
)


@dataclass
class Model:
    remaining: list[int] = field(default_factory=lambda: list(RESOURCES))
    withdrawn: list[bool] = field(default_factory=lambda: [False] * len(RESOURCES))
    fulfilled: list[int] = field(default_factory=lambda: [0] * len(NEEDS))
    closed: list[bool] = field(default_factory=lambda: [False] * len(NEEDS))
    # (resource index, need index, quantity, status, global id)
    exchanges: list[list[Any]] = field(default_factory=list)

    def allocate(self, r: int, n: int, q: int) -> str | None:
        if q < 1:
            return "INVALID"
        if self.closed[n] or self.withdrawn[r]:
            return "INVALID_STATE"
        if q > self.remaining[r]:
            return "INSUFFICIENT_QUANTITY"
        if q > NEEDS[n] - self.fulfilled[n]:
            return "EXCEEDS_NEED"
        self.remaining[r] -= q
        self.fulfilled[n] += q
        return None

    def settle(self, index: int, to: str) -> str | None:
        exchange = self.exchanges[index]
        if exchange[3] != "ALLOCATED":
            return "INVALID_STATE"
        exchange[3] = to
        if to == "CANCELLED":
            self.remaining[exchange[0]] += exchange[2]
            self.fulfilled[exchange[1]] -= exchange[2]
        return None


INVARIANTS = """
SELECT
  (SELECT count(*) FROM resources r WHERE r.id = ANY($1::bigint[]) AND (
      r.remaining NOT BETWEEN 0 AND r.quantity OR r.quantity - r.remaining <> (
          SELECT coalesce(sum(e.quantity), 0) FROM exchanges e WHERE e.resource_id = r.id AND e.status <> 'CANCELLED')))
  +
  (SELECT count(*) FROM needs n WHERE n.id = ANY($2::bigint[]) AND (
      n.fulfilled NOT BETWEEN 0 AND n.quantity OR n.fulfilled <> (
          SELECT coalesce(sum(e.quantity), 0) FROM exchanges e WHERE e.need_id = n.id AND e.status <> 'CANCELLED')))
"""


@pytest.fixture
async def world(conn: asyncpg.Connection) -> b.World:
    return await b.world(conn)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=12))
async def test_any_sequence_keeps_the_invariants(
    api: Api, conn: asyncpg.Connection, world: b.World, steps: list[tuple[Any, ...]]
) -> None:
    w = world
    resources = [await b.resource(conn, w.unit, [w.community], quantity=q) for q in RESOURCES]
    needs = [await b.need(conn, w.compound, quantity=q) for q in NEEDS]
    staff, unit = api.token_for(w.users["staff"]), api.token_for(w.users["unit"])
    model = Model()

    async def mutate(query: str, variables: dict[str, Any], token: str, name: str) -> dict[str, Any]:
        result = await api.ok(query, variables, token=token)
        payload: dict[str, Any] = result[name]
        return payload

    for s in steps:
        if s[0] == "allocate":
            _, r, n, q = s
            expected = model.allocate(r, n, q)
            res = await api.op(
                "Allocate",
                {
                    "resourceId": ids.encode("Resource", resources[r]),
                    "needId": ids.encode("Need", needs[n]),
                    "quantity": q,
                },
                token=staff,
            )
            payload = res["data"]["allocate"]
            assert [e["code"] for e in payload["userErrors"]] == ([expected] if expected else []), s
            if expected is None:
                model.exchanges.append([r, n, q, "ALLOCATED", payload["exchange"]["id"]])
        elif s[0] in ("cancel", "complete"):
            if not model.exchanges:
                continue
            index = s[1] % len(model.exchanges)
            expected = model.settle(index, "CANCELLED" if s[0] == "cancel" else "COMPLETED")
            op, name = (
                ("CancelExchange", "cancelExchange") if s[0] == "cancel" else ("CompleteExchange", "completeExchange")
            )
            # the two sides take turns: staff cancel, the provider completes
            res = await api.op(op, {"exchangeId": model.exchanges[index][4]}, token=staff if s[0] == "cancel" else unit)
            assert [e["code"] for e in res["data"][name]["userErrors"]] == ([expected] if expected else []), s
        elif s[0] == "withdraw":
            expected = "INVALID_STATE" if model.withdrawn[s[1]] else None
            model.withdrawn[s[1]] = True
            payload = await mutate(
                "mutation($id: ID!) { withdrawResource(input: {resourceId: $id}) { userErrors { code } } }",
                {"id": ids.encode("Resource", resources[s[1]])},
                unit,
                "withdrawResource",
            )
            assert [e["code"] for e in payload["userErrors"]] == ([expected] if expected else []), s
        else:
            expected = "INVALID_STATE" if model.closed[s[1]] else None
            model.closed[s[1]] = True
            payload = await mutate(
                "mutation($id: ID!) { closeNeed(input: {needId: $id}) { userErrors { code } } }",
                {"id": ids.encode("Need", needs[s[1]])},
                staff,
                "closeNeed",
            )
            assert [e["code"] for e in payload["userErrors"]] == ([expected] if expected else []), s

        assert await conn.fetchval(INVARIANTS, resources, needs) == 0, s
        remaining = await conn.fetch(
            "SELECT remaining FROM resources WHERE id = ANY($1::bigint[]) ORDER BY id", resources
        )
        fulfilled = await conn.fetch("SELECT fulfilled FROM needs WHERE id = ANY($1::bigint[]) ORDER BY id", needs)
        assert [r["remaining"] for r in remaining] == model.remaining, s
        assert [n["fulfilled"] for n in fulfilled] == model.fulfilled, s
