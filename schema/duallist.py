"""The dual list (双向清单): resources offered by units, needs published for areas, and the
exchanges that allocate a quantity of a resource to a need."""

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db.duallist import AVAILABLE, NEED_STATUS, RESOURCE_STATUS, ExchangeRow, NeedRow, ResourceRow
from resolvers import duallist as r
from resolvers import ids, rules
from resolvers.compiled import declarations as compiled
from resolvers.compiled import planner as compiled_planner
from resolvers.pagination import Page
from resolvers.permissions import SignedIn, described
from schema.areas import Area, Community, Organisation
from schema.base import FILTER, INPUT, After, Connection, First, Node, UserError, UserErrorRows, is_row
from schema.derived import declared, of_rule, own_resolvers, paged


@strawberry.enum(description="What kind of thing a resource or need is")
class ResourceCategory(enum.Enum):
    PARKING = strawberry.enum_value("PARKING", description="Parking spaces (停车位)")
    VENUE = strawberry.enum_value("VENUE", description="Venues and rooms (场地)")
    VOLUNTEERS = strawberry.enum_value("VOLUNTEERS", description="Volunteer teams (志愿者)")
    EXPERTISE = strawberry.enum_value("EXPERTISE", description="Skills and expertise (技能)")
    GOODS = strawberry.enum_value("GOODS", description="Goods and materials (物资)")
    FUNDS = strawberry.enum_value("FUNDS", description="Funds (资金)")
    OTHER = strawberry.enum_value("OTHER", description="Anything else")


@strawberry.enum(description="Where a resource stands; computed from its quantities, withdrawal and window")
class ResourceStatus(enum.Enum):
    AVAILABLE = strawberry.enum_value("AVAILABLE", description="Open for allocation, with some remaining")
    EXHAUSTED = strawberry.enum_value("EXHAUSTED", description="Nothing remains: everything is allocated")
    WITHDRAWN = strawberry.enum_value("WITHDRAWN", description="Withdrawn by the provider")
    EXPIRED = strawberry.enum_value("EXPIRED", description="Its availability window (`availableUntil`) has ended")


@strawberry.enum(description="Where a need stands")
class NeedStatus(enum.Enum):
    OPEN = strawberry.enum_value("OPEN", description="Nothing allocated yet")
    PARTIALLY_MET = strawberry.enum_value("PARTIALLY_MET", description="Some but not all of the quantity allocated")
    MET = strawberry.enum_value("MET", description="The whole quantity allocated")
    CLOSED = strawberry.enum_value("CLOSED", description="Closed by staff: takes no more allocations")


@strawberry.enum(description="Where an exchange stands")
class ExchangeStatus(enum.Enum):
    ALLOCATED = strawberry.enum_value("ALLOCATED", description="Quantity reserved for the need")
    COMPLETED = strawberry.enum_value("COMPLETED", description="Handed over (final)")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Called off; the quantity went back (final)")


_exchanges = paged(r.exchanges_of)


@strawberry.type(description="A resource (资源) a unit offers to communities: parking spaces, venues, volunteers ...")
class Resource(Node):
    is_type_of = is_row(ResourceRow)
    title: str = strawberry.field(description="Short title, e.g. 县财政局停车场错时共享车位")
    description: str | None = strawberry.field(description="Details: times, place, conditions")
    category: ResourceCategory = strawberry.field(description="What kind of resource it is")
    quantity: int = strawberry.field(description="How much was offered")
    remaining: int = strawberry.field(description="How much is not allocated (cancelled exchanges give back)")
    unit: str = strawberry.field(description="What the quantity counts, e.g. 个, 人次, 小时")
    status: ResourceStatus = strawberry.field(
        description="WITHDRAWN, else EXPIRED after `availableUntil`, else EXHAUSTED (nothing remains), else AVAILABLE"
    )
    available_until: datetime.datetime | None = strawberry.field(
        description="End of the availability window; afterwards the resource is EXPIRED (null: open-ended)"
    )
    withdrawn_at: datetime.datetime | None = strawberry.field(description="When the provider withdrew it")
    created_at: datetime.datetime = strawberry.field(description="When it was published")
    provider: Organisation = declared("The unit offering it")
    communities: list[Community] = strawberry.field(
        resolver=of_rule(r.communities_of), description="Communities it is open to"
    )
    exchanges: Connection[Annotated[Exchange, strawberry.lazy("schema.duallist")]] = strawberry.field(
        resolver=_exchanges,
        description="Its ledger: exchanges allocating it, oldest first (empty for residents)",
    )


