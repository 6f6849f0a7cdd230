"""Service orders: who may see and do what, the mutations, the list and the loaders.

The workflow itself (which transition from which states to which, by whom) is the table
`resolvers.order_workflow.TRANSITIONS`; this module only checks the parties and the inputs."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from db import areas as areas_db
from db import orders as db
from db import pairings as pairings_db
from db.areas import OrganisationRow, PersonRow
from db.orders import CategoryRow, Changes, OrderEventRow, OrderFilter, OrderRow, Party
from db.pool import Conn
from gongjian import clock
from resolvers import access, ids, nodes, relations
from resolvers.access import viewer_key
from resolvers.areas import organisation_by_id, person_by_id
from resolvers.context import Context
from resolvers.errors import ErrorCode, Refusal, UserError
from resolvers.loading import grouped, keyed
from resolvers.mutations import Audited, run
from resolvers.order_workflow import TRANSITIONS
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows
from resolvers.viewer import Role

MAX_TITLE = 200
MAX_TEXT = 2000
MAX_KEY = 100


@dataclass(frozen=True)
class OrderPayload:
    order: OrderRow | None
    user_errors: list[UserError] = field(default_factory=list)


# --- loaders -------------------------------------------------------------------------


order_by_id = keyed(db.orders_by_id)


timeline_by_order = grouped(db.events_of_orders)
relations.register_children("OrderEvent", "order_id", timeline_by_order)


event_by_id = keyed(db.events_by_id)


async def category_by_code(ctx: Context, keys: list[str]) -> list[CategoryRow | None]:
    async with ctx.db.connection() as conn:
        found = {c.code: c for c in await db.categories(conn)}
    return [found.get(k) for k in keys]


# --- who is who for an order -----------------------------------------------------------


async def order_parties(ctx: Context, keys: list[int]) -> list[frozenset[Party]]:
    """Batch: the parties of each order the viewer is (the SQL rule `order_parties`); none:
    the viewer may not see it."""
    viewer = ctx.viewer
    if viewer is None:
        return [frozenset() for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.order_parties(conn, keys, viewer_key(viewer))
    return [found.get(k, frozenset()) for k in keys]


async def visible_orders(ctx: Context, keys: list[int]) -> list[OrderRow | None]:
    """`node(id)`: the order when the viewer is one of its parties."""
    found = await ctx.loader(order_parties).load_many(keys)
    rows = await ctx.loader(order_by_id).load_many([k for k, p in zip(keys, found, strict=True) if p])
    visible = {r.id: r for r in rows if r is not None}
    return [visible.get(k) for k in keys]


nodes.register("ServiceOrder", visible_orders)


# --- fields ----------------------------------------------------------------------------


ContactKey = tuple[int, int, str]  # order id, household id, the reason the viewer reads it


async def contacts_batch(ctx: Context, keys: list[ContactKey]) -> list[PersonRow | None]:
    """The contact person of each order, in one statement, and one audit statement for them all."""
    async with ctx.db.connection() as conn:
        found = await db.order_contacts(conn, [k[0] for k in keys])
        await access.audit_household_reads(ctx, conn, "contact", {h: reason for _, h, reason in keys})
    people = await ctx.loader(person_by_id).load_many([found.get(k[0], 0) for k in keys])
    return list(people)


# while the order is with its assignee, the assignee reads who to contact (an audited reason)
CONTACT_STATES = frozenset({"DISPATCHED", "ACCEPTED"})


@dataclass(frozen=True)
class OrderContact:
    name: str
    phone: str | None


async def contact_of(root: OrderRow, ctx: Context) -> OrderContact | None:
    """The ordering person's name and phone: for the household's members and staff in scope,
    and for the assignee (or the assigned unit's members and admins) while the order is
    DISPATCHED or ACCEPTED. Reads by staff and assignees are audited; others get null."""
    viewer = ctx.viewer
    if viewer is None or viewer.api_token_id is not None:
        return None
    roles = await ctx.loader(order_parties).load(root.id)
    if Party.HOUSEHOLD in roles:
        reason = "MEMBER"
    elif Party.STAFF in roles:
        reason = "STAFF"
    elif Party.ASSIGNEE in roles and root.status in CONTACT_STATES:
        reason = "ASSIGNEE"
    else:
        return None
    person = await ctx.loader(contacts_batch).load((root.id, root.household_id, reason))
    return None if person is None else OrderContact(person.name, person.phone)


async def assignee_unit_of(root: OrderRow, ctx: Context) -> OrganisationRow | None:
    if root.assignee_unit_id is None:
        return None
    return await ctx.loader(organisation_by_id).load(root.assignee_unit_id)


async def category_of(root: OrderRow, ctx: Context) -> CategoryRow | None:
    return await ctx.loader(category_by_code).load(root.category)


async def order_of_event(root: OrderEventRow, ctx: Context) -> OrderRow | None:
    """Always visible with the event: an event is read in its order's timeline, or by an
    `orderEvents` subscriber who is checked to be the order's STAFF party before each event."""
    if root.order is not None:
        return root.order
    return await ctx.loader(order_by_id).load(root.order_id)


# --- queries ---------------------------------------------------------------------------


def order_filter(
    community_id: str | None,
    status: str | None,
    assignee_id: str | None,
    overdue: bool | None,
    escalated: bool | None,
) -> OrderFilter:
    """`assigneeId` may name a person or an organisation (a unit)."""
    person = unit = None
    if assignee_id is not None:
        decoded = ids.decode(assignee_id)
        if decoded is not None and decoded[0] == "Person":
            person = decoded[1]
        elif decoded is not None and decoded[0] == "Organisation":
            unit = decoded[1]
        else:
            person = ids.NOTHING
    return OrderFilter(
        community_id=ids.filter_key(community_id, "Community"),
        status=status,
        assignee_id=person,
        assignee_unit_id=unit,
        overdue=overdue,
        escalated=escalated,
    )


async def service_orders(ctx: Context, flt: OrderFilter, first: int | None, after: str | None) -> Page[OrderRow]:
    limit = checked_first(first)
    after_id = decode_id_cursor(after)
    signed_in = ctx.signed_in
    viewer = viewer_key(signed_in)
    # the SQL rule decides either way; this only picks which orders it is asked about
    staff = signed_in.api_token_id is None and bool(signed_in.area_scopes(Role.COUNTY_ADMIN, Role.COMMUNITY_STAFF))
    async with ctx.db.connection() as conn:
        rows = await db.list_orders(conn, viewer, flt, after=after_id, limit=limit + 1, staff=staff)

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.count_orders(conn, viewer, flt, staff=staff)

    return page_from_rows(rows, limit, lambda r: [r.id], count)


async def service_categories(ctx: Context) -> list[CategoryRow]:
    async with ctx.db.connection() as conn:
        return await db.categories(conn)


# --- mutations -------------------------------------------------------------------------


def _text(value: str | None, name: str, *, required: bool, limit: int = MAX_TEXT) -> str | None:
    if value is None or not value.strip():
        if required:
            raise Refusal(ErrorCode.INVALID, f"`{name}` must not be blank", name)
        return None
    if len(value) > limit:
        raise Refusal(ErrorCode.INVALID, f"`{name}` may hold at most {limit} characters", name)
    return value.strip()


async def _order_for(ctx: Context, order_id: str, conn: Conn) -> tuple[OrderRow, frozenset[Party]]:
    """The order an input names, and the viewer's parties of it; NOT_FOUND when invisible."""
    pk = ids.decode_as(order_id, "ServiceOrder")
    row = await db.order_by_id(conn, pk) if pk is not None else None
    found = await _parties(conn, ctx, row.id) if row is not None else frozenset()
    if row is None or not found:
        raise Refusal(ErrorCode.NOT_FOUND, "No such service order", "orderId")
    return row, found


async def _parties(conn: Conn, ctx: Context, order_id: int) -> frozenset[Party]:
    """The viewer's parties of the order, read in the mutation's transaction."""
    return (await db.order_parties(conn, [order_id], viewer_key(ctx.signed_in))).get(order_id, frozenset())


def _require(name: str, roles: frozenset[Party]) -> None:
    if not roles & TRANSITIONS[name].who:
        raise Refusal(ErrorCode.FORBIDDEN, "You may not do this to this order", "orderId")


async def _transition(
    ctx: Context,
    conn: Conn,
    name: str,
    order: OrderRow,
    roles: frozenset[Party],
    *,
    note: str | None,
    changes: Changes = Changes(),  # noqa: B008 - frozen
) -> tuple[OrderRow, Audited]:
    viewer = ctx.signed_in
    _require(name, roles)
    updated = await db.transition(
        conn,
        TRANSITIONS[name],
        order,
        actor_user_id=viewer.user_id,
        actor_person_id=viewer.person_id,
        note=note,
        changes=changes,
    )
    if updated is None:
        now = await db.order_by_id(conn, order.id)
        assert now is not None, "orders are never deleted"
        # reassigned since it was read: the viewer may no longer see it, or no longer do this
        now_roles = await _parties(conn, ctx, now.id)
        if not now_roles:
            raise Refusal(ErrorCode.NOT_FOUND, "No such service order", "orderId")
        _require(name, now_roles)
        raise Refusal(ErrorCode.INVALID_STATE, f"Not possible while the order is {now.status}", "orderId")
    return updated, Audited("ServiceOrder", order.id, {"status": updated.status})


Body = Callable[[Conn], Awaitable[tuple[OrderRow, Audited]]]


async def _run(ctx: Context, action: str, body: Body) -> OrderPayload:
    try:
        outcome = await run(ctx, action, body)
    except asyncpg.CheckViolationError as exc:  # a guard the checks above should have caught
        return OrderPayload(
            None, [UserError(f"Refused by a rule of the data: {exc.constraint_name}", ErrorCode.INVALID)]
        )
    return OrderPayload(outcome.value, outcome.user_errors)


async def place_order(
    ctx: Context,
    household_id: str,
    title: str,
    description: str | None,
    category: str,
    idempotency_key: str | None,
) -> OrderPayload:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[OrderRow, Audited]:
        pk = ids.decode_as(household_id, "Household")
        found = await areas_db.household_to_order_for(conn, pk, viewer_key(viewer)) if pk is not None else None
        if found is None or found[0].county_id != viewer.county_id:
            raise Refusal(ErrorCode.NOT_FOUND, "No such household", "householdId")
        household, may_order = found
        if not may_order:
            raise Refusal(
                ErrorCode.FORBIDDEN,
                "Only the household itself, staff in scope or the building's head may order for it",
                "householdId",
            )
        clean_title = _text(title, "title", required=True, limit=MAX_TITLE)
        assert clean_title is not None
        clean_description = _text(description, "description", required=False)
        key = _text(idempotency_key, "idempotencyKey", required=False, limit=MAX_KEY)
        try:
            row = await db.create_order(
                conn,
                county_id=household.county_id,
                household_id=household.id,
                community_id=household.path[2],
                title=clean_title,
                description=clean_description,
                category=category,
                placed_by=viewer.user_id,
                actor_person_id=viewer.person_id,
                idempotency_key=key,
            )
        except db.UnknownCategory:
            raise Refusal(ErrorCode.INVALID, f"No service category {category!r}", "category") from None
        return row, Audited("ServiceOrder", row.id, {"number": row.number, "idempotencyKey": key})

    return await _run(ctx, "placeOrder", body)


async def dispatch_order(
    ctx: Context,
    order_id: str,
    assignee_id: str | None,
    assignee_unit_id: str | None,
    due_at: datetime.datetime | None,
) -> OrderPayload:
    async def body(conn: Conn) -> tuple[OrderRow, Audited]:
        order, roles = await _order_for(ctx, order_id, conn)
        if not roles & TRANSITIONS["dispatchOrder"].who:
            raise Refusal(ErrorCode.FORBIDDEN, "Only staff in scope may dispatch this order", "orderId")
        if (assignee_id is None) == (assignee_unit_id is None):
            raise Refusal(ErrorCode.INVALID, "Give exactly one of `assigneeId` and `assigneeUnitId`", "assigneeId")
        person = unit = None
        if assignee_id is not None:
            pk = ids.decode_as(assignee_id, "Person")
            found = (await areas_db.persons_by_id(conn, [pk])).get(pk) if pk is not None else None
            if found is None or found.county_id != order.county_id or not found.party_member:
                raise Refusal(ErrorCode.INVALID, "The assignee must be a party member of the county", "assigneeId")
            if not await pairings_db.confirmed_with(conn, found.id, order.community_id):
                raise Refusal(
                    ErrorCode.INVALID,
                    "The assignee has no confirmed registration (双报到) with the order's community",
                    "assigneeId",
                )
            person = found.id
        else:
            assert assignee_unit_id is not None
            pk = ids.decode_as(assignee_unit_id, "Organisation")
            org = (await areas_db.organisations_by_id(conn, [pk])).get(pk) if pk is not None else None
            serves = org is not None and await db.takes_orders_of(conn, org.id, order.household_id)
            if org is None or org.county_id != order.county_id or not serves:
                raise Refusal(
                    ErrorCode.INVALID,
                    "The assignee must be a unit of the county, or the property company serving the compound",
                    "assigneeUnitId",
                )
            unit = org.id
        if due_at is not None:
            if due_at.tzinfo is None:
                raise Refusal(ErrorCode.INVALID, "`dueAt` needs a UTC offset", "dueAt")
            if due_at <= clock.now():
                raise Refusal(ErrorCode.INVALID, "`dueAt` must lie in the future", "dueAt")
        return await _transition(
            ctx,
            conn,
            "dispatchOrder",
            order,
            roles,
            note=None,
            changes=Changes(assignee_id=person, assignee_unit_id=unit, due_at=due_at),
        )

    return await _run(ctx, "dispatchOrder", body)


def _simple(
    name: str, note_field: str | None = None, *, required: bool = False
) -> Callable[..., Awaitable[OrderPayload]]:
    """A transition whose input is the order and, optionally, one text that becomes the note."""

    async def mutate(ctx: Context, order_id: str, text: str | None = None) -> OrderPayload:
        async def body(conn: Conn) -> tuple[OrderRow, Audited]:
            order, roles = await _order_for(ctx, order_id, conn)
            _require(name, roles)
            note = _text(text, note_field, required=required) if note_field else None
            changes = Changes(resolution=note) if name == "completeOrder" else Changes()
            return await _transition(ctx, conn, name, order, roles, note=note, changes=changes)

        return await _run(ctx, name, body)

    return mutate


accept_order = _simple("acceptOrder")
return_order = _simple("returnOrder", "reason", required=True)
complete_order = _simple("completeOrder", "resolution", required=True)
cancel_order = _simple("cancelOrder", "reason")


async def rate_order(ctx: Context, order_id: str, score: int, comment: str | None) -> OrderPayload:
    async def body(conn: Conn) -> tuple[OrderRow, Audited]:
        order, roles = await _order_for(ctx, order_id, conn)
        if not roles & TRANSITIONS["rateOrder"].who:
            raise Refusal(ErrorCode.FORBIDDEN, "Only the household that placed the order may rate it", "orderId")
        if not 1 <= score <= 5:
            raise Refusal(ErrorCode.INVALID, "`score` must be from 1 to 5", "score")
        clean = _text(comment, "comment", required=False)
        return await _transition(
            ctx, conn, "rateOrder", order, roles, note=clean, changes=Changes(rating=score, rating_comment=clean)
        )

    return await _run(ctx, "rateOrder", body)
