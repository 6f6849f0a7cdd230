"""The dual list (双向清单): resources, needs and the exchanges between them.

Allocation never over-allocates because the database decides: `remaining` and `fulfilled`
change only through conditional UPDATEs (`WHERE remaining >= $q`), which under READ
COMMITTED re-check the condition on the latest committed row after waiting for its lock,
and the CHECK constraints of migration 0004 refuse anything out of range. Locks are taken
in a fixed order (allocation: resource then need; cancellation: exchange, resource, need;
nobody waits for an exchange while holding a resource or need), so races never deadlock.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import asyncpg

from db.access import ViewerKey
from db.pool import Conn

# --- rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceRow:
    id: int
    county_id: int
    provider_id: int
    title: str
    description: str | None
    category: str
    quantity: int
    remaining: int
    unit: str
    available_until: datetime.datetime | None
    withdrawn_at: datetime.datetime | None
    created_at: datetime.datetime
    # computed by RESOURCE_STATUS when read: AVAILABLE, EXHAUSTED, WITHDRAWN or EXPIRED
    status: str


@dataclass(frozen=True)
class NeedRow:
    id: int
    county_id: int
    area_id: int
    community_id: int
    title: str
    description: str | None
    category: str
    quantity: int
    fulfilled: int
    closed_at: datetime.datetime | None
    created_at: datetime.datetime
    # computed by NEED_STATUS when read: OPEN, PARTIALLY_MET, MET or CLOSED
    status: str

    @property
    def shortfall(self) -> int:
        return self.quantity - self.fulfilled


@dataclass(frozen=True)
class ExchangeRow:
    id: int
    county_id: int
    resource_id: int
    need_id: int
    provider_id: int
    receiver_id: int
    quantity: int
    status: str
    allocated_at: datetime.datetime
    completed_at: datetime.datetime | None
    cancelled_at: datetime.datetime | None
    cancel_reason: str | None


# --- visibility -------------------------------------------------------------------------


# the status rules, as SQL over the row (one definition for reads and filters)
RESOURCE_STATUS: Final = """CASE
    WHEN r.withdrawn_at IS NOT NULL THEN 'WITHDRAWN'
    WHEN r.available_until IS NOT NULL AND r.available_until <= now() THEN 'EXPIRED'
    WHEN r.remaining = 0 THEN 'EXHAUSTED'
    ELSE 'AVAILABLE' END"""
NEED_STATUS: Final = """CASE
    WHEN n.closed_at IS NOT NULL THEN 'CLOSED'
    WHEN n.fulfilled >= n.quantity THEN 'MET'
    WHEN n.fulfilled > 0 THEN 'PARTIALLY_MET'
    ELSE 'OPEN' END"""

RESOURCE_COLUMNS: Final = (
    "r.id, r.county_id, r.provider_id, r.title, r.description, r.category, r.quantity, r.remaining, r.unit, "
    f"r.available_until, r.withdrawn_at, r.created_at, {RESOURCE_STATUS} AS status"
)
NEED_COLUMNS: Final = (
    "n.id, n.county_id, n.area_id, n.community_id, n.title, n.description, n.category, n.quantity, n.fulfilled, "
    f"n.closed_at, n.created_at, {NEED_STATUS} AS status"
)
EXCHANGE_COLUMNS: Final = (
    "e.id, e.county_id, e.resource_id, e.need_id, e.provider_id, e.receiver_id, e.quantity, e.status, "
    "e.allocated_at, e.completed_at, e.cancelled_at, e.cancel_reason"
)

# The rules `resource_access`, `need_access` and `exchange_access` (0021_node_rules.sql) over
# `r`, `n` or `e` and the viewer `v` (`viewer_of($1, $2)` in every statement that takes one).
RESOURCE_VISIBLE: Final = "resource_access(r, v) IS NOT NULL"
VIEWER: Final = "viewer_of($1, $2) v"

AVAILABLE: Final = (
    "r.withdrawn_at IS NULL AND (r.available_until IS NULL OR r.available_until > now()) AND r.remaining > 0"
)


def resource_row(r: asyncpg.Record) -> ResourceRow:
    return ResourceRow(**dict(r))


def need_row(r: asyncpg.Record) -> NeedRow:
    return NeedRow(**dict(r))


def exchange_row(r: asyncpg.Record) -> ExchangeRow:
    return ExchangeRow(**dict(r))


# --- loads by id ------------------------------------------------------------------------

RESOURCES_BY_ID: Final = f"SELECT {RESOURCE_COLUMNS} FROM resources r WHERE r.id = ANY($1::bigint[])"  # noqa: S608
NEEDS_BY_ID: Final = f"SELECT {NEED_COLUMNS} FROM needs n WHERE n.id = ANY($1::bigint[])"  # noqa: S608
EXCHANGES_BY_ID: Final = f"SELECT {EXCHANGE_COLUMNS} FROM exchanges e WHERE e.id = ANY($1::bigint[])"  # noqa: S608
EXCHANGE_BY_IDEMPOTENCY_KEY: Final = (
    f"SELECT {EXCHANGE_COLUMNS} FROM exchanges e WHERE e.allocated_by = $1 AND e.idempotency_key = $2"  # noqa: S608
)
VISIBLE_RESOURCES_BY_ID: Final = f"""
SELECT {RESOURCE_COLUMNS} FROM resources r, {VIEWER} WHERE r.id = ANY($3::bigint[]) AND {RESOURCE_VISIBLE}
"""  # noqa: S608 - constant fragments
VISIBLE_NEEDS_BY_ID: Final = f"""
SELECT {NEED_COLUMNS} FROM needs n, {VIEWER} WHERE n.id = ANY($3::bigint[]) AND need_access(n, v)
"""  # noqa: S608 - constant fragments
VISIBLE_EXCHANGES_BY_ID: Final = f"""
SELECT {EXCHANGE_COLUMNS} FROM exchanges e, {VIEWER} WHERE e.id = ANY($3::bigint[]) AND exchange_access(e, v)
"""  # noqa: S608 - constant fragments
# --- rows read for a mutation --------------------------------------------------------------
#
# Each mutation reads the row it acts on with the rule of who may act on it, in one statement
# (0023_may_act.sql): `administers_organisation` for a provider's resources (and, in
# db/areas.py, the provider itself),
# `staff_of_area` for a need's area, `exchange_party` for an exchange. A row the mutation
# changes is locked (FOR UPDATE), in the order of the module's docstring (allocation:
# resource, then need), so the check and the change see the same row.
RESOURCE_FOR_UPDATE: Final = f"""
SELECT {RESOURCE_COLUMNS}, administers_organisation(r.provider_id, v) AS administers
FROM resources r, {VIEWER} WHERE r.id = $3 AND {RESOURCE_VISIBLE} FOR UPDATE OF r
"""  # noqa: S608 - constant fragments
NEED_FOR_UPDATE: Final = f"""
SELECT {NEED_COLUMNS}, staff_of_area(na.path, v) AS staff
FROM needs n JOIN areas na ON na.id = n.area_id, {VIEWER} WHERE n.id = $3 AND need_access(n, v) FOR UPDATE OF n
"""  # noqa: S608 - constant fragments
EXCHANGE_FOR_UPDATE: Final = f"""
SELECT {EXCHANGE_COLUMNS}, exchange_party(e, v) AS party
FROM exchanges e, {VIEWER} WHERE e.id = $3 AND exchange_access(e, v) FOR UPDATE OF e
"""  # noqa: S608 - constant fragments


def _with_rule(row: asyncpg.Record | None, rule: str) -> tuple[dict[str, object], bool] | None:
    if row is None:
        return None
    values = dict(row)
    return values, bool(values.pop(rule))


async def resource_for_update(conn: Conn, viewer: ViewerKey, resource_id: int) -> tuple[ResourceRow, bool] | None:
    """The resource locked if the viewer sees it, with whether they administer its provider."""
    found = _with_rule(await conn.fetchrow(RESOURCE_FOR_UPDATE, *viewer, resource_id), "administers")
    return (ResourceRow(**found[0]), found[1]) if found else None  # type: ignore[arg-type]


async def need_for_update(conn: Conn, viewer: ViewerKey, need_id: int) -> tuple[NeedRow, bool] | None:
    """The need locked if the viewer sees it, with whether they are staff of its area."""
    found = _with_rule(await conn.fetchrow(NEED_FOR_UPDATE, *viewer, need_id), "staff")
    return (NeedRow(**found[0]), found[1]) if found else None  # type: ignore[arg-type]


async def exchange_for_update(conn: Conn, viewer: ViewerKey, exchange_id: int) -> tuple[ExchangeRow, bool] | None:
    """The exchange locked if the viewer sees it, with whether they are one of its parties."""
    found = _with_rule(await conn.fetchrow(EXCHANGE_FOR_UPDATE, *viewer, exchange_id), "party")
    return (ExchangeRow(**found[0]), found[1]) if found else None  # type: ignore[arg-type]


COMMUNITIES_BY_RESOURCE: Final = """
SELECT rc.resource_id, rc.community_id FROM resource_communities rc
WHERE rc.resource_id = ANY($1::bigint[]) ORDER BY rc.resource_id, rc.community_id
"""


async def resources_by_id(conn: Conn, ids: list[int]) -> dict[int, ResourceRow]:
    return {r["id"]: resource_row(r) for r in await conn.fetch(RESOURCES_BY_ID, ids)}


async def needs_by_id(conn: Conn, ids: list[int]) -> dict[int, NeedRow]:
    return {r["id"]: need_row(r) for r in await conn.fetch(NEEDS_BY_ID, ids)}


async def exchanges_by_id(conn: Conn, ids: list[int]) -> dict[int, ExchangeRow]:
    return {r["id"]: exchange_row(r) for r in await conn.fetch(EXCHANGES_BY_ID, ids)}


async def visible_resources_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, ResourceRow]:
    """The resources of `ids` that the viewer sees (the others are left out)."""
    return {r["id"]: resource_row(r) for r in await conn.fetch(VISIBLE_RESOURCES_BY_ID, *viewer, ids)}


async def visible_needs_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, NeedRow]:
    return {r["id"]: need_row(r) for r in await conn.fetch(VISIBLE_NEEDS_BY_ID, *viewer, ids)}


async def visible_exchanges_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, ExchangeRow]:
    return {r["id"]: exchange_row(r) for r in await conn.fetch(VISIBLE_EXCHANGES_BY_ID, *viewer, ids)}


async def communities_by_resource(conn: Conn, ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for r in await conn.fetch(COMMUNITIES_BY_RESOURCE, ids):
        found.setdefault(r["resource_id"], []).append(r["community_id"])
    return found


# --- lists ------------------------------------------------------------------------------

# $3 community, $4 category, $5 available (null: any), $6 after id, $7 limit
RESOURCE_FILTER: Final = f"""{RESOURCE_VISIBLE}
  AND ($3::bigint IS NULL OR EXISTS (
      SELECT 1 FROM resource_communities rc WHERE rc.resource_id = r.id AND rc.community_id = $3))
  AND ($4::text IS NULL OR r.category = $4)
  AND ($5::boolean IS NULL OR ({AVAILABLE}) = $5)"""  # noqa: S608 - constant fragments
RESOURCES_PAGE: Final = f"""
SELECT {RESOURCE_COLUMNS} FROM resources r, {VIEWER}
WHERE {RESOURCE_FILTER} AND ($6::bigint IS NULL OR r.id > $6)
ORDER BY r.id LIMIT $7
"""  # noqa: S608 - constant fragments
RESOURCES_COUNT: Final = f"SELECT count(*) FROM resources r, {VIEWER} WHERE {RESOURCE_FILTER}"  # noqa: S608


@dataclass(frozen=True)
class ResourceFilter:
    community_id: int | None = None
    category: str | None = None
    available: bool | None = None


async def resources_page(
    conn: Conn, viewer: ViewerKey, f: ResourceFilter, after: int | None, limit: int
) -> list[ResourceRow]:
    rows = await conn.fetch(RESOURCES_PAGE, *viewer, f.community_id, f.category, f.available, after, limit)
    return [resource_row(r) for r in rows]


async def resources_count(conn: Conn, viewer: ViewerKey, f: ResourceFilter) -> int:
    return int(await conn.fetchval(RESOURCES_COUNT, *viewer, f.community_id, f.category, f.available))


# An organisation's resources, for many organisations at once: one page per provider.
# $3 providers, $4 after id (null: from the start), $5 limit per provider
RESOURCES_OF_PROVIDERS: Final = f"""
SELECT * FROM (
    SELECT {RESOURCE_COLUMNS}, row_number() OVER (PARTITION BY r.provider_id ORDER BY r.id) AS rank
    FROM resources r, {VIEWER}
    WHERE r.provider_id = ANY($3::bigint[]) AND ($4::bigint IS NULL OR r.id > $4) AND {RESOURCE_VISIBLE}
) ranked WHERE rank <= $5 ORDER BY provider_id, id
"""  # noqa: S608 - constant fragments
RESOURCE_COUNTS_OF_PROVIDERS: Final = f"""
SELECT r.provider_id, count(*) AS n FROM resources r, {VIEWER}
WHERE r.provider_id = ANY($3::bigint[]) AND {RESOURCE_VISIBLE} GROUP BY r.provider_id
"""  # noqa: S608 - constant fragments


async def resources_of_providers(
    conn: Conn, viewer: ViewerKey, providers: list[int], after: int | None, limit: int
) -> dict[int, list[ResourceRow]]:
    found: dict[int, list[ResourceRow]] = {p: [] for p in providers}
    for r in await conn.fetch(RESOURCES_OF_PROVIDERS, *viewer, providers, after, limit):
        values = dict(r)
        values.pop("rank")
        found[values["provider_id"]].append(ResourceRow(**values))
    return found


async def resource_counts_of_providers(conn: Conn, viewer: ViewerKey, providers: list[int]) -> dict[int, int]:
    rows = await conn.fetch(RESOURCE_COUNTS_OF_PROVIDERS, *viewer, providers)
    return {r["provider_id"]: int(r["n"]) for r in rows}


# $3 area (needs at or under it), $4 category, $5 open
NEED_FILTER: Final = """need_access(n, v)
  AND ($3::bigint IS NULL OR EXISTS (SELECT 1 FROM areas na WHERE na.id = n.area_id AND $3 = ANY(na.path)))
  AND ($4::text IS NULL OR n.category = $4)
  AND ($5::boolean IS NULL OR (n.closed_at IS NULL AND n.fulfilled < n.quantity) = $5)"""
NEEDS_PAGE: Final = f"""
SELECT {NEED_COLUMNS} FROM needs n, {VIEWER}
WHERE {NEED_FILTER} AND ($6::bigint IS NULL OR n.id > $6)
ORDER BY n.id LIMIT $7
"""  # noqa: S608 - constant fragments
NEEDS_COUNT: Final = f"SELECT count(*) FROM needs n, {VIEWER} WHERE {NEED_FILTER}"  # noqa: S608


@dataclass(frozen=True)
class NeedFilter:
    area_id: int | None = None
    category: str | None = None
    open: bool | None = None


async def needs_page(conn: Conn, viewer: ViewerKey, f: NeedFilter, after: int | None, limit: int) -> list[NeedRow]:
    rows = await conn.fetch(NEEDS_PAGE, *viewer, f.area_id, f.category, f.open, after, limit)
    return [need_row(r) for r in rows]


async def needs_count(conn: Conn, viewer: ViewerKey, f: NeedFilter) -> int:
    return int(await conn.fetchval(NEEDS_COUNT, *viewer, f.area_id, f.category, f.open))


# The ledger of many needs (or resources) at once: one page per parent, oldest first.
# $3 parents, $4 after id (null: from the start), $5 limit per parent; only the exchanges the
# viewer sees (`exchange_access`)
EXCHANGES_OF_NEEDS: Final = f"""
SELECT * FROM (
    SELECT {EXCHANGE_COLUMNS}, row_number() OVER (PARTITION BY e.need_id ORDER BY e.id) AS rank
    FROM exchanges e, {VIEWER}
    WHERE e.need_id = ANY($3::bigint[]) AND ($4::bigint IS NULL OR e.id > $4) AND exchange_access(e, v)
) ranked WHERE rank <= $5 ORDER BY need_id, id
"""  # noqa: S608 - constant fragments
EXCHANGES_OF_RESOURCES: Final = f"""
SELECT * FROM (
    SELECT {EXCHANGE_COLUMNS}, row_number() OVER (PARTITION BY e.resource_id ORDER BY e.id) AS rank
    FROM exchanges e, {VIEWER}
    WHERE e.resource_id = ANY($3::bigint[]) AND ($4::bigint IS NULL OR e.id > $4) AND exchange_access(e, v)
) ranked WHERE rank <= $5 ORDER BY resource_id, id
"""  # noqa: S608 - constant fragments
EXCHANGE_COUNTS_OF_NEEDS: Final = f"""
SELECT e.need_id AS parent, count(*) AS n FROM exchanges e, {VIEWER}
WHERE e.need_id = ANY($3::bigint[]) AND exchange_access(e, v) GROUP BY e.need_id
"""  # noqa: S608 - constant fragments
EXCHANGE_COUNTS_OF_RESOURCES: Final = f"""
SELECT e.resource_id AS parent, count(*) AS n FROM exchanges e, {VIEWER}
WHERE e.resource_id = ANY($3::bigint[]) AND exchange_access(e, v) GROUP BY e.resource_id
"""  # noqa: S608 - constant fragments


async def exchanges_of(
    conn: Conn, viewer: ViewerKey, by_need: bool, parents: list[int], after: int | None, limit: int
) -> dict[int, list[ExchangeRow]]:
    found: dict[int, list[ExchangeRow]] = {p: [] for p in parents}
    sql = EXCHANGES_OF_NEEDS if by_need else EXCHANGES_OF_RESOURCES
    for r in await conn.fetch(sql, *viewer, parents, after, limit):
        values = dict(r)
        values.pop("rank")
        found[values["need_id" if by_need else "resource_id"]].append(ExchangeRow(**values))
    return found


async def exchange_counts_of(conn: Conn, viewer: ViewerKey, by_need: bool, parents: list[int]) -> dict[int, int]:
    sql = EXCHANGE_COUNTS_OF_NEEDS if by_need else EXCHANGE_COUNTS_OF_RESOURCES
    return {r["parent"]: int(r["n"]) for r in await conn.fetch(sql, *viewer, parents)}


# --- matching ---------------------------------------------------------------------------
#
# The candidates for a need: resources of its county, AVAILABLE (not withdrawn, not
# expired, remaining > 0), of the need's category and open to the need's community.
# Best fit first:
#   1. resources whose remaining covers the need's shortfall (quantity - fulfilled) first;
#   2. then the remaining closest to the shortfall (the smallest that covers it; among
#      those that cannot, the largest);
#   3. then the soonest end of the availability window (open-ended last);
#   4. then the oldest resource (id).

MATCH_CANDIDATES: Final = f"""
FROM needs n
JOIN resource_communities rc ON rc.community_id = n.community_id
JOIN resources r ON r.id = rc.resource_id
WHERE n.id = ANY($1::bigint[]) AND r.county_id = n.county_id AND r.category = n.category AND {AVAILABLE}
"""
MATCHES: Final = f"""
SELECT * FROM (
    SELECT n.id AS need_id, {RESOURCE_COLUMNS},
           row_number() OVER (
               PARTITION BY n.id
               ORDER BY r.remaining >= n.quantity - n.fulfilled DESC,
                        abs(r.remaining - (n.quantity - n.fulfilled)),
                        r.available_until ASC NULLS LAST,
                        r.id
           ) AS rank
    {MATCH_CANDIDATES}
) ranked WHERE rank > $2 AND rank <= $2 + $3 ORDER BY need_id, rank
"""  # noqa: S608 - constant fragments
MATCH_COUNTS: Final = f"SELECT n.id AS need_id, count(*) AS n {MATCH_CANDIDATES} GROUP BY n.id"


async def matches(
    conn: Conn, needs: list[int], after_rank: int, limit: int
) -> dict[int, list[tuple[int, ResourceRow]]]:
    """Per need, up to `limit` (rank, resource) pairs ranked after `after_rank`, best fit first."""
    found: dict[int, list[tuple[int, ResourceRow]]] = {n: [] for n in needs}
    for r in await conn.fetch(MATCHES, needs, after_rank, limit):
        values = dict(r)
        need_id = values.pop("need_id")
        rank = values.pop("rank")
        found[need_id].append((int(rank), ResourceRow(**values)))
    return found


async def match_counts(conn: Conn, needs: list[int]) -> dict[int, int]:
    return {r["need_id"]: int(r["n"]) for r in await conn.fetch(MATCH_COUNTS, needs)}


# --- writes -----------------------------------------------------------------------------

COMMUNITIES_OF_COUNTY: Final = """
SELECT a.id FROM areas a WHERE a.id = ANY($1::bigint[]) AND a.county_id = $2 AND a.level = 'COMMUNITY'
"""
INSERT_RESOURCE: Final = """
INSERT INTO resources (county_id, provider_id, title, description, category, quantity, remaining, unit,
                       available_until, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)