@strawberry.type(description="A need (需求) published for a community or an area inside it")
class Need(Node):
    is_type_of = is_row(NeedRow)
    title: str = strawberry.field(description="Short title, e.g. 小区夜间停车位紧张")
    description: str | None = strawberry.field(description="Details of the need")
    category: ResourceCategory = strawberry.field(description="What kind of resource would meet it")
    quantity: int = strawberry.field(description="How much is needed")
    fulfilled: int = strawberry.field(description="Allocated by exchanges that are not cancelled")
    shortfall: int = strawberry.field(description="What is still lacking: quantity - fulfilled")
    status: NeedStatus = strawberry.field(
        description="CLOSED once closed, else MET, PARTIALLY_MET (something allocated) or OPEN (nothing yet)"
    )
    closed_at: datetime.datetime | None = strawberry.field(description="When staff closed it")
    created_at: datetime.datetime = strawberry.field(description="When it was published")
    area: Area = declared("The area it is published for")
    community: Community = declared("The community that area lies in")
    exchanges: Connection[Annotated[Exchange, strawberry.lazy("schema.duallist")]] = strawberry.field(
        resolver=_exchanges, description="Its ledger: exchanges allocated to it, oldest first"
    )
    matches: Connection[Resource] = strawberry.field(
        resolver=paged(r.matches_of),
        description=(
            "Available resources of the need's category open to its community, best fit first: resources whose "
            "remaining covers the shortfall first, then the remaining closest to the shortfall, then the soonest "
            "end of the availability window (open-ended last), then the oldest"
        ),
    )


@strawberry.type(
    description=(
        "An exchange: a ledger entry allocating a quantity of a resource to a need. Only its status moves "
        "(ALLOCATED -> COMPLETED or CANCELLED); parties, quantity and times are never rewritten"
    )
)
class Exchange(Node):
    is_type_of = is_row(ExchangeRow)
    quantity: int = strawberry.field(description="How much of the resource goes to the need")
    status: ExchangeStatus = strawberry.field(description="ALLOCATED, then COMPLETED or CANCELLED")
    allocated_at: datetime.datetime = strawberry.field(description="When it was allocated")
    completed_at: datetime.datetime | None = strawberry.field(description="When it was completed")
    cancelled_at: datetime.datetime | None = strawberry.field(description="When it was cancelled")
    cancel_reason: str | None = strawberry.field(description="Why it was cancelled, as given")
    resource: Resource = declared("The resource allocated")
    need: Need = declared("The need it goes to")
    provider: Organisation = declared("The giving side: the resource's unit")
    receiver: Area = declared("The receiving side: the need's area")


# --- queries ----------------------------------------------------------------------------


@strawberry.input(description="Narrows `resources`")
class ResourceFilter:
    community_id: strawberry.ID | None = strawberry.field(default=None, description="Open to this community")
    category: ResourceCategory | None = strawberry.field(default=None, description="Of this category")
    available: bool | None = strawberry.field(
        default=None, description="true: AVAILABLE with remaining > 0; false: all others"
    )


@strawberry.input(description="Narrows `needs`")
class NeedFilter:
    area_id: strawberry.ID | None = strawberry.field(default=None, description="Published for this area or inside it")
    category: ResourceCategory | None = strawberry.field(default=None, description="Of this category")
    open: bool | None = strawberry.field(
        default=None, description="true: not closed and still lacking (OPEN, PARTIALLY_MET); false: MET or CLOSED"
    )


def _category(value: ResourceCategory | None) -> str | None:
    return value.name if value is not None else None


async def _resources(
    info: Info[Any, Any],
    filter: Annotated[ResourceFilter | None, FILTER] = None,
    first: First = None,
    after: After = None,
) -> Page[ResourceRow]:
    f = filter or ResourceFilter()
    return await r.resources(info.context, f.community_id, _category(f.category), f.available, first, after)


async def _needs(
    info: Info[Any, Any], filter: Annotated[NeedFilter | None, FILTER] = None, first: First = None, after: After = None
) -> Page[NeedRow]:
    f = filter or NeedFilter()
    return await r.needs(info.context, f.area_id, _category(f.category), f.open, first, after)


