"""Old-compound renovation projects (老旧小区改造) per compound."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db.areas import AreaRow
from db.renovations import RenovationRow
from resolvers import renovations as r
from resolvers import rules
from resolvers.context import ResolverInfo
from resolvers.pagination import Page
from resolvers.permissions import SignedIn, described
from schema.areas import Compound
from schema.base import FILTER, INPUT, After, Connection, First, Node, UserError, UserErrorRows, is_row


@strawberry.enum(description="Where a renovation project stands")
class RenovationStatus(enum.Enum):
    PLANNED = strawberry.enum_value("PLANNED", description="Planned (计划)")
    IN_PROGRESS = strawberry.enum_value("IN_PROGRESS", description="Under way (在建)")
    COMPLETED = strawberry.enum_value("COMPLETED", description="Completed (已完工)")


async def _compound(root: RenovationRow, info: ResolverInfo) -> AreaRow | None:
    from resolvers.areas import area_by_id

    return await info.context.loader(area_by_id).load(root.compound_id)


@strawberry.type(description="An old-compound renovation project (老旧小区改造)")
class Renovation(Node):
    is_type_of = is_row(RenovationRow)
    title: str = strawberry.field(description="What is renovated")
    status: RenovationStatus = strawberry.field(description="Where the project stands")
    year: int = strawberry.field(description="The planned year; the year of completion once COMPLETED")
    compound: AreaRow | None = strawberry.field(
        resolver=_compound, graphql_type=Compound, description="The compound renovated"
    )


@strawberry.input(description="Which renovation projects to list")
class RenovationFilter:
    area_id: strawberry.ID | None = strawberry.field(default=None, description="Only compounds under this area")
    status: RenovationStatus | None = strawberry.field(default=None, description="Only projects in this state")


async def _renovations(
    info: Info[Any, Any],
    filter: Annotated[RenovationFilter | None, FILTER] = None,
    first: First = None,
    after: After = None,
) -> Page[RenovationRow]:
    f = filter or RenovationFilter()
    return await r.renovations(
        info.context, area_id=f.area_id, status=f.status.name if f.status else None, first=first, after=after
    )


@strawberry.type
class RenovationQuery:
    renovation_projects: Page[RenovationRow] = strawberry.field(
        resolver=_renovations,
        graphql_type=Connection[Renovation],
        permission_classes=[SignedIn],
        description=described(
            "Renovation projects of the viewer's county (public to signed-in users), oldest first",
            rules.RENOVATION_ACCESS,
        ),
    )


@strawberry.input(description="Plan a renovation project for a compound")
class PlanRenovationInput:
    compound_id: strawberry.ID = strawberry.field(description="The compound to renovate")
    title: str = strawberry.field(description="What is renovated (not blank)")
    year: int = strawberry.field(description="The planned year")


@strawberry.input(description="Move a renovation project on")
class RenovationInput:
    renovation_id: strawberry.ID = strawberry.field(description="The renovation project")


@strawberry.type(description="A renovation project, or why not")
class RenovationPayload:
    renovation: RenovationRow | None = strawberry.field(
        graphql_type=Renovation | None, description="The project; null when refused"
    )
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError], description="Why it was refused; empty on success"
    )


async def _plan(info: Info[Any, Any], input: Annotated[PlanRenovationInput, INPUT]) -> RenovationPayload:
    outcome = await r.plan_renovation(info.context, compound_id=input.compound_id, title=input.title, year=input.year)
    return RenovationPayload(renovation=outcome.value, user_errors=outcome.user_errors)


async def _start(info: Info[Any, Any], input: Annotated[RenovationInput, INPUT]) -> RenovationPayload:
    outcome = await r.start_renovation(info.context, renovation_id=input.renovation_id)
    return RenovationPayload(renovation=outcome.value, user_errors=outcome.user_errors)


async def _complete(info: Info[Any, Any], input: Annotated[RenovationInput, INPUT]) -> RenovationPayload:
    outcome = await r.complete_renovation(info.context, renovation_id=input.renovation_id)
    return RenovationPayload(renovation=outcome.value, user_errors=outcome.user_errors)


@strawberry.type
class RenovationMutation:
    plan_renovation: RenovationPayload = strawberry.mutation(
        resolver=_plan,
        permission_classes=[SignedIn],
        description=described("Plan a project (staff in scope or county admin)", rules.STAFF_OF_AREA),
    )
    start_renovation: RenovationPayload = strawberry.mutation(
        resolver=_start,
        permission_classes=[SignedIn],
        description=described(
            "PLANNED -> IN_PROGRESS (staff in scope or admin)", rules.RENOVATION_ACCESS, rules.STAFF_OF_AREA
        ),
    )
    complete_renovation: RenovationPayload = strawberry.mutation(
        resolver=_complete,
        permission_classes=[SignedIn],
        description=described(
            "IN_PROGRESS -> COMPLETED, dated this year (staff in scope or county admin)",
            rules.RENOVATION_ACCESS,
            rules.STAFF_OF_AREA,
        ),
    )


ALL_TYPES = [Renovation]
