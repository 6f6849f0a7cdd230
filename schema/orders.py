"""Service orders (居民下单、社区派单、党员接单): the resident places, the community
dispatches, a party member or unit accepts and completes, the resident rates."""

from __future__ import annotations

import datetime
import enum
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db.attachments import AttachmentRow
from db.meetings import ResolutionRow
from db.orders import CANDIDATES, CategoryRow, OrderEventRow, OrderRow
from resolvers import events as ev
from resolvers import orders as r
from resolvers import rules
from resolvers.compiled import declarations as compiled
from resolvers.compiled import planner as compiled_planner
from resolvers.compiled.planner import TOKEN, USER
from resolvers.pagination import Page
from resolvers.permissions import SignedIn, described
from schema.areas import Community, Household, Organisation, Person
from schema.attachments import Attachment, attachments_field, of_subject
from schema.base import FILTER, INPUT, After, Connection, First, Node, UserError, is_row
from schema.derived import declared, of_rule, own_resolvers

if TYPE_CHECKING:
    from schema.meetings import Resolution


@strawberry.enum(description="Where a service order stands in its workflow")
class OrderStatus(enum.Enum):
    SUBMITTED = strawberry.enum_value("SUBMITTED", description="Placed (下单), waiting to be dispatched")
    DISPATCHED = strawberry.enum_value("DISPATCHED", description="Dispatched (派单) to a party member or unit")
    ACCEPTED = strawberry.enum_value("ACCEPTED", description="Accepted (接单) by the assignee")
    COMPLETED = strawberry.enum_value("COMPLETED", description="Done by the assignee, waiting for the rating")
    CLOSED = strawberry.enum_value("CLOSED", description="Rated by the household (评价) and closed")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Cancelled before it was accepted")


@strawberry.enum(description="What happened to a service order: one entry of its timeline")
class OrderAction(enum.Enum):
    PLACED = strawberry.enum_value("PLACED", description="The order was placed (下单)")
    DISPATCHED = strawberry.enum_value("DISPATCHED", description="Dispatched or reassigned (派单)")
    ACCEPTED = strawberry.enum_value("ACCEPTED", description="Accepted by the assignee (接单)")
    RETURNED = strawberry.enum_value("RETURNED", description="Handed back by the assignee, with a reason")
    COMPLETED = strawberry.enum_value("COMPLETED", description="Completed, with a resolution")
    RATED = strawberry.enum_value("RATED", description="Rated by the household, which closes it")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Cancelled")


@strawberry.type(description="A kind of service a household can order, with its time limits")
class ServiceCategory:
    is_type_of = is_row(CategoryRow)
    code: str = strawberry.field(description="The code `placeOrder.category` takes, e.g. REPAIR")
    name: str = strawberry.field(description="Its name, e.g. 维修")
    due_hours: int = strawberry.field(description="Default hours from dispatch to `dueAt`")
    accept_hours: int = strawberry.field(
        description="Hours a dispatched order may wait for acceptance before it is escalated"
    )


@strawberry.type(description="Who to contact about a service order: personal data")
class OrderContact:
    name: str = strawberry.field(description="Name")
    phone: str | None = strawberry.field(description="Phone")


async def _follow_up_of(root: OrderRow, info: Info[Any, Any]) -> ResolutionRow | None:
    from resolvers.meetings import originating_resolution

    return await originating_resolution(root.id, info.context)


