"""Service orders (居民下单、社区派单、党员接单): rows, the conditional updates that perform
the workflow's transitions (its table, with who may perform each, is
`resolvers.order_workflow.TRANSITIONS`), order numbers, the append-only timeline and its
notifications."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import asyncpg

from db import events
from db.access import ViewerKey
from db.pool import Conn

# the order number's prefix when the county has none in order_number_prefixes, followed by
# the county's id: numbers are unique across counties, whose counters run separately
DEFAULT_PREFIX: Final = "GJ"


class Party(enum.Enum):
    """Who may perform a transition, relative to the order."""

    STAFF = "STAFF"  # county admin or community staff in scope of the household
    ASSIGNEE = "ASSIGNEE"  # the assigned person, or a member / UNIT_ADMIN of the assigned unit
    HOUSEHOLD = "HOUSEHOLD"  # a member of the household that placed it
    BUILDING_HEAD = "BUILDING_HEAD"  # the head of the household's building: reads it, takes no transition


class Step(Protocol):
    """One row of the order workflow (`resolvers.order_workflow.TRANSITIONS`, where who may
    perform it is decided): what performing it needs."""

    @property
    def event(self) -> str: ...  # the timeline action it appends
    @property
    def sources(self) -> tuple[str, ...]: ...  # the states it may start from
    @property
    def target(self) -> str: ...
    @property
    def assigns(self) -> bool: ...  # whether it (re)sets the assignment
    @property
    def by_assignee(self) -> bool: ...  # whether the order must still be assigned as read


PLACED: Final = "PLACED"

# Whether an organisation ($1) takes the orders of a household ($2): `takes_orders_of`.
TAKES_ORDERS_OF: Final = "SELECT coalesce(takes_orders_of($1, $2), false)"


async def takes_orders_of(conn: Conn, organisation_id: int, household_id: int) -> bool:
    return bool(await conn.fetchval(TAKES_ORDERS_OF, organisation_id, household_id))


# The person to contact about each order ($1): the placing user's person when they live in the
# household, else the household's first member.
ORDER_CONTACTS: Final = """
SELECT o.id, coalesce(
    (SELECT p.id FROM users u JOIN persons p ON p.id = u.person_id
     WHERE u.id = o.placed_by AND p.household_id = o.household_id),
    (SELECT min(p.id) FROM persons p WHERE p.household_id = o.household_id)) AS person_id