@strawberry.type
class DualListQuery:
    resources: Page[ResourceRow] = strawberry.field(
        resolver=_resources,
        graphql_type=Connection[Resource],
        permission_classes=[SignedIn],
        description=described(
            "Resources of the viewer's county (residents: those open to their community), oldest first",
            rules.RESOURCE_ACCESS,
        ),
    )
    needs: Page[NeedRow] = strawberry.field(
        resolver=_needs,
        graphql_type=Connection[Need],
        permission_classes=[SignedIn],
        description=described("Needs of the viewer's county, oldest first; empty for residents", rules.NEED_ACCESS),
    )


# --- mutations --------------------------------------------------------------------------


@strawberry.input(description="A resource to publish")
class PublishResourceInput:
    provider_id: strawberry.ID = strawberry.field(description="The unit offering it")
    title: str = strawberry.field(description="Short title, not blank")
    category: ResourceCategory = strawberry.field(description="What kind of resource it is")
    quantity: int = strawberry.field(description="At least 1")
    unit: str = strawberry.field(description="What the quantity counts, e.g. 个")
    community_ids: list[strawberry.ID] = strawberry.field(description="Communities it is open to; at least one")
    description: str | None = strawberry.field(default=None, description="Details: times, place, conditions")
    available_until: datetime.datetime | None = strawberry.field(
        default=None, description="End of the availability window (in the future); null: open-ended"
    )


@strawberry.type(description="The result of `publishResource`")
class PublishResourcePayload:
    resource: ResourceRow | None = strawberry.field(
        graphql_type=Resource | None, description="The new resource; null when refused"
    )
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError], description="Why it was refused; empty on success"
    )


@strawberry.input(description="The resource to withdraw")
class WithdrawResourceInput:
    resource_id: strawberry.ID = strawberry.field(description="The resource")


@strawberry.type(description="The result of `withdrawResource`")
class WithdrawResourcePayload:
    resource: ResourceRow | None = strawberry.field(
        graphql_type=Resource | None, description="The withdrawn resource; null when refused"
    )
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError], description="Why it was refused; empty on success"
    )


@strawberry.input(description="A need to publish")
class PublishNeedInput:
    area_id: strawberry.ID = strawberry.field(description="A community or an area inside one")
    title: str = strawberry.field(description="Short title, not blank")
    category: ResourceCategory = strawberry.field(description="What kind of resource would meet it")
    quantity: int = strawberry.field(description="At least 1")
    description: str | None = strawberry.field(default=None, description="Details of the need")


@strawberry.type(description="The result of `publishNeed` or `closeNeed`")
class NeedPayload:
    need: NeedRow | None = strawberry.field(graphql_type=Need | None, description="The need; null when refused")
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError], description="Why it was refused; empty on success"
    )


@strawberry.input(description="The need to close")
class CloseNeedInput:
    need_id: strawberry.ID = strawberry.field(description="The need")


@strawberry.input(description="How much of a resource to allocate to a need")
class AllocateInput:
    resource_id: strawberry.ID = strawberry.field(description="The resource to take from")
    need_id: strawberry.ID = strawberry.field(description="The need to give to")
    quantity: int = strawberry.field(
        description="At least 1, at most the resource's remaining and the need's shortfall"
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Repeating a call with the same key returns the exchange the first call made and allocates "
        "nothing more (a client that timed out can tell whether it was allocated)",
    )


@strawberry.type(description="The result of an exchange mutation")
class ExchangePayload:
    exchange: ExchangeRow | None = strawberry.field(
        graphql_type=Exchange | None, description="The exchange; null when refused"
    )
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError], description="Why it was refused; empty on success"
    )


@strawberry.input(description="The exchange to complete")
class CompleteExchangeInput:
    exchange_id: strawberry.ID = strawberry.field(description="The exchange")


@strawberry.input(description="The exchange to cancel")
class CancelExchangeInput:
    exchange_id: strawberry.ID = strawberry.field(description="The exchange")
    reason: str | None = strawberry.field(default=None, description="Why, kept in the ledger")


async def _publish_resource(
    info: Info[Any, Any], input: Annotated[PublishResourceInput, INPUT]
) -> PublishResourcePayload:
    given = r.ResourceInput(
        provider_id=input.provider_id,
        title=input.title,
        description=input.description,
        category=input.category.name,
        quantity=input.quantity,
        unit=input.unit,
        community_ids=list(input.community_ids),
        available_until=input.available_until,
    )
    p = await r.publish_resource(info.context, given)
    return PublishResourcePayload(resource=p.value, user_errors=p.user_errors)