@strawberry.type(description="A service order (服务订单) placed for a household")
class ServiceOrder(Node):
    is_type_of = is_row(OrderRow)
    number: str = strawberry.field(description="Readable number, unique: county code, local date, counter")
    status: OrderStatus = strawberry.field(description="Where it stands in its lifecycle")
    title: str = strawberry.field(description="Short title, e.g. 水管漏水")
    description: str | None = strawberry.field(description="Details given by the household")
    category: str = strawberry.field(description="The code of its service category")
    service_category: ServiceCategory | None = strawberry.field(
        resolver=of_rule(r.category_of), description="Its service category, with the time limits"
    )
    created_at: datetime.datetime = strawberry.field(description="When it was placed")
    updated_at: datetime.datetime = strawberry.field(description="When it last changed")
    dispatched_at: datetime.datetime | None = strawberry.field(description="When it was last dispatched")
    due_at: datetime.datetime | None = strawberry.field(description="When the assignee should have completed it")
    overdue: bool = strawberry.field(description="`dueAt` has passed and it is DISPATCHED or ACCEPTED")
    escalated: bool = strawberry.field(
        description="DISPATCHED and not accepted within its category's `acceptHours` (derived at read time)"
    )
    resolution: str | None = strawberry.field(description="What the assignee did, given on completion")
    rating: int | None = strawberry.field(description="The household's score, 1 to 5")
    rating_comment: str | None = strawberry.field(description="The household's comment with its rating")
    household: Household = declared("The household it is for")
    community: Community = declared("The community of its household")
    assignee: Person | None = declared("The party member it is assigned to")
    assignee_unit: Organisation | None = strawberry.field(
        resolver=of_rule(r.assignee_unit_of), description="The unit it is assigned to"
    )
    timeline: list[OrderEvent] = declared("Every transition, oldest first; never rewritten")
    contact: OrderContact | None = strawberry.field(
        resolver=of_rule(r.contact_of),
        description="Who to contact about it (the ordering person, else the household's first member): personal "
        "data, for the household, staff in scope and, while it is DISPATCHED or ACCEPTED, its assignee (or the "
        "assigned unit's members and admins); reads by staff and assignees are audited. Null for everyone else",
    )
    # community life: the meeting resolution this order follows up (added by the life domain)
    follow_up_of: ResolutionRow | None = strawberry.field(
        resolver=_follow_up_of,
        graphql_type=Annotated["Resolution", strawberry.lazy("schema.meetings")] | None,
        description="The meeting resolution (决议) this order follows up, if any",
    )
    attachments: list[AttachmentRow] = strawberry.field(
        resolver=attachments_field,
        graphql_type=list[Attachment],
        description="Photos and documents (照片和文件), oldest first",
    )


@strawberry.type(description="One transition of a service order: an entry of its timeline")
class OrderEvent:
    is_type_of = is_row(OrderEventRow)
    at: datetime.datetime = strawberry.field(description="When it happened")
    action: OrderAction = strawberry.field(description="What happened")
    status: OrderStatus = declared("The status the transition led to")
    note: str | None = strawberry.field(description="Reason, resolution or comment given with it")
    actor: Person | None = declared("Who did it (null for a user without a person)")
    order: ServiceOrder = strawberry.field(resolver=of_rule(r.order_of_event), description="The order (as it is now)")


@strawberry.input(description="Narrows `serviceOrders`; every given condition must hold")
class ServiceOrderFilter:
    community_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Only orders of households in this community"
    )
    status: OrderStatus | None = strawberry.field(default=strawberry.UNSET, description="Only orders in this status")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="A Person (assignee) or an Organisation (assigned unit)"
    )
    overdue: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Only overdue (or not overdue) orders"
    )
    escalated: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Only escalated (or not escalated) orders"
    )


def _value(v: Any) -> Any:
    return None if v is strawberry.UNSET else v


async def _service_orders(
    info: Info[Any, Any],
    filter: Annotated[ServiceOrderFilter | None, FILTER] = None,
    first: First = None,
    after: After = None,
) -> Page[OrderRow]:
    f = filter or ServiceOrderFilter()
    status = _value(f.status)
    flt = r.order_filter(
        _value(f.community_id),
        status.value if status is not None else None,
        _value(f.assignee_id),
        _value(f.overdue),
        _value(f.escalated),
    )
    return await r.service_orders(info.context, flt, first, after)