FROM service_orders o WHERE o.id = ANY($1::bigint[])
"""


async def order_contacts(conn: Conn, order_ids: list[int]) -> dict[int, int]:
    return {r["id"]: r["person_id"] for r in await conn.fetch(ORDER_CONTACTS, order_ids) if r["person_id"] is not None}


@dataclass(frozen=True)
class OrderRow:
    id: int
    county_id: int
    number: str
    household_id: int
    community_id: int
    title: str
    description: str | None
    category: str
    status: str
    assignee_id: int | None
    assignee_unit_id: int | None
    due_at: datetime.datetime | None
    dispatched_at: datetime.datetime | None
    resolution: str | None
    rating: int | None
    rating_comment: str | None
    placed_by: int
    idempotency_key: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    # the household's building path, county down to the building (scope checks)
    path: list[int]
    overdue: bool
    escalated: bool


@dataclass(frozen=True)
class OrderEventRow:
    id: int
    county_id: int
    order_id: int
    at: datetime.datetime
    action: str
    from_status: str | None
    to_status: str
    actor_user_id: int | None
    actor_person_id: int | None
    note: str | None
    # set when the event is delivered to a subscriber: the order as freshly loaded then
    order: OrderRow | None = None


@dataclass(frozen=True)
class CategoryRow:
    code: str
    name: str
    due_hours: int
    accept_hours: int


# the foreign key of service_orders.category (PostgreSQL's default name for it)
CATEGORY_FOREIGN_KEY: Final = "service_orders_category_fkey"


class UnknownCategory(Exception):
    """`create_order` was given a category code that is not in service_categories."""


ORDER_COLUMNS: Final = (
    "o.id, o.county_id, o.number, o.household_id, o.community_id, o.title, o.description, o.category, "
    "o.status, o.assignee_id, o.assignee_unit_id, o.due_at, o.dispatched_at, o.resolution, o.rating, "
    "o.rating_comment, o.placed_by, o.idempotency_key, o.created_at, o.updated_at, o.path, o.overdue, o.escalated"
)
ORDERS_BY_ID: Final = f"SELECT {ORDER_COLUMNS} FROM service_order_rows o WHERE o.id = ANY($1::bigint[])"  # noqa: S608 - constant columns
ORDER_BY_IDEMPOTENCY_KEY: Final = (
    f"SELECT {ORDER_COLUMNS} FROM service_order_rows o WHERE o.placed_by = $1 AND o.idempotency_key = $2"  # noqa: S608 - constant columns
)

CATEGORIES: Final = "SELECT code, name, due_hours, accept_hours FROM service_categories ORDER BY code"
CATEGORY: Final = "SELECT code, name, due_hours, accept_hours FROM service_categories WHERE code = $1"

# The next number of the county's day (`county_date`, 0026_read_rules.sql), with the county's prefix.
# The counter has at least four digits and widens beyond 9999 (lpad alone would cut 10000 to
# '1000', a number already given, and stop the county's orders for the rest of the day).
NEXT_NUMBER: Final = """
WITH counter AS (
    INSERT INTO order_number_counters (county_id, day, last)
    VALUES ($1, county_date(coalesce($3, now())), 1)
    ON CONFLICT (county_id, day) DO UPDATE SET last = order_number_counters.last + 1
    RETURNING day, last
)
SELECT coalesce((SELECT p.prefix FROM order_number_prefixes p WHERE p.county_id = $1), $2 || $1::text)
       || '-' || to_char(counter.day, 'YYYYMMDD')
       || '-' || lpad(counter.last::text, greatest(4, length(counter.last::text)), '0')
FROM counter
"""

INSERT_ORDER: Final = """
INSERT INTO service_orders (county_id, number, household_id, community_id, title, description, category,
                            placed_by, idempotency_key, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now()), coalesce($10, now()))
