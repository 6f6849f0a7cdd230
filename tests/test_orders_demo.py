"""The demo's service orders: every state, consistent timelines, the sample accounts' orders."""

from __future__ import annotations

from typing import Any

from db.demo import load
from gongjian import clock
from resolvers.order_workflow import TRANSITIONS
from tests.support import ZONE


async def test_demo_orders_are_consistent_and_reachable(committed_db: dict[str, Any]) -> None:
    assert await load.run(committed_db["url"], "demo-password-1", today=clock.today(ZONE))
    pool = committed_db["pool"]
    states = dict(await pool.fetch("SELECT status, count(*) FROM service_orders GROUP BY status"))
    assert set(states) == {"SUBMITTED", "DISPATCHED", "ACCEPTED", "COMPLETED", "CLOSED", "CANCELLED"}
    assert 280 <= sum(states.values()) <= 320
    assert await pool.fetchval("SELECT count(DISTINCT community_id) FROM service_orders") >= 3
    assert await pool.fetchval("SELECT count(*) FROM service_order_rows WHERE overdue") > 0
    assert await pool.fetchval("SELECT count(*) FROM service_order_rows WHERE escalated") > 0
    assert await pool.fetchval("SELECT min(created_at) FROM service_orders") < await pool.fetchval(
        "SELECT now() - interval '300 days'"
    )
    # every timeline starts with PLACED, chains its statuses, follows the transition table,
    # is in time order, ends in the order's status and lies in the past
    allowed: set[tuple[str, str | None, str]] = {
        (t.event, s, t.target) for t in TRANSITIONS.values() for s in t.sources
    }
    allowed.add(("PLACED", None, "SUBMITTED"))
    rows = await pool.fetch(
        "SELECT o.id, o.status, o.created_at, array_agg(e.action ORDER BY e.id) AS actions, "
        "array_agg(e.from_status ORDER BY e.id) AS froms, array_agg(e.to_status ORDER BY e.id) AS tos, "
        "array_agg(e.at ORDER BY e.id) AS ats FROM service_orders o JOIN order_events e ON e.order_id = o.id "
        "GROUP BY o.id"
    )
    now = await pool.fetchval("SELECT now()")
    for r in rows:
        assert r["actions"][0] == "PLACED" and r["ats"][0] == r["created_at"]
        assert r["tos"][-1] == r["status"]
        assert list(r["froms"][1:]) == list(r["tos"][:-1])
        assert all(step in allowed for step in zip(r["actions"], r["froms"], r["tos"], strict=True)), list(
            zip(r["actions"], r["froms"], r["tos"], strict=True)
        )
        assert list(r["ats"]) == sorted(r["ats"]) and r["ats"][-1] < now
    assert await pool.fetchval("SELECT count(*) FROM service_orders WHERE status = 'CLOSED' AND rating IS NULL") == 0
    # the sample resident's household has orders dispatched to the sample cadre
    sample = await pool.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT o.status) AS states FROM service_orders o "
        "JOIN users r ON r.username = 'resident' JOIN persons rp ON rp.id = r.person_id "
        "JOIN users c ON c.username = 'cadre' "
        "WHERE o.household_id = rp.household_id AND o.assignee_id = c.person_id"
    )
    assert sample["n"] >= 6 and sample["states"] >= 5
    # numbers continue after the demo's
    last = await pool.fetchval("SELECT max(number) FROM service_orders")
    assert last.startswith("FP-")