async def _service_categories(info: Info[Any, Any]) -> list[CategoryRow]:
    return await r.service_categories(info.context)


@strawberry.type
class OrdersQuery:
    service_orders: Page[OrderRow] = strawberry.field(
        resolver=_service_orders,
        graphql_type=Connection[ServiceOrder],
        permission_classes=[SignedIn],
        description=described(
            "Service orders the viewer may see: their household's, those assigned to them or their "
            "unit, those in their scope as staff; newest first",
            rules.ORDER_PARTIES,
        ),
    )
    service_categories: list[CategoryRow] = strawberry.field(
        resolver=_service_categories,
        graphql_type=list[ServiceCategory],
        permission_classes=[SignedIn],
        description=described("The categories a service order can have, with their time limits", rules.SIGNED_IN),
    )


@strawberry.input(description="A household's request for a service")
class PlaceOrderInput:
    household_id: strawberry.ID = strawberry.field(description="The household it is for")
    title: str = strawberry.field(description="Short title, e.g. 水管漏水")
    description: str | None = strawberry.field(default=None, description="Details")
    category: str = strawberry.field(description="A `ServiceCategory.code`")
    idempotency_key: str | None = strawberry.field(
        default=None, description="Repeating a call with the same key returns the first order and creates nothing"
    )


@strawberry.input(description="Whom to dispatch an order to: exactly one of `assigneeId` and `assigneeUnitId`")
class DispatchOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order")
    assignee_id: strawberry.ID | None = strawberry.field(default=None, description="A party member (Person)")
    assignee_unit_id: strawberry.ID | None = strawberry.field(default=None, description="A unit (Organisation)")
    due_at: datetime.datetime | None = strawberry.field(
        default=None, description="Defaults to now plus the category's `dueHours`"
    )


@strawberry.input(description="The order to accept")
class AcceptOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order")


@strawberry.input(description="The order to hand back, and why")
class ReturnOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order")
    reason: str = strawberry.field(description="Why it goes back to the community")


@strawberry.input(description="The order to complete, and what was done")
class CompleteOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order")
    resolution: str = strawberry.field(description="What was done")


@strawberry.input(description="The household's rating of a completed order")
class RateOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order")
    score: int = strawberry.field(description="1 (poor) to 5 (excellent)")
    comment: str | None = strawberry.field(default=None, description="The household's comment")


@strawberry.input(description="The order to cancel, and optionally why")
class CancelOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order")
    reason: str | None = strawberry.field(default=None, description="Why it is cancelled")


@strawberry.type(description="The placed order, or why not")
class PlaceOrderPayload:
    order: ServiceOrder | None = strawberry.field(description="The order, as it is after the mutation")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty when done")


@strawberry.type(description="The dispatched order, or why not")
class DispatchOrderPayload:
    order: ServiceOrder | None = strawberry.field(description="The order, as it is after the mutation")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty when done")


@strawberry.type(description="The accepted order, or why not")
class AcceptOrderPayload:
    order: ServiceOrder | None = strawberry.field(description="The order, as it is after the mutation")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty when done")


@strawberry.type(description="The returned order, or why not")
class ReturnOrderPayload:
    order: ServiceOrder | None = strawberry.field(description="The order, as it is after the mutation")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty when done")


@strawberry.type(description="The completed order, or why not")
class CompleteOrderPayload:
    order: ServiceOrder | None = strawberry.field(description="The order, as it is after the mutation")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty when done")


@strawberry.type(description="The rated (closed) order, or why not")
class RateOrderPayload:
    order: ServiceOrder | None = strawberry.field(description="The order, as it is after the mutation")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty when done")


@strawberry.type(description="The cancelled order, or why not")
class CancelOrderPayload:
    order: ServiceOrder | None = strawberry.field(description="The order, as it is after the mutation")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty when done")


async def _place(info: Info[Any, Any], input: Annotated[PlaceOrderInput, INPUT]) -> r.OrderPayload:
    return await r.place_order(
        info.context, input.household_id, input.title, input.description, input.category, input.idempotency_key
    )