async def _withdraw_resource(
    info: Info[Any, Any], input: Annotated[WithdrawResourceInput, INPUT]
) -> WithdrawResourcePayload:
    p = await r.withdraw_resource(info.context, input.resource_id)
    return WithdrawResourcePayload(resource=p.value, user_errors=p.user_errors)


async def _publish_need(info: Info[Any, Any], input: Annotated[PublishNeedInput, INPUT]) -> NeedPayload:
    given = r.NeedInput(
        area_id=input.area_id,
        title=input.title,
        category=input.category.name,
        quantity=input.quantity,
        description=input.description,
    )
    p = await r.publish_need(info.context, given)
    return NeedPayload(need=p.value, user_errors=p.user_errors)


async def _close_need(info: Info[Any, Any], input: Annotated[CloseNeedInput, INPUT]) -> NeedPayload:
    p = await r.close_need(info.context, input.need_id)
    return NeedPayload(need=p.value, user_errors=p.user_errors)


async def _allocate(info: Info[Any, Any], input: Annotated[AllocateInput, INPUT]) -> ExchangePayload:
    p = await r.allocate(info.context, input.resource_id, input.need_id, input.quantity, input.idempotency_key)
    return ExchangePayload(exchange=p.value, user_errors=p.user_errors)


async def _complete_exchange(info: Info[Any, Any], input: Annotated[CompleteExchangeInput, INPUT]) -> ExchangePayload:
    p = await r.complete_exchange(info.context, input.exchange_id)
    return ExchangePayload(exchange=p.value, user_errors=p.user_errors)


async def _cancel_exchange(info: Info[Any, Any], input: Annotated[CancelExchangeInput, INPUT]) -> ExchangePayload:
    p = await r.cancel_exchange(info.context, input.exchange_id, input.reason)
    return ExchangePayload(exchange=p.value, user_errors=p.user_errors)


@strawberry.type
class DualListMutation:
    publish_resource: PublishResourcePayload = strawberry.mutation(
        resolver=_publish_resource,
        permission_classes=[SignedIn],
        description=described(
            "Offer a resource to communities (the provider's unit admin or API token, or a county admin)",
            rules.ADMINISTERS_ORGANISATION,
        ),
    )
    withdraw_resource: WithdrawResourcePayload = strawberry.mutation(
        resolver=_withdraw_resource,
        permission_classes=[SignedIn],
        description=described(
            "Withdraw a resource: no more allocations; existing exchanges stand (the provider)",
            rules.RESOURCE_ACCESS,
            rules.ADMINISTERS_ORGANISATION,
        ),
    )
    publish_need: NeedPayload = strawberry.mutation(
        resolver=_publish_need,
        permission_classes=[SignedIn],
        description=described("Publish a need (staff in scope)", rules.STAFF_OF_AREA),
    )
    close_need: NeedPayload = strawberry.mutation(
        resolver=_close_need,
        permission_classes=[SignedIn],
        description=described(
            "Close a need: no more allocations; existing exchanges stand (staff in scope)",
            rules.NEED_ACCESS,
            rules.STAFF_OF_AREA,
        ),
    )
    allocate: ExchangePayload = strawberry.mutation(
        resolver=_allocate,
        permission_classes=[SignedIn],
        description=described(
            "Allocate a quantity of a resource to a need (staff in scope of the need): an ALLOCATED exchange",
            rules.RESOURCE_ACCESS,
            rules.NEED_ACCESS,
            rules.STAFF_OF_AREA,
        ),
    )
    complete_exchange: ExchangePayload = strawberry.mutation(
        resolver=_complete_exchange,
        permission_classes=[SignedIn],
        description=described(
            "ALLOCATED -> COMPLETED (the provider or staff in scope of the need)",
            rules.EXCHANGE_ACCESS,
            rules.EXCHANGE_PARTY,
        ),
    )
    cancel_exchange: ExchangePayload = strawberry.mutation(
        resolver=_cancel_exchange,
        permission_classes=[SignedIn],
        description=described(
            "ALLOCATED -> CANCELLED; the quantity returns to the resource and leaves the need (either side)",
            rules.EXCHANGE_ACCESS,
            rules.EXCHANGE_PARTY,
        ),
    )


