"""The order tables through db.orders: numbers, idempotency, the append-only timeline."""

from __future__ import annotations

import asyncpg
import pytest

from db import orders
from db.pool import Conn
from resolvers.order_workflow import TRANSITIONS
from tests import builders


async def _place(conn: asyncpg.Connection, w: builders.World, key: str | None = None) -> orders.OrderRow:
    await builders.service_categories(conn)
    return await orders.create_order(
        Conn(conn),
        county_id=w.county,
        household_id=w.household,
        community_id=w.community,
        title="水管漏水",
        description="厨房水管",
        category="REPAIR",
        placed_by=w.users["resident"],
        actor_person_id=w.people["resident"],
        idempotency_key=key,
    )


async def test_create_order_numbers_per_county_and_day(conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    first = await _place(conn, w)
    second = await _place(conn, w)
    assert first.status == "SUBMITTED"
    assert first.number.startswith(f"GJ{w.county}-") and first.number.endswith("-0001")
    assert second.number.endswith("-0002")
    assert first.number[:-4] == second.number[:-4]
    await conn.execute("INSERT INTO order_number_prefixes (county_id, prefix) VALUES ($1, 'FP')", w.county)
    third = await _place(conn, w)
    assert third.number.startswith("FP-") and third.number.endswith("-0003")


async def test_create_order_is_idempotent_per_user_and_key(conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    first = await _place(conn, w, key="k-1")
    again = await _place(conn, w, key="k-1")
    other = await _place(conn, w, key="k-2")
    assert again.id == first.id and other.id != first.id
    assert await conn.fetchval("SELECT count(*) FROM service_orders WHERE household_id = $1", w.household) == 2


async def test_create_order_appends_placed_entry(conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    row = await _place(conn, w)
    events = (await orders.events_of_orders(Conn(conn), [row.id]))[row.id]
    assert [(e.action, e.from_status, e.to_status, e.actor_person_id) for e in events] == [
        ("PLACED", None, "SUBMITTED", w.people["resident"])
    ]


async def test_create_order_refuses_unknown_category(conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    await builders.service_categories(conn)
    with pytest.raises(orders.UnknownCategory):
        await orders.create_order(
            Conn(conn),
            county_id=w.county,
            household_id=w.household,
            community_id=w.community,
            title="t",
            description=None,
            category="NOPE",
            placed_by=w.users["resident"],
            actor_person_id=None,
        )
    assert (await _place(conn, w)).number.endswith("-0001")  # the refused order took no number


@pytest.mark.parametrize("statement", ["UPDATE order_events SET note = 'x'", "DELETE FROM order_events"])
async def test_timeline_is_append_only(conn: asyncpg.Connection, statement: str) -> None:
    w = await builders.world(conn)
    await _place(conn, w)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with conn.transaction():
            await conn.execute(statement)


async def test_two_counties_without_a_prefix_both_number_their_first_order(conn: asyncpg.Connection) -> None:
    """Counters run per county: the default prefix carries the county, so the second county's
    first order of the day does not collide with the first county's (it was a unique violation)."""
    one, two = await builders.world(conn), await builders.world(conn)
    first, second = await _place(conn, one), await _place(conn, two)
    assert first.number.endswith("-0001") and second.number.endswith("-0001")
    assert first.number != second.number


async def test_a_former_assignee_cannot_act_on_a_reassigned_order(conn: asyncpg.Connection) -> None:
    """The resolver reads the order, then transitions it: a reassignment committed in
    between must not let the person who was the assignee accept (or return) it."""
    w = await builders.world(conn)
    placed = await _place(conn, w)
    other = await builders.cadre(conn, w.county, w.unit)
    to_cadre = orders.Changes(assignee_id=w.people["cadre"])
    seen = await orders.transition(
        Conn(conn),
        TRANSITIONS["dispatchOrder"],
        placed,
        actor_user_id=None,
        actor_person_id=None,
        note=None,
        changes=to_cadre,
    )
    assert seen is not None and seen.assignee_id == w.people["cadre"]
    reassigned = await orders.transition(
        Conn(conn),
        TRANSITIONS["dispatchOrder"],
        seen,
        actor_user_id=None,
        actor_person_id=None,
        note=None,
        changes=orders.Changes(assignee_id=other),
    )
    assert reassigned is not None and reassigned.assignee_id == other
    for name in ("acceptOrder", "returnOrder"):  # with the row as the former assignee read it
        stale = await orders.transition(
            Conn(conn), TRANSITIONS[name], seen, actor_user_id=None, actor_person_id=w.people["cadre"], note=None
        )
        assert stale is None
    now = await orders.order_by_id(Conn(conn), placed.id)
    assert now is not None and (now.status, now.assignee_id) == ("DISPATCHED", other)
    accepted = await orders.transition(
        Conn(conn), TRANSITIONS["acceptOrder"], reassigned, actor_user_id=None, actor_person_id=other, note=None
    )
    assert accepted is not None and accepted.status == "ACCEPTED"


@pytest.mark.parametrize(
    "statement",
    [
        orders.LIST_ORDERS,
        orders.COUNT_ORDERS,
        orders.LIST_ORDERS_AS_STAFF,
        orders.COUNT_ORDERS_AS_STAFF,
        orders.ORDER_PARTIES,
    ],
)
async def test_the_order_rule_is_inlined_into_its_statements(conn: asyncpg.Connection, statement: str) -> None:
    """`order_parties` reads a row of `service_order_rows` (migrations 0020, 0035): while that
    row holds no sub-select PostgreSQL writes the rule into the statement; called as a
    function it would run a planned query for every order the statement looks at."""
    w = await builders.world(conn)
    placed = await _place(conn, w)
    page = None if "count(*)" in statement else 20  # a count is asked without a page
    params: list[object] = [w.users["staff"], None, None, None, None, None, None, None, None, page]
    if statement == orders.ORDER_PARTIES:  # ids, user, API token
        params = [[placed.id], w.users["staff"], None]
    plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN (VERBOSE) {statement}", *params))
    assert "order_parties(" not in plan and "staff_scope" in plan