async def _dispatch(info: Info[Any, Any], input: Annotated[DispatchOrderInput, INPUT]) -> r.OrderPayload:
    return await r.dispatch_order(info.context, input.order_id, input.assignee_id, input.assignee_unit_id, input.due_at)


async def _accept(info: Info[Any, Any], input: Annotated[AcceptOrderInput, INPUT]) -> r.OrderPayload:
    return await r.accept_order(info.context, input.order_id)


async def _return(info: Info[Any, Any], input: Annotated[ReturnOrderInput, INPUT]) -> r.OrderPayload:
    return await r.return_order(info.context, input.order_id, input.reason)


async def _complete(info: Info[Any, Any], input: Annotated[CompleteOrderInput, INPUT]) -> r.OrderPayload:
    return await r.complete_order(info.context, input.order_id, input.resolution)


async def _rate(info: Info[Any, Any], input: Annotated[RateOrderInput, INPUT]) -> r.OrderPayload:
    return await r.rate_order(info.context, input.order_id, input.score, input.comment)


async def _cancel(info: Info[Any, Any], input: Annotated[CancelOrderInput, INPUT]) -> r.OrderPayload:
    return await r.cancel_order(info.context, input.order_id, input.reason)


@strawberry.type
class OrdersMutation:
    place_order: r.OrderPayload = strawberry.mutation(
        resolver=_place,
        graphql_type=PlaceOrderPayload,
        permission_classes=[SignedIn],
        description=described(
            "Place a service order (下单): a resident for their household, or staff in scope for one",
            rules.HOUSEHOLD_MEMBER,
        ),
    )
    dispatch_order: r.OrderPayload = strawberry.mutation(
        resolver=_dispatch,
        graphql_type=DispatchOrderPayload,
        permission_classes=[SignedIn],
        description=described(
            "Dispatch (派单) a SUBMITTED order, or reassign a DISPATCHED one: staff in scope",
            rules.ORDER_PARTIES,
            rules.ORDER_WORKFLOW,
        ),
    )
    accept_order: r.OrderPayload = strawberry.mutation(
        resolver=_accept,
        graphql_type=AcceptOrderPayload,
        permission_classes=[SignedIn],
        description=described(
            "Accept (接单) a DISPATCHED order: the assignee, or a member or UNIT_ADMIN of the assigned unit",
            rules.ORDER_PARTIES,
            rules.ORDER_WORKFLOW,
        ),
    )
    return_order: r.OrderPayload = strawberry.mutation(
        resolver=_return,
        graphql_type=ReturnOrderPayload,
        permission_classes=[SignedIn],
        description=described(
            "Hand a DISPATCHED or ACCEPTED order back to the community (SUBMITTED): the assignee",
            rules.ORDER_PARTIES,
            rules.ORDER_WORKFLOW,
        ),
    )
    complete_order: r.OrderPayload = strawberry.mutation(
        resolver=_complete,
        graphql_type=CompleteOrderPayload,
        permission_classes=[SignedIn],
        description=described(
            "Complete an ACCEPTED order with its resolution: the assignee", rules.ORDER_PARTIES, rules.ORDER_WORKFLOW
        ),
    )
    rate_order: r.OrderPayload = strawberry.mutation(
        resolver=_rate,
        graphql_type=RateOrderPayload,
        permission_classes=[SignedIn],
        description=described(
            "Rate (评价) a COMPLETED order, which closes it: the household that placed it",
            rules.ORDER_PARTIES,
            rules.ORDER_WORKFLOW,
        ),
    )
    cancel_order: r.OrderPayload = strawberry.mutation(
        resolver=_cancel,
        graphql_type=CancelOrderPayload,
        permission_classes=[SignedIn],
        description=described(
            "Cancel a SUBMITTED or DISPATCHED order: the household that placed it, or staff in scope",
            rules.ORDER_PARTIES,
            rules.ORDER_WORKFLOW,
        ),
    )


