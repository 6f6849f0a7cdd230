"""The dual list (双向清单): who may publish, allocate and settle, and who sees what.

Visibility is the SQL rules `resource_access`, `need_access` and `exchange_access`
(0021_node_rules.sql), the same for lists, relations, `node` and mutations:
- resources: every signed-in user of the county who holds any role but RESIDENT sees all
  of the county's resources; a resident sees those open to the community they live in;
- needs and exchanges: users of the county with any role but RESIDENT (county admin,
  community staff, building heads, cadres, unit admins and API tokens); residents none.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TypeVar

import asyncpg

from db import areas as areas_db
from db import duallist as db
from db.areas import AreaRow, OrganisationRow
from db.duallist import ExchangeRow, NeedRow, ResourceRow
from db.pool import Conn
from gongjian import clock
from resolvers import ids, relations
from resolvers.access import viewer_key
from resolvers.areas import AREA_TYPES, area_by_id
from resolvers.context import Context
from resolvers.errors import ErrorCode, Refusal, UserError
from resolvers.loading import grouped, visible_keyed
from resolvers.mutations import Audited, Outcome, run
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows
from resolvers.viewer import Viewer

# --- loaders ----------------------------------------------------------------------------


# node(id) and the relations declared in SQL read these (resolvers/relations.py); none for no viewer
visible_resource_by_id = visible_keyed(db.visible_resources_by_id)
visible_need_by_id = visible_keyed(db.visible_needs_by_id)
visible_exchange_by_id = visible_keyed(db.visible_exchanges_by_id)
relations.register("Resource", visible_resource_by_id)
relations.register("Need", visible_need_by_id)
relations.register("Exchange", visible_exchange_by_id)

communities_by_resource = grouped(db.communities_by_resource)


# --- relations --------------------------------------------------------------------------


async def communities_of(root: ResourceRow, ctx: Context) -> list[AreaRow]:
    community_ids = await ctx.loader(communities_by_resource).load(root.id)
    rows = await ctx.loader(area_by_id).load_many(community_ids)
    return [r for r in rows if r is not None]


# Matches: batched per (first, after) (the usual request asks the same for every need).


async def _matches_batch(ctx: Context, keys: list[tuple[int, int, int]]) -> list[list[tuple[int, ResourceRow]]]:
    groups: dict[tuple[int, int], list[int]] = {}
    for need_id, first, after in keys:
        groups.setdefault((first, after), []).append(need_id)
    found: dict[tuple[int, int, int], list[tuple[int, ResourceRow]]] = {}
    async with ctx.db.connection() as conn:
        for (first, after), need_ids in groups.items():
            for need_id, rows in (await db.matches(conn, need_ids, after, first + 1)).items():
                found[(need_id, first, after)] = rows
    return [found.get(k, []) for k in keys]


async def _match_count_batch(ctx: Context, keys: list[int]) -> list[int]:
    async with ctx.db.connection() as conn:
        found = await db.match_counts(conn, keys)
    return [found.get(k, 0) for k in keys]


async def matches_of(root: NeedRow, ctx: Context, first: int | None, after: str | None) -> Page[ResourceRow]:
    """Available resources of the need's category open to its community, best fit first
    (the ranking rule is in db/duallist.py, MATCHES); a cursor is the rank of its item, so
    the next page continues the ranking as it stands at the time it is asked for."""
    limit = checked_first(first)
    after_rank = max(decode_id_cursor(after) or 0, 0)
    ranked = await ctx.loader(_matches_batch).load((root.id, limit, after_rank))

    async def count() -> int:
        return await ctx.loader(_match_count_batch).load(root.id)

    rank_of = {row.id: rank for rank, row in ranked}
    return page_from_rows([row for _, row in ranked], limit, lambda row: [rank_of[row.id]], count)


# An organisation's resources: batched per (first, after).


async def _provider_resources_batch(ctx: Context, keys: list[tuple[int, int, int | None]]) -> list[list[ResourceRow]]:
    groups: dict[tuple[int, int | None], list[int]] = {}
    for provider, first, after in keys:
        groups.setdefault((first, after), []).append(provider)
    viewer = viewer_key(ctx.signed_in)
    found: dict[tuple[int, int, int | None], list[ResourceRow]] = {}
    async with ctx.db.connection() as conn:
        for (first, after), providers in groups.items():
            for provider, rows in (await db.resources_of_providers(conn, viewer, providers, after, first + 1)).items():
                found[(provider, first, after)] = rows
    return [found.get(k, []) for k in keys]


async def _provider_count_batch(ctx: Context, keys: list[int]) -> list[int]:
    async with ctx.db.connection() as conn:
        found = await db.resource_counts_of_providers(conn, viewer_key(ctx.signed_in), keys)
    return [found.get(k, 0) for k in keys]


async def resources_of_organisation(
    root: OrganisationRow, ctx: Context, first: int | None, after: str | None
) -> Page[ResourceRow]:
    limit = checked_first(first)
    after_id = decode_id_cursor(after)
    rows = await ctx.loader(_provider_resources_batch).load((root.id, limit, after_id))

    async def count() -> int:
        return await ctx.loader(_provider_count_batch).load(root.id)

    return page_from_rows(rows, limit, lambda row: [row.id], count)


# The ledger of a need or a resource: batched per (need or resource, first, after).


async def _exchanges_batch(ctx: Context, keys: list[tuple[bool, int, int, int | None]]) -> list[list[ExchangeRow]]:
    groups: dict[tuple[bool, int, int | None], list[int]] = {}
    for by_need, parent, first, after in keys:
        groups.setdefault((by_need, first, after), []).append(parent)
    found: dict[tuple[bool, int, int, int | None], list[ExchangeRow]] = {}
    viewer = viewer_key(ctx.signed_in)
    async with ctx.db.connection() as conn:
        for (by_need, first, after), parents in groups.items():
            for parent, rows in (await db.exchanges_of(conn, viewer, by_need, parents, after, first + 1)).items():
                found[(by_need, parent, first, after)] = rows
    return [found.get(k, []) for k in keys]


async def _exchange_count_batch(ctx: Context, keys: list[tuple[bool, int]]) -> list[int]:
    found: dict[tuple[bool, int], int] = {}
    viewer = viewer_key(ctx.signed_in)
    async with ctx.db.connection() as conn:
        for by_need in (True, False):
            parents = [p for b, p in keys if b == by_need]
            if parents:
                for parent, n in (await db.exchange_counts_of(conn, viewer, by_need, parents)).items():
                    found[(by_need, parent)] = n
    return [found.get(k, 0) for k in keys]


async def exchanges_of(
    root: NeedRow | ResourceRow, ctx: Context, first: int | None, after: str | None
) -> Page[ExchangeRow]:
    """The exchanges of a need or a resource, oldest first; empty for those who may not see
    exchanges (residents), even where they see the resource."""
    limit = checked_first(first)
    after_id = decode_id_cursor(after)
    by_need = isinstance(root, NeedRow)
    rows = await ctx.loader(_exchanges_batch).load((by_need, root.id, limit, after_id))

    async def count() -> int:
        return await ctx.loader(_exchange_count_batch).load((by_need, root.id))

    return page_from_rows(rows, limit, lambda row: [row.id], count)


# --- root lists -------------------------------------------------------------------------


async def resources(
    ctx: Context,
    community_id: str | None,
    category: str | None,
    available: bool | None,
    first: int | None,
    after: str | None,
) -> Page[ResourceRow]:
    limit = checked_first(first)
    after_id = decode_id_cursor(after)
    f = db.ResourceFilter(
        community_id=ids.filter_key(community_id, "Community"), category=category, available=available
    )
    viewer = viewer_key(ctx.signed_in)
    async with ctx.db.connection() as conn:
        rows = await db.resources_page(conn, viewer, f, after_id, limit + 1)

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.resources_count(conn, viewer, f)

    return page_from_rows(rows, limit, lambda row: [row.id], count)


async def needs(
    ctx: Context,
    area_id: str | None,
    category: str | None,
    open_: bool | None,
    first: int | None,
    after: str | None,
) -> Page[NeedRow]:
    limit = checked_first(first)
    after_id = decode_id_cursor(after)
    f = db.NeedFilter(area_id=ids.filter_key(area_id, *AREA_TYPES.values()), category=category, open=open_)
    viewer = viewer_key(ctx.signed_in)
    async with ctx.db.connection() as conn:
        rows = await db.needs_page(conn, viewer, f, after_id, limit + 1)

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.needs_count(conn, viewer, f)

    return page_from_rows(rows, limit, lambda row: [row.id], count)


# --- who may act ------------------------------------------------------------------------


def _text(value: str, field: str) -> str:
    if not value.strip():
        raise Refusal(ErrorCode.INVALID, f"`{field}` may not be blank", field)
    return value.strip()


def _quantity(value: int) -> int:
    if value < 1:
        raise Refusal(ErrorCode.INVALID, "`quantity` must be at least 1", "quantity")
    if value > 1_000_000_000:
        raise Refusal(ErrorCode.INVALID, "`quantity` is too large", "quantity")
    return value


R = TypeVar("R")

# Each mutation reads (and locks) the row it acts on with the rule of who may act on it, in
# one statement (db/duallist.py); a row the viewer does not see is NOT_FOUND.


async def _locked_resource(conn: Conn, viewer: Viewer, global_id: str) -> tuple[ResourceRow, bool] | None:
    pk = ids.decode_as(global_id, "Resource")
    return await db.resource_for_update(conn, viewer_key(viewer), pk) if pk is not None else None


async def _locked_need(conn: Conn, viewer: Viewer, global_id: str) -> tuple[NeedRow, bool] | None:
    pk = ids.decode_as(global_id, "Need")
    return await db.need_for_update(conn, viewer_key(viewer), pk) if pk is not None else None


def _found(found: tuple[R, bool] | None, what: str, field: str) -> tuple[R, bool]:
    if found is None:
        raise Refusal(ErrorCode.NOT_FOUND, f"No such {what}", field)
    return found


# --- mutations --------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceInput:
    provider_id: str
    title: str
    description: str | None
    category: str
    quantity: int
    unit: str
    community_ids: list[str]
    available_until: datetime.datetime | None = None


async def publish_resource(ctx: Context, given: ResourceInput) -> Outcome[ResourceRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[ResourceRow, Audited]:
        provider_pk = ids.decode_as(given.provider_id, "Organisation")
        found = (
            await areas_db.administered_organisation(conn, provider_pk, viewer_key(viewer))
            if provider_pk is not None
            else None
        )
        if found is None or found[0].county_id != viewer.county_id:
            raise Refusal(ErrorCode.NOT_FOUND, "No such organisation", "providerId")
        provider, administers = found
        if not administers:
            raise Refusal(ErrorCode.FORBIDDEN, "Only the provider's unit admin or a county admin may publish", None)
        title = _text(given.title, "title")
        unit = _text(given.unit, "unit")
        quantity = _quantity(given.quantity)
        if not given.community_ids:
            raise Refusal(ErrorCode.INVALID, "Open the resource to at least one community", "communityIds")
        decoded = [ids.decode_as(g, "Community") for g in given.community_ids]
        known = await db.communities_of_county(conn, [d for d in decoded if d is not None], viewer.county_id)
        for index, pk in enumerate(decoded):
            if pk is None or pk not in known:
                raise Refusal(ErrorCode.INVALID, "Not a community of this county", ["communityIds", str(index)])
        until = given.available_until
        if until is not None:
            if until.tzinfo is None:
                raise Refusal(ErrorCode.INVALID, "`availableUntil` needs a UTC offset", "availableUntil")
            if until <= clock.now():
                raise Refusal(ErrorCode.INVALID, "`availableUntil` must lie in the future", "availableUntil")
        row = await db.insert_resource(
            conn,
            db.NewResource(
                county_id=viewer.county_id,
                provider_id=provider.id,
                title=title,
                description=given.description,
                category=given.category,
                quantity=quantity,
                unit=unit,
                available_until=until,
                community_ids=list(dict.fromkeys(d for d in decoded if d is not None)),
                created_by=viewer.user_id,
            ),
        )
        return row, Audited("Resource", row.id, {"quantity": quantity, "category": given.category})

    return await run(ctx, "publishResource", body)


async def withdraw_resource(ctx: Context, resource_id: str) -> Outcome[ResourceRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[ResourceRow, Audited]:
        resource, administers = _found(await _locked_resource(conn, viewer, resource_id), "resource", "resourceId")
        if not administers:
            raise Refusal(ErrorCode.FORBIDDEN, "Only the provider's unit admin or a county admin may withdraw", None)
        row = await db.withdraw_resource(conn, resource.id, viewer.user_id)
        if row is None:
            raise Refusal(ErrorCode.INVALID_STATE, "The resource is already withdrawn", "resourceId")
        return row, Audited("Resource", row.id)

    return await run(ctx, "withdrawResource", body)


@dataclass(frozen=True)
class NeedInput:
    area_id: str
    title: str
    category: str
    quantity: int
    description: str | None = None


async def publish_need(ctx: Context, given: NeedInput) -> Outcome[NeedRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[NeedRow, Audited]:
        area_pk = ids.decode_as(given.area_id, *AREA_TYPES.values())
        found = await areas_db.staffed_area(conn, area_pk, viewer_key(viewer)) if area_pk is not None else None
        if found is None or found[0].county_id != viewer.county_id:
            raise Refusal(ErrorCode.NOT_FOUND, "No such area", "areaId")
        area, staff = found
        if not staff:
            raise Refusal(ErrorCode.FORBIDDEN, "Only staff in scope of the area may publish its needs", None)
        if area.level in ("COUNTY", "TOWN"):
            raise Refusal(ErrorCode.INVALID, "A need belongs to a community or an area inside one", "areaId")
        title = _text(given.title, "title")
        quantity = _quantity(given.quantity)
        # path: county, town, community, ... (the tree's levels are fixed)
        community_id = int(area.path[2])
        row = await db.insert_need(
            conn,
            db.NewNeed(
                county_id=viewer.county_id,
                area_id=area.id,
                community_id=community_id,
                title=title,
                description=given.description,
                category=given.category,
                quantity=quantity,
                created_by=viewer.user_id,
            ),
        )
        return row, Audited("Need", row.id, {"quantity": quantity, "category": given.category})

    return await run(ctx, "publishNeed", body)


async def close_need(ctx: Context, need_id: str) -> Outcome[NeedRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[NeedRow, Audited]:
        need, staff = _found(await _locked_need(conn, viewer, need_id), "need", "needId")
        if not staff:
            raise Refusal(ErrorCode.FORBIDDEN, "Only staff in scope of the need may close it", None)
        row = await db.close_need(conn, need.id, viewer.user_id)
        if row is None:
            raise Refusal(ErrorCode.INVALID_STATE, "The need is already closed", "needId")
        return row, Audited("Need", row.id)

    return await run(ctx, "closeNeed", body)


MAX_KEY = 100


async def allocate(
    ctx: Context, resource_id: str, need_id: str, quantity: int, idempotency_key: str | None = None
) -> Outcome[ExchangeRow]:
    """Allocate; with an `idempotency_key` this user used before, the exchange then made
    comes back and nothing else happens (also when two such calls race)."""
    viewer = ctx.signed_in
    key = idempotency_key.strip() or None if idempotency_key is not None else None
    if key is not None and len(key) > MAX_KEY:
        return Outcome(None, [UserError(f"At most {MAX_KEY} characters", ErrorCode.INVALID, ["idempotencyKey"])])

    async def body(conn: Conn) -> tuple[ExchangeRow, Audited]:
        if key is not None:
            earlier = await db.exchange_by_idempotency_key(conn, viewer.user_id, key)
            if earlier is not None:  # a repeated call: its exchange, nothing new
                return earlier, Audited("Exchange", earlier.id, {"idempotencyKey": key, "repeated": True})
        # locked in the order of every allocation (db/duallist.py): resource, then need
        locked_resource = await _locked_resource(conn, viewer, resource_id)
        need, staff = _found(await _locked_need(conn, viewer, need_id), "need", "needId")
        resource, _ = _found(locked_resource, "resource", "resourceId")
        if not staff:
            raise Refusal(ErrorCode.FORBIDDEN, "Only staff in scope of the need may allocate to it", None)
        if resource.category != need.category:
            raise Refusal(ErrorCode.INVALID, "The resource is not of the need's category", "resourceId")
        opened = await db.communities_by_resource(conn, [resource.id])
        if need.community_id not in opened.get(resource.id, []):
            raise Refusal(ErrorCode.INVALID, "The resource is not open to the need's community", "resourceId")
        _quantity(quantity)
        if need.closed_at is not None:
            raise Refusal(ErrorCode.INVALID_STATE, "The need is closed", "needId")
        # the guards: both conditional UPDATEs, resource first, in one statement (db.ALLOCATE)
        done = await db.allocate(conn, resource.id, need.id, quantity, viewer.user_id, key)
        if not done.taken:
            now = (await db.resources_by_id(conn, [resource.id]))[resource.id]
            if now.status in ("WITHDRAWN", "EXPIRED"):
                raise Refusal(ErrorCode.INVALID_STATE, f"The resource is {now.status.lower()}", "resourceId")
            raise Refusal(
                ErrorCode.INSUFFICIENT_QUANTITY, f"Only {now.remaining} {now.unit} remain of the resource", "quantity"
            )
        if not done.added or done.exchange is None:
            now_need = (await db.needs_by_id(conn, [need.id]))[need.id]
            if now_need.closed_at is not None:
                raise Refusal(ErrorCode.INVALID_STATE, "The need is closed", "needId")
            raise Refusal(ErrorCode.EXCEEDS_NEED, f"The need lacks only {now_need.shortfall}", "quantity")
        exchange = done.exchange
        return exchange, Audited("Exchange", exchange.id, {"quantity": quantity, "idempotencyKey": key})

    try:
        outcome = await run(ctx, "allocate", body)
    except asyncpg.UniqueViolationError:
        # a call with the same key committed first (this one rolled back): its exchange
        assert key is not None, "only the idempotency key is unique among exchanges"
        async with ctx.db.connection() as conn:
            earlier = await db.exchange_by_idempotency_key(conn, viewer.user_id, key)
        assert earlier is not None, "the conflicting exchange has committed"
        return Outcome(earlier, [])
    except asyncpg.CheckViolationError as error:  # the database's last word, should the guards be bypassed
        code = ErrorCode.EXCEEDS_NEED if "needs" in (error.table_name or "") else ErrorCode.INSUFFICIENT_QUANTITY
        return Outcome(None, [UserError("The quantity is no longer there", code, ["quantity"])])
    return outcome


async def _settle(ctx: Context, exchange_id: str, action: str, reason: str | None) -> Outcome[ExchangeRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[ExchangeRow, Audited]:
        pk = ids.decode_as(exchange_id, "Exchange")
        locked = await db.exchange_for_update(conn, viewer_key(viewer), pk) if pk is not None else None
        exchange, party = _found(locked, "exchange", "exchangeId")
        if not party:
            raise Refusal(ErrorCode.FORBIDDEN, "Only the provider or staff in scope of the need may do this", None)
        if action == "completeExchange":
            row = await db.complete_exchange(conn, exchange.id, viewer.user_id)
        else:
            row = await db.cancel_exchange(conn, exchange.id, viewer.user_id, reason)
        if row is None:
            now = (await db.exchanges_by_id(conn, [exchange.id]))[exchange.id]
            raise Refusal(ErrorCode.INVALID_STATE, f"The exchange is already {now.status.lower()}", "exchangeId")
        return row, Audited("Exchange", row.id, {"reason": reason} if reason else None)

    return await run(ctx, action, body)


async def complete_exchange(ctx: Context, exchange_id: str) -> Outcome[ExchangeRow]:
    return await _settle(ctx, exchange_id, "completeExchange", None)


async def cancel_exchange(ctx: Context, exchange_id: str, reason: str | None) -> Outcome[ExchangeRow]:
    return await _settle(ctx, exchange_id, "cancelExchange", reason)