ALL_TYPES = [Resource, Need, Exchange]


# --- the compiled read path: each type's SQL, declared once (resolvers/compiled) -------------


def _over(fragment: str) -> str:
    """A fragment of db/duallist.py over the resource `r`, over `{row}` instead."""
    return fragment.replace("r.", "{row}.")


# the rules (0021_node_rules.sql)
_EXCHANGE_VISIBLE = "EXISTS (SELECT 1 FROM {viewer_from} w WHERE exchange_access({row}, w))"


def _exchange_count(parent_column: str) -> str:
    """totalCount of a need's or a resource's ledger: the exchanges the rule lets through."""
    visible = _EXCHANGE_VISIBLE.format(row="e", viewer_from="{viewer_from}")
    return f"SELECT count(*) FROM exchanges e WHERE e.{parent_column} = {{parent}}.id AND {visible}"  # noqa: S608


_RESOURCE_VISIBLE = "EXISTS (SELECT 1 FROM {viewer_from} w WHERE resource_access({row}, w) IS NOT NULL)"
compiled.declare(
    "Resource",
    compiled.Source(
        "resources",
        _RESOURCE_VISIBLE,
        {
            "id": compiled.GlobalId(),
            "title": compiled.Column("{row}.title"),
            "description": compiled.Column("{row}.description"),
            "category": compiled.Column("{row}.category"),
            "quantity": compiled.Column("{row}.quantity"),
            "remaining": compiled.Column("{row}.remaining"),
            "unit": compiled.Column("{row}.unit"),
            "status": compiled.Column(f"({_over(RESOURCE_STATUS)})"),
            "availableUntil": compiled.Column(compiled.date_time("{row}.available_until")),
            "withdrawnAt": compiled.Column(compiled.date_time("{row}.withdrawn_at")),
            "createdAt": compiled.Column(compiled.date_time("{row}.created_at")),
            "provider": compiled.Relation("Organisation", "one", "{row}.id = {parent}.provider_id"),
            "exchanges": compiled.Relation(
                "Exchange",
                "connection",
                "{row}.resource_id = {parent}.id AND " + _EXCHANGE_VISIBLE,
                count=_exchange_count("resource_id"),
            ),
        },
    ),
)

# the rules `need_access` and `exchange_access` (0021_node_rules.sql)
_NEED_VISIBLE = "EXISTS (SELECT 1 FROM {viewer_from} w WHERE need_access({row}, w))"
compiled.declare(
    "Need",
    compiled.Source(
        "needs",
        _NEED_VISIBLE,
        {
            "id": compiled.GlobalId(),
            "title": compiled.Column("{row}.title"),
            "description": compiled.Column("{row}.description"),
            "category": compiled.Column("{row}.category"),
            "quantity": compiled.Column("{row}.quantity"),
            "fulfilled": compiled.Column("{row}.fulfilled"),
            "shortfall": compiled.Column("({row}.quantity - {row}.fulfilled)"),
            "status": compiled.Column("(" + NEED_STATUS.replace("n.", "{row}.") + ")"),
            "closedAt": compiled.Column(compiled.date_time("{row}.closed_at")),
            "createdAt": compiled.Column(compiled.date_time("{row}.created_at")),
            "area": compiled.Relation("Area", "one", "{row}.id = {parent}.area_id"),
            "community": compiled.Relation("Community", "one", "{row}.id = {parent}.community_id"),
            "exchanges": compiled.Relation(
                "Exchange",
                "connection",
                "{row}.need_id = {parent}.id AND " + _EXCHANGE_VISIBLE,
                count=_exchange_count("need_id"),
            ),
        },
    ),
)
compiled.declare(
    "Exchange",
    compiled.Source(
        "exchanges",
        _EXCHANGE_VISIBLE,
        {
            "id": compiled.GlobalId(),
            "quantity": compiled.Column("{row}.quantity"),
            "status": compiled.Column("{row}.status"),
            "allocatedAt": compiled.Column(compiled.date_time("{row}.allocated_at")),
            "completedAt": compiled.Column(compiled.date_time("{row}.completed_at")),
            "cancelledAt": compiled.Column(compiled.date_time("{row}.cancelled_at")),
            "cancelReason": compiled.Column("{row}.cancel_reason"),
            "resource": compiled.Relation("Resource", "one", "{row}.id = {parent}.resource_id"),
            "need": compiled.Relation("Need", "one", "{row}.id = {parent}.need_id"),
            "provider": compiled.Relation("Organisation", "one", "{row}.id = {parent}.provider_id"),
            "receiver": compiled.Relation("Area", "one", "{row}.id = {parent}.receiver_id"),
        },
    ),
)