async def _order_events(
    info: Info[Any, Any],
    community_id: Annotated[strawberry.ID, strawberry.argument(description="The community to follow")],
) -> AsyncGenerator[OrderEventRow, None]:
    async for event in ev.order_events(info.context, community_id):
        yield event


@strawberry.type
class OrdersSubscription:
    order_events: AsyncGenerator[OrderEventRow, None] = strawberry.subscription(
        resolver=_order_events,
        graphql_type=AsyncGenerator[OrderEvent, None],
        permission_classes=[SignedIn],
        description=described(
            "Every transition of every order of the community, from whichever server handled it: "
            "staff in scope. Ends with an error when events may have been missed; subscribe again then.",
            rules.ORDER_PARTIES,
        ),
    )


ALL_TYPES = [ServiceOrder, OrderEvent, ServiceCategory]


# --- the compiled read path: each type's SQL, declared once (resolvers/compiled) -------------

# the rule `order_parties` (migration 0020): the orders the viewer is a party of
_ORDER_VISIBLE = "EXISTS (SELECT 1 FROM {viewer_from} w WHERE order_parties({row}, w) <> '{{}}')"
compiled.declare(
    "ServiceOrder",
    compiled.Source(
        "service_order_rows",
        _ORDER_VISIBLE,
        {
            "id": compiled.GlobalId(),
            "number": compiled.Column("{row}.number"),
            "status": compiled.Column("{row}.status"),
            "title": compiled.Column("{row}.title"),
            "description": compiled.Column("{row}.description"),
            "category": compiled.Column("{row}.category"),
            "createdAt": compiled.Column(compiled.date_time("{row}.created_at")),
            "updatedAt": compiled.Column(compiled.date_time("{row}.updated_at")),
            "dispatchedAt": compiled.Column(compiled.date_time("{row}.dispatched_at")),
            "dueAt": compiled.Column(compiled.date_time("{row}.due_at")),
            "overdue": compiled.Column("{row}.overdue"),
            "escalated": compiled.Column("{row}.escalated"),
            "resolution": compiled.Column("{row}.resolution"),
            "rating": compiled.Column("{row}.rating"),
            "ratingComment": compiled.Column("{row}.rating_comment"),
            "household": compiled.Relation("Household", "one", "{row}.id = {parent}.household_id"),
            "community": compiled.Relation("Community", "one", "{row}.id = {parent}.community_id"),
            "assignee": compiled.Relation("Person", "one", "{row}.id = {parent}.assignee_id"),
            "timeline": compiled.Relation("OrderEvent", "list", "{row}.order_id = {parent}.id"),
            "attachments": of_subject("ServiceOrder"),
        },
    ),
)
compiled.declare(
    "OrderEvent",
    compiled.Source(
        "order_events",
        "false",  # no node: read through its order only
        {
            "at": compiled.Column(compiled.date_time("{row}.at")),
            "action": compiled.Column("{row}.action"),
            "status": compiled.Column("{row}.to_status"),
            "note": compiled.Column("{row}.note"),
            "actor": compiled.Relation("Person", "one", "{row}.id = {parent}.actor_person_id"),
            "order": compiled.Relation("ServiceOrder", "one", "{row}.id = {parent}.order_id"),
        },
    ),
)

own_resolvers(
    "ServiceOrder",
    {"attachments": "shared with findings and visits: the batch of attachments by subject (type and id)"},
)
own_resolvers(
    "OrderEvent",
    {
        "order": "an event delivered to an orderEvents subscriber carries its order as loaded then "
        "(OrderEventRow.order); otherwise the order of an event read in its timeline, without asking the rule again"
    },
)