ON CONFLICT (placed_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id
"""

# The conditional update of a transition: it matches only while the order is in one of
# the transition's source states, so of two concurrent clients exactly one wins. A
# transition of the assignee ($11) also needs the assignment the caller saw ($12, $13):
# a reassignment committed since then must not let the former assignee act on the order.
TRANSITION: Final = """
UPDATE service_orders SET
    status = $3,
    assignee_id = CASE WHEN $4 THEN $5::bigint ELSE assignee_id END,
    assignee_unit_id = CASE WHEN $4 THEN $6::bigint ELSE assignee_unit_id END,
    dispatched_at = CASE WHEN $4 THEN (CASE WHEN $3 = 'DISPATCHED' THEN now() END) ELSE dispatched_at END,
    due_at = CASE WHEN $4 THEN (CASE WHEN $3 = 'DISPATCHED' THEN coalesce(
        $7::timestamptz,
        now() + make_interval(hours => (SELECT c.due_hours FROM service_categories c
                                        WHERE c.code = service_orders.category))) END)
             ELSE due_at END,
    resolution = coalesce($8, resolution),
    rating = coalesce($9, rating),
    rating_comment = coalesce($10, rating_comment),
    updated_at = now()
WHERE id = $1 AND status = ANY($2::text[])
  AND (NOT $11 OR (assignee_id IS NOT DISTINCT FROM $12 AND assignee_unit_id IS NOT DISTINCT FROM $13))
RETURNING id
"""

# One timeline entry, and its notification (delivered to listeners when the transaction
# commits). `from_status` is the previous entry's: the order's row lock, taken by the
# transition's UPDATE, is held until commit, so no other entry can come in between.
APPEND_EVENT: Final = """
WITH e AS (
    INSERT INTO order_events (county_id, order_id, action, from_status, to_status, actor_user_id, actor_person_id, note,
                              at)
    VALUES ($1, $2, $3, (SELECT p.to_status FROM order_events p WHERE p.order_id = $2 ORDER BY p.id DESC LIMIT 1),
            $4, $5, $6, $7, coalesce($10, clock_timestamp()))
    RETURNING id, county_id, order_id, action, to_status, at
)
SELECT e.id, pg_notify($9, json_build_object(
    'event', e.id, 'order', e.order_id, 'community', $8::bigint, 'county', e.county_id,
    'action', e.action, 'status', e.to_status, 'at', e.at)::text)
FROM e
"""

EVENT_COLUMNS: Final = (
    "e.id, e.county_id, e.order_id, e.at, e.action, e.from_status, e.to_status, e.actor_user_id, "
    "e.actor_person_id, e.note"
)
EVENTS_OF_ORDERS: Final = (
    f"SELECT {EVENT_COLUMNS} FROM order_events e WHERE e.order_id = ANY($1::bigint[]) ORDER BY e.order_id, e.id"  # noqa: S608 - constant columns
)
EVENTS_BY_ID: Final = f"SELECT {EVENT_COLUMNS} FROM order_events e WHERE e.id = ANY($1::bigint[])"  # noqa: S608 - constant columns

# Orders the viewer ($1 user, $2 API token) is a party of (the rule `order_parties`,
# migration 0010), newest first, narrowed by the filter.
PARTY: Final = "order_parties(o, v) <> '{}'"
FILTERS: Final = """
($4::bigint IS NULL OR o.community_id = $4)
AND ($5::text IS NULL OR o.status = $5)
AND ($6::bigint IS NULL OR o.assignee_id = $6)
AND ($7::bigint IS NULL OR o.assignee_unit_id = $7)
AND ($8::boolean IS NULL OR o.overdue = $8)
AND ($9::boolean IS NULL OR o.escalated = $9)
"""
# What the rule is asked about when the viewer is no staff: the orders they could be a
# party of, found by index for each kind of party (their household's, those of households
# in buildings they head, those assigned to them or to a unit they administer or are a
# member of, `member_of`: migration 0033). A superset of what the rule lets through, so the
# answer is the rule's alone; without it every call evaluated the rule on every order of the
# county. Staff (whose scope may hold most orders) are answered by the rule on the county's
# orders.
CANDIDATES: Final = """
o.id IN (
    SELECT s.id FROM service_orders s
    WHERE s.household_id = ANY(ARRAY(
        SELECT h.id FROM households h, viewer_of($1, $2) w WHERE h.id = w.household_id
        UNION
        SELECT h.id FROM households h, responsibilities r, viewer_of($1, $2) w
        WHERE r.person_id = w.person_id AND r.until IS NULL AND h.building_id = r.area_id))
    UNION ALL
    SELECT s.id FROM service_orders s WHERE s.assignee_id = (SELECT w.person_id FROM viewer_of($1, $2) w)
    UNION ALL
    SELECT s.id FROM service_orders s
    WHERE s.assignee_unit_id = ANY(ARRAY(SELECT unnest(w.units || w.member_of) FROM viewer_of($1, $2) w))
)
"""
_LIST: Final = "AND ($3::bigint IS NULL OR o.id < $3) ORDER BY o.id DESC LIMIT $10"
_COUNT: Final = "AND $3::bigint IS NULL AND $10::int IS NULL"
_FROM: Final = "FROM service_order_rows o, viewer_of($1, $2) v WHERE"
LIST_ORDERS: Final = f"SELECT {ORDER_COLUMNS} {_FROM} {CANDIDATES} AND {PARTY} AND {FILTERS} {_LIST}"
COUNT_ORDERS: Final = f"SELECT count(*) {_FROM} {CANDIDATES} AND {PARTY} AND {FILTERS} {_COUNT}"
# the rule's STAFF party first (`order_parties`): an order of the staff member's scope is
# let through by the building's path alone, without the other parties (the building's head)
_STAFF_PARTY: Final = f"o.county_id = v.county_id AND (staff_of_area(o.path, v) OR {PARTY})"
LIST_ORDERS_AS_STAFF: Final = f"SELECT {ORDER_COLUMNS} {_FROM} {_STAFF_PARTY} AND {FILTERS} {_LIST}"
COUNT_ORDERS_AS_STAFF: Final = f"SELECT count(*) {_FROM} {_STAFF_PARTY} AND {FILTERS} {_COUNT}"
# The parties of each order the viewer is: the same rule for node(), mutations and events.
ORDER_PARTIES: Final = """
SELECT o.id, order_parties(o, v) AS parties FROM service_order_rows o, viewer_of($2, $3) v
WHERE o.id = ANY($1::bigint[])
"""


@dataclass(frozen=True)
class OrderFilter:
    community_id: int | None = None
    status: str | None = None
    assignee_id: int | None = None
    assignee_unit_id: int | None = None
    overdue: bool | None = None
    escalated: bool | None = None


def order_row(r: asyncpg.Record) -> OrderRow:
    return OrderRow(**dict(r))


def event_row(r: asyncpg.Record) -> OrderEventRow:
    return OrderEventRow(**dict(r))


async def orders_by_id(conn: Conn, ids: Sequence[int]) -> dict[int, OrderRow]:
    return {r["id"]: order_row(r) for r in await conn.fetch(ORDERS_BY_ID, list(ids))}


async def order_by_id(conn: Conn, order_id: int) -> OrderRow | None:
    return (await orders_by_id(conn, [order_id])).get(order_id)


async def events_of_orders(conn: Conn, order_ids: Sequence[int]) -> dict[int, list[OrderEventRow]]:
    found: dict[int, list[OrderEventRow]] = {}
    for r in await conn.fetch(EVENTS_OF_ORDERS, list(order_ids)):
        found.setdefault(r["order_id"], []).append(event_row(r))
    return found


async def events_by_id(conn: Conn, ids: Sequence[int]) -> dict[int, OrderEventRow]:
    return {r["id"]: event_row(r) for r in await conn.fetch(EVENTS_BY_ID, list(ids))}


async def categories(conn: Conn) -> list[CategoryRow]:
    return [CategoryRow(**dict(r)) for r in await conn.fetch(CATEGORIES)]


async def category(conn: Conn, code: str) -> CategoryRow | None:
    row = await conn.fetchrow(CATEGORY, code)
    return CategoryRow(**dict(row)) if row else None


async def order_parties(conn: Conn, ids: Sequence[int], viewer: ViewerKey) -> dict[int, frozenset[Party]]:
    """The parties of each order the viewer is (empty: the viewer may not see it)."""
    return {
        r["id"]: frozenset(Party(p) for p in r["parties"]) for r in await conn.fetch(ORDER_PARTIES, list(ids), *viewer)
    }


def _params(viewer: ViewerKey, flt: OrderFilter, after: int | None, limit: int | None) -> list[Any]:
    return [
        *viewer,
        after,
        flt.community_id,
        flt.status,
        flt.assignee_id,
        flt.assignee_unit_id,
        flt.overdue,
        flt.escalated,
        limit,
    ]


async def list_orders(
    conn: Conn, viewer: ViewerKey, flt: OrderFilter, *, after: int | None, limit: int, staff: bool
) -> list[OrderRow]:
    """The viewer's orders (the rule `order_parties`); `staff`: the viewer has a staff scope,
    so the rule is asked about the county's orders rather than the viewer's candidates."""
    query = LIST_ORDERS_AS_STAFF if staff else LIST_ORDERS
    return [order_row(r) for r in await conn.fetch(query, *_params(viewer, flt, after, limit))]


async def count_orders(conn: Conn, viewer: ViewerKey, flt: OrderFilter, *, staff: bool) -> int:
    query = COUNT_ORDERS_AS_STAFF if staff else COUNT_ORDERS
    return int(await conn.fetchval(query, *_params(viewer, flt, None, None)))


async def append_event(
    conn: Conn,
    *,
    county_id: int,
    order_id: int,
    community_id: int,
    action: str,
    to_status: str,
    actor_user_id: int | None,
    actor_person_id: int | None,
    note: str | None,
    at: datetime.datetime | None = None,
) -> int:
    """Append a timeline entry and notify listeners (on commit); the entry's id. `at`
    (default: the clock) is for entries recorded after the fact, such as the demo's."""
    return int(
        await conn.fetchval(
            APPEND_EVENT,
            county_id,
            order_id,
            action,
            to_status,
            actor_user_id,
            actor_person_id,
            note,
            community_id,
            events.ORDER_EVENTS,
            at,
        )
    )


class _Duplicate(Exception):
    """Rolls back the savepoint of an insert that lost an idempotency race."""


async def create_order(
    conn: Conn,
    *,
    county_id: int,
    household_id: int,
    community_id: int,
    title: str,
    description: str | None,
    category: str,
    placed_by: int,
    actor_person_id: int | None,
    idempotency_key: str | None = None,
    note: str | None = None,
    placed_at: datetime.datetime | None = None,
) -> OrderRow:
    """Place a SUBMITTED order with its number, its PLACED timeline entry and the entry's
    notification. With an `idempotency_key` that `placed_by` used before, the first order
    comes back and nothing is created, also when two such calls race. Raises
    UnknownCategory for a category code that does not exist. Call it inside a transaction."""
    if idempotency_key is not None:
        existing = await conn.fetchrow(ORDER_BY_IDEMPOTENCY_KEY, placed_by, idempotency_key)
        if existing is not None:
            return order_row(existing)
    try:
        # a savepoint: a lost race or an unknown category leaves no gap in the numbers
        async with conn.transaction():
            number = await conn.fetchval(NEXT_NUMBER, county_id, DEFAULT_PREFIX, placed_at)
            order_id = await conn.fetchval(
                INSERT_ORDER,
                county_id,
                number,
                household_id,
                community_id,
                title,
                description,
                category,
                placed_by,
                idempotency_key,
                placed_at,
            )
            if order_id is None:
                raise _Duplicate
    except asyncpg.ForeignKeyViolationError as exc:
        if exc.constraint_name == CATEGORY_FOREIGN_KEY:
            raise UnknownCategory(category) from None
        raise
    except _Duplicate:
        # another request with the same key committed first: its order is the answer
        existing = await conn.fetchrow(ORDER_BY_IDEMPOTENCY_KEY, placed_by, idempotency_key)
        assert existing is not None, "a conflicting insert is visible once it has committed"
        return order_row(existing)
    await append_event(
        conn,
        county_id=county_id,
        order_id=order_id,
        community_id=community_id,
        action=PLACED,
        to_status="SUBMITTED",
        actor_user_id=placed_by,
        actor_person_id=actor_person_id,
        note=note,
        at=placed_at,
    )
    row = await order_by_id(conn, order_id)
    assert row is not None
    return row


@dataclass(frozen=True)
class Changes:
    """What a transition sets besides the status."""

    assignee_id: int | None = None
    assignee_unit_id: int | None = None
    due_at: datetime.datetime | None = None
    resolution: str | None = None
    rating: int | None = None
    rating_comment: str | None = None


async def transition(
    conn: Conn,
    t: Step,
    order: OrderRow,
    *,
    actor_user_id: int | None,
    actor_person_id: int | None,
    note: str | None,
    changes: Changes = Changes(),
) -> OrderRow | None:
    """Perform the workflow's transition `t` if the order is (still) in one of its source
    states and, for a transition of the assignee, still assigned as in `order`; None when
    it is not (another client won, or it never was)."""
    updated = await conn.fetchval(
        TRANSITION,
        order.id,
        list(t.sources),
        t.target,
        t.assigns,
        changes.assignee_id,
        changes.assignee_unit_id,
        changes.due_at,
        changes.resolution,
        changes.rating,
        changes.rating_comment,
        t.by_assignee,
        order.assignee_id,
        order.assignee_unit_id,
    )
    if updated is None:
        return None
    await append_event(
        conn,
        county_id=order.county_id,
        order_id=order.id,
        community_id=order.community_id,
        action=t.event,
        to_status=t.target,
        actor_user_id=actor_user_id,
        actor_person_id=actor_person_id,
        note=note,
    )
    return await order_by_id(conn, order.id)