own_resolvers("Resource", {"exchanges": "a keyset connection with its count: read by its page and count loaders"})
own_resolvers(
    "Need",
    {
        "exchanges": "a keyset connection with its count: read by its page and count loaders",
        "matches": "a connection ranked by fit: read by its page loader (resolvers/duallist.py matches_of)",
    },
)

_NEEDS_WHERE = (
    _NEED_VISIBLE  # noqa: S608 - constant text
    + " AND ({arg_area} IS NULL OR EXISTS (SELECT 1 FROM areas na WHERE na.id = {row}.area_id "
    "AND {arg_area} = ANY(na.path))) "
    "AND ({arg_category} IS NULL OR {row}.category = {arg_category}) "
    "AND ({arg_open} IS NULL OR ({row}.closed_at IS NULL AND {row}.fulfilled < {row}.quantity) = {arg_open})"
)


def _need_arguments(given: Any) -> dict[str, Any]:
    """The filter as `_needs` reads it (an id of no area narrows to nothing)."""
    if given is not None and not isinstance(given, dict):
        raise compiled_planner.Fallback("filter")
    f = given or {}
    category = f.get("category")
    return {
        "area": ids.filter_key(f.get("areaId"), *ids.AREA_TYPES.values()),
        "category": _category(category) if isinstance(category, ResourceCategory) else None,
        "open": f.get("open"),
    }


compiled.declare_root(
    "needs",
    compiled.RootConnection(
        "Need",
        "needs",
        _NEEDS_WHERE,
        (("area", "bigint"), ("category", "text"), ("open", "boolean")),
        _need_arguments,
    ),
)

_RESOURCES_WHERE = (
    _RESOURCE_VISIBLE  # noqa: S608 - constant text
    + " AND ({arg_community} IS NULL OR EXISTS (SELECT 1 FROM resource_communities rc "
    "WHERE rc.resource_id = {row}.id AND rc.community_id = {arg_community})) "
    "AND ({arg_category} IS NULL OR {row}.category = {arg_category}) "
    "AND ({arg_available} IS NULL OR (" + _over(AVAILABLE) + ") = {arg_available})"
)


def _resource_arguments(given: Any) -> dict[str, Any]:
    """The filter as `_resources` reads it."""
    if given is not None and not isinstance(given, dict):
        raise compiled_planner.Fallback("filter")
    f = given or {}
    category = f.get("category")
    return {
        "community": ids.filter_key(f.get("communityId"), "Community"),
        "category": _category(category) if isinstance(category, ResourceCategory) else None,
        "available": f.get("available"),
    }


compiled.declare_root(
    "resources",
    compiled.RootConnection(
        "Resource",
        "resources",
        _RESOURCES_WHERE,
        (("community", "bigint"), ("category", "text"), ("available", "boolean")),
        _resource_arguments,
    ),
)


# Need.matches: db/duallist.py MATCH_CANDIDATES ranked as MATCHES ranks them (the need is `{parent}`)
_MATCH_CANDIDATES = (
    "{row}.id IN (SELECT rc.resource_id FROM resource_communities rc "  # noqa: S608 - constant text
    "WHERE rc.community_id = {parent}.community_id) AND {row}.county_id = {parent}.county_id "
    "AND {row}.category = {parent}.category AND (" + _over(AVAILABLE) + ")"
)
compiled.declare_field(
    "Need",
    "matches",
    compiled.Relation(
        "Resource",
        "connection",
        _MATCH_CANDIDATES,
        count="SELECT count(*) FROM resources x WHERE " + _MATCH_CANDIDATES.replace("{row}", "x"),  # noqa: S608 - constant text
        rank="{row}.remaining >= {parent}.quantity - {parent}.fulfilled DESC, "
        "abs({row}.remaining - ({parent}.quantity - {parent}.fulfilled)), "
        "{row}.available_until ASC NULLS LAST, {row}.id",
    ),
)