# The rule alone decides, as in db/orders.py; for a viewer without a staff scope it is asked
# about their candidate orders only (a superset of what it lets through, found by index).
# CANDIDATES reads the viewer as viewer_of($1, $2), the ordinary statements' user and token;
# here it reads the statement's one viewer row instead, found once (a resident's page on the
# demo county: 5.1 ms of backend CPU a call with the four calls of `viewer_of` as it was
# before migration 0034, which planned its body at each; 2.2 ms reading the viewer row)
assert (USER, TOKEN) == ("$1", "$2") and CANDIDATES.count("viewer_of($1, $2)") == 4
_STAFF = "coalesce(({viewer}).api_token_id IS NULL AND cardinality(({viewer}).staff_scope) > 0, false)"
_CANDIDATE = CANDIDATES.replace("o.id", "{row}.id", 1).replace("viewer_of($1, $2)", "{viewer_from}").strip()
_ORDERS_FILTERS = (
    "({arg_community} IS NULL OR {row}.community_id = {arg_community}) "
    "AND ({arg_status} IS NULL OR {row}.status = {arg_status}) "
    "AND ({arg_assignee} IS NULL OR {row}.assignee_id = {arg_assignee}) "
    "AND ({arg_unit} IS NULL OR {row}.assignee_unit_id = {arg_unit}) "
    "AND ({arg_overdue} IS NULL OR {row}.overdue = {arg_overdue}) "
    "AND ({arg_escalated} IS NULL OR {row}.escalated = {arg_escalated})"
)
_ORDERS_VISIBLE = "{row}.county_id = ({viewer}).county_id AND " + _ORDER_VISIBLE
# The orders of a staff member's scope: the rule's STAFF party (`order_parties`), which alone
# lets the order through, found by the building's path (no other party asked). Every other
# party an order may have (its household, the building's head, an assignee) is among the
# viewer's candidates, and the rule decides those.
_IN_STAFF_SCOPE = f"{_STAFF} AND {{row}}.county_id = ({{viewer}}).county_id AND staff_of_area({{row}}.path, {{viewer}})"
_ORDERS_ALTERNATIVES = (
    # the orders with their place and flags, without the building's head (migration 0035)
    compiled.Alternative(f"{_IN_STAFF_SCOPE} AND {_ORDERS_FILTERS}", "service_order_places"),
    compiled.Alternative(f"NOT ({_IN_STAFF_SCOPE}) AND {_CANDIDATE} AND {_ORDERS_VISIBLE} AND {_ORDERS_FILTERS}"),
)


def _order_arguments(given: Any) -> dict[str, Any]:
    """The filter as `_service_orders` reads it (an unknown id narrows to nothing)."""

    def part(name: str) -> Any:
        """A field of the filter as graphql-core coerces it: a dict by GraphQL name."""
        if given is None:
            return None
        if not isinstance(given, dict):
            raise compiled_planner.Fallback("filter")
        return _value(given.get(name))

    status = part("status")
    if status is not None and not isinstance(status, OrderStatus):
        raise compiled_planner.Fallback("status")
    flt = r.order_filter(
        part("communityId"),
        str(status.value) if status is not None else None,
        part("assigneeId"),
        part("overdue"),
        part("escalated"),
    )
    return {
        "community": flt.community_id,
        "status": flt.status,
        "assignee": flt.assignee_id,
        "unit": flt.assignee_unit_id,
        "overdue": flt.overdue,
        "escalated": flt.escalated,
    }


compiled.declare_root(
    "serviceOrders",
    compiled.RootConnection(
        "ServiceOrder",
        "service_order_rows",
        " OR ".join(f"({a.where})" for a in _ORDERS_ALTERNATIVES),  # `where`: the statement reads the alternatives
        (
            ("community", "bigint"),
            ("status", "text"),
            ("assignee", "bigint"),
            ("unit", "bigint"),
            ("overdue", "boolean"),
            ("escalated", "boolean"),
        ),
        _order_arguments,
        descending=True,
        alternatives=_ORDERS_ALTERNATIVES,
    ),
)