RETURNING id
"""
INSERT_RESOURCE_COMMUNITIES: Final = """
INSERT INTO resource_communities (resource_id, community_id) SELECT $1, unnest($2::bigint[])
"""
WITHDRAW_RESOURCE: Final = f"""
UPDATE resources r SET withdrawn_at = now(), withdrawn_by = $2 WHERE r.id = $1 AND r.withdrawn_at IS NULL
RETURNING {RESOURCE_COLUMNS}
"""  # noqa: S608 - constant fragments
INSERT_NEED: Final = """
INSERT INTO needs (county_id, area_id, community_id, title, description, category, quantity, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id
"""
CLOSE_NEED: Final = f"""
UPDATE needs n SET closed_at = now(), closed_by = $2 WHERE n.id = $1 AND n.closed_at IS NULL
RETURNING {NEED_COLUMNS}
"""  # noqa: S608 - constant fragments

# The whole allocation in one statement, so the resource's row lock is held for as few
# round trips as possible: take from the resource (only if enough remains and it accepts
# allocations), then add to the need (only if the resource gave and the need still lacks
# that much), then write the ledger entry (only if both happened). A caller seeing
# `taken` or `added` false refuses, rolling back whatever the statement did.
# $1 resource, $2 need, $3 quantity, $4 user
ALLOCATE: Final = f"""
WITH taken AS (
    UPDATE resources r SET remaining = r.remaining - $3
    WHERE r.id = $1 AND r.remaining >= $3 AND r.withdrawn_at IS NULL
      AND (r.available_until IS NULL OR r.available_until > now())
    RETURNING r.id, r.county_id, r.provider_id
), added AS (
    UPDATE needs n SET fulfilled = n.fulfilled + $3
    WHERE n.id = $2 AND n.fulfilled + $3 <= n.quantity AND n.closed_at IS NULL AND EXISTS (SELECT 1 FROM taken)
    RETURNING n.id, n.area_id
), e AS (
    INSERT INTO exchanges (county_id, resource_id, need_id, provider_id, receiver_id, quantity, allocated_by,
                           idempotency_key)
    SELECT t.county_id, t.id, a.id, t.provider_id, a.area_id, $3, $4, $5 FROM taken t CROSS JOIN added a
    RETURNING *
)
SELECT EXISTS (SELECT 1 FROM taken) AS taken, EXISTS (SELECT 1 FROM added) AS added, {EXCHANGE_COLUMNS}
FROM (SELECT 1) AS one LEFT JOIN e ON true
"""  # noqa: S608 - constant fragments
RETURN_TO_RESOURCE: Final = "UPDATE resources SET remaining = remaining + $2 WHERE id = $1"
TAKE_FROM_NEED: Final = "UPDATE needs SET fulfilled = fulfilled - $2 WHERE id = $1"
COMPLETE_EXCHANGE: Final = f"""
UPDATE exchanges e SET status = 'COMPLETED', completed_at = now(), completed_by = $2
WHERE e.id = $1 AND e.status = 'ALLOCATED'
RETURNING {EXCHANGE_COLUMNS}
"""  # noqa: S608 - constant fragments
CANCEL_EXCHANGE: Final = f"""
UPDATE exchanges e SET status = 'CANCELLED', cancelled_at = now(), cancelled_by = $2, cancel_reason = $3
WHERE e.id = $1 AND e.status = 'ALLOCATED'
RETURNING {EXCHANGE_COLUMNS}
"""  # noqa: S608 - constant fragments


async def communities_of_county(conn: Conn, ids: Sequence[int], county_id: int) -> set[int]:
    return {r["id"] for r in await conn.fetch(COMMUNITIES_OF_COUNTY, list(ids), county_id)}


@dataclass(frozen=True)
class NewResource:
    county_id: int
    provider_id: int
    title: str
    description: str | None
    category: str
    quantity: int
    unit: str
    available_until: datetime.datetime | None
    community_ids: list[int]
    created_by: int


async def insert_resource(conn: Conn, new: NewResource) -> ResourceRow:
    resource_id = await conn.fetchval(
        INSERT_RESOURCE,
        new.county_id,
        new.provider_id,
        new.title,
        new.description,
        new.category,
        new.quantity,
        new.unit,
        new.available_until,
        new.created_by,
    )
    await conn.execute(INSERT_RESOURCE_COMMUNITIES, resource_id, new.community_ids)
    return (await resources_by_id(conn, [resource_id]))[resource_id]


async def withdraw_resource(conn: Conn, resource_id: int, user_id: int) -> ResourceRow | None:
    row = await conn.fetchrow(WITHDRAW_RESOURCE, resource_id, user_id)
    return resource_row(row) if row else None


@dataclass(frozen=True)
class NewNeed:
    county_id: int
    area_id: int
    community_id: int
    title: str
    description: str | None
    category: str
    quantity: int
    created_by: int


async def insert_need(conn: Conn, new: NewNeed) -> NeedRow:
    need_id = await conn.fetchval(
        INSERT_NEED,
        new.county_id,
        new.area_id,
        new.community_id,
        new.title,
        new.description,
        new.category,
        new.quantity,
        new.created_by,
    )
    return (await needs_by_id(conn, [need_id]))[need_id]


async def close_need(conn: Conn, need_id: int, user_id: int) -> NeedRow | None:
    row = await conn.fetchrow(CLOSE_NEED, need_id, user_id)
    return need_row(row) if row else None


@dataclass(frozen=True)
class Allocation:
    taken: bool
    added: bool
    exchange: ExchangeRow | None


async def allocate(
    conn: Conn, resource_id: int, need_id: int, quantity: int, user_id: int, idempotency_key: str | None = None
) -> Allocation:
    row = await conn.fetchrow(ALLOCATE, resource_id, need_id, quantity, user_id, idempotency_key)
    assert row is not None
    values = dict(row)
    taken, added = values.pop("taken"), values.pop("added")
    return Allocation(taken, added, ExchangeRow(**values) if values["id"] is not None else None)


async def exchange_by_idempotency_key(conn: Conn, user_id: int, key: str) -> ExchangeRow | None:
    """The exchange `user_id` made with `key`, if any."""
    row = await conn.fetchrow(EXCHANGE_BY_IDEMPOTENCY_KEY, user_id, key)
    return exchange_row(row) if row else None


async def complete_exchange(conn: Conn, exchange_id: int, user_id: int) -> ExchangeRow | None:
    row = await conn.fetchrow(COMPLETE_EXCHANGE, exchange_id, user_id)
    return exchange_row(row) if row else None


async def cancel_exchange(conn: Conn, exchange_id: int, user_id: int, reason: str | None) -> ExchangeRow | None:
    """Mark the exchange CANCELLED only if it is still ALLOCATED (None otherwise), then
    return its quantity to the resource and take it off the need. The exchange's row lock
    comes first: nobody holding a resource or need lock ever waits for an exchange, so the
    order cannot deadlock with allocations."""
    row = await conn.fetchrow(CANCEL_EXCHANGE, exchange_id, user_id, reason)
    if row is None:
        return None
    exchange = exchange_row(row)
    await conn.execute(RETURN_TO_RESOURCE, exchange.resource_id, exchange.quantity)
    await conn.execute(TAKE_FROM_NEED, exchange.need_id, exchange.quantity)
    return exchange
