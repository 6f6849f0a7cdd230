"""Meetings under party leadership (群众评议会 / 物业管理会 / 业委会 / 单位联席会), their minutes
and resolutions, which become follow-up service orders."""

from __future__ import annotations

import datetime
import enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db.areas import AreaRow, OrganisationRow
from db.meetings import MeetingRow, ResolutionRow
from resolvers import ids, rules
from resolvers import meetings as r
from resolvers.compiled import declarations as compiled
from resolvers.compiled import planner as compiled_planner
from resolvers.context import ResolverInfo
from resolvers.pagination import Page
from resolvers.permissions import SignedIn, described
from schema.areas import Community, Organisation
from schema.base import INPUT, After, Connection, First, Node, UserError, UserErrorRows, is_row

if TYPE_CHECKING:
    from schema.orders import ServiceOrder


@strawberry.enum(description="The four kinds of regular meeting")
class MeetingKind(enum.Enum):
    RESIDENTS_REVIEW = strawberry.enum_value("RESIDENTS_REVIEW", description="Residents' review meeting (群众评议会)")
    PROPERTY_MANAGEMENT = strawberry.enum_value(
        "PROPERTY_MANAGEMENT", description="Property management meeting (物业管理会)"
    )
    OWNER_COMMITTEE = strawberry.enum_value("OWNER_COMMITTEE", description="Owner committee meeting (业委会)")
    JOINT_UNIT = strawberry.enum_value("JOINT_UNIT", description="Joint meeting with units (单位联席会)")


@strawberry.enum(description="Where a meeting stands")
class MeetingStatus(enum.Enum):
    SCHEDULED = strawberry.enum_value("SCHEDULED", description="Scheduled, minutes not yet recorded")
    HELD = strawberry.enum_value("HELD", description="Held: its minutes are recorded")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Called off")


async def _community(root: MeetingRow, info: ResolverInfo) -> AreaRow | None:
    from resolvers.areas import area_by_id

    return await info.context.loader(area_by_id).load(root.community_id)


async def _organisations(root: MeetingRow, info: Info[Any, Any]) -> list[OrganisationRow]:
    return await r.organisations(root, info.context)


async def _resolutions(root: MeetingRow, info: Info[Any, Any]) -> list[ResolutionRow]:
    return await r.resolutions(root, info.context)


_ResolutionRef = Annotated["Resolution", strawberry.lazy("schema.meetings")]


@strawberry.type(description="A meeting convened under party leadership; its resolutions become follow-up tasks")
class Meeting(Node):
    is_type_of = is_row(MeetingRow)
    kind: MeetingKind = strawberry.field(description="Which of the four meetings")
    title: str = strawberry.field(description="The meeting's subject")
    status: MeetingStatus = strawberry.field(description="SCHEDULED, HELD or CANCELLED")
    starts_at: datetime.datetime = strawberry.field(description="When it is (or was) held")
    minutes: str | None = strawberry.field(description="The minutes (会议纪要), once held")
    community: AreaRow | None = strawberry.field(
        resolver=_community, graphql_type=Community, description="The community convening it"
    )
    organisations: list[OrganisationRow] = strawberry.field(
        resolver=_organisations, graphql_type=list[Organisation], description="Participating organisations"
    )
    resolutions: list[ResolutionRow] = strawberry.field(
        resolver=_resolutions, graphql_type=list[_ResolutionRef], description="Resolutions, in order"
    )


async def _follow_up(root: ResolutionRow, info: Info[Any, Any]) -> object | None:
    return await r.follow_up(root, info.context)


async def _meeting(root: ResolutionRow, info: Info[Any, Any]) -> MeetingRow:
    return await r.meeting_of(root, info.context)


@strawberry.type(description="A resolution (决议) of a meeting, optionally followed up by a service order")
class Resolution(Node):
    is_type_of = is_row(ResolutionRow)
    text: str = strawberry.field(description="What was resolved")
    position: int = strawberry.field(description="Its place in the minutes, from 0")
    meeting: MeetingRow = strawberry.field(
        resolver=_meeting, graphql_type=Meeting, description="The meeting that resolved it"
    )
    follow_up: object | None = strawberry.field(
        resolver=_follow_up,
        graphql_type=Annotated["ServiceOrder", strawberry.lazy("schema.orders")] | None,
        description="The service order placed to follow it up; null when none or not visible",
    )


async def _meetings(
    info: Info[Any, Any],
    community_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="Only this community's; absent: all the viewer may see")
    ] = None,
    first: First = None,
    after: After = None,
) -> Page[MeetingRow]:
    return await r.meetings(info.context, community_id=community_id, first=first, after=after)


@strawberry.type
class MeetingQuery:
    meetings: Page[MeetingRow] = strawberry.field(
        resolver=_meetings,
        graphql_type=Connection[Meeting],
        permission_classes=[SignedIn],
        description=(
            described(
                "Meetings, latest first: staff see those of communities in scope, the county admin all, a unit admin "
                "those its organisation takes part in; others an empty list",
                rules.MEETING_ACCESS,
            )
        ),
    )


@strawberry.input(description="Schedule a meeting")
class ScheduleMeetingInput:
    kind: MeetingKind = strawberry.field(description="Which of the four meetings")
    community_id: strawberry.ID = strawberry.field(description="The community convening it")
    title: str = strawberry.field(description="The subject (not blank)")
    starts_at: datetime.datetime = strawberry.field(description="When it is held (without an offset: county time)")
    organisation_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Participating organisations"
    )


@strawberry.input(description="A resolution recorded with the minutes")
class ResolutionInput:
    text: str = strawberry.field(description="What was resolved (not blank)")
    follow_up_household_id: strawberry.ID | None = strawberry.field(
        default=None, description="A household to follow up: a SUBMITTED service order is placed for it"
    )
    follow_up_category: str | None = strawberry.field(
        default=None, description="The follow-up order's service category code (default OTHER)"
    )


@strawberry.input(description="Record a meeting's minutes and resolutions: the meeting becomes HELD")
class RecordMinutesInput:
    meeting_id: strawberry.ID = strawberry.field(description="A SCHEDULED meeting")
    minutes: str = strawberry.field(description="The minutes (会议纪要), not blank")
    resolutions: list[ResolutionInput] | None = strawberry.field(default=None, description="Resolutions, in order")


@strawberry.input(description="Call off a scheduled meeting")
class CancelMeetingInput:
    meeting_id: strawberry.ID = strawberry.field(description="A SCHEDULED meeting")


@strawberry.type(description="A meeting, or why not")
class MeetingPayload:
    meeting: MeetingRow | None = strawberry.field(
        graphql_type=Meeting | None, description="The meeting; null when refused"
    )
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError], description="Why it was refused; empty on success"
    )


async def _schedule(info: Info[Any, Any], input: Annotated[ScheduleMeetingInput, INPUT]) -> MeetingPayload:
    outcome = await r.schedule_meeting(
        info.context,
        kind=input.kind.name,
        community_id=input.community_id,
        title=input.title,
        starts_at=input.starts_at,
        organisation_ids=list(input.organisation_ids or []),
    )
    return MeetingPayload(meeting=outcome.value, user_errors=outcome.user_errors)


async def _record(info: Info[Any, Any], input: Annotated[RecordMinutesInput, INPUT]) -> MeetingPayload:
    drafts = [
        r.ResolutionDraft(
            text=d.text, follow_up_household_id=d.follow_up_household_id, follow_up_category=d.follow_up_category
        )
        for d in input.resolutions or []
    ]
    outcome = await r.record_minutes(
        info.context, meeting_id=input.meeting_id, minutes=input.minutes, resolutions=drafts
    )
    return MeetingPayload(meeting=outcome.value, user_errors=outcome.user_errors)


async def _cancel(info: Info[Any, Any], input: Annotated[CancelMeetingInput, INPUT]) -> MeetingPayload:
    outcome = await r.cancel_meeting(info.context, meeting_id=input.meeting_id)
    return MeetingPayload(meeting=outcome.value, user_errors=outcome.user_errors)


@strawberry.type
class MeetingMutation:
    schedule_meeting: MeetingPayload = strawberry.mutation(
        resolver=_schedule,
        permission_classes=[SignedIn],
        description=described("Schedule a meeting (staff in scope)", rules.STAFF_OF_AREA),
    )
    record_minutes: MeetingPayload = strawberry.mutation(
        resolver=_record,
        permission_classes=[SignedIn],
        description=(
            described(
                "Record the minutes (staff in scope): SCHEDULED -> HELD; a resolution naming a household places a "
                "SUBMITTED follow-up service order for it",
                rules.MEETING_ACCESS,
            )
        ),
    )
    cancel_meeting: MeetingPayload = strawberry.mutation(
        resolver=_cancel,
        permission_classes=[SignedIn],
        description=described("Call off a SCHEDULED meeting (staff in scope)", rules.MEETING_ACCESS),
    )


ALL_TYPES = [Meeting, Resolution]


# --- the compiled read path: the type's SQL, declared once (resolvers/compiled) -------------

# staff in scope of its community, the county admin, a participating unit's admin (`meeting_access`)
_MEETING_VISIBLE = "EXISTS (SELECT 1 FROM {viewer_from} w WHERE meeting_access({row}, w) IS NOT NULL)"

compiled.declare(
    "Meeting",
    compiled.Source(
        "meetings",
        _MEETING_VISIBLE,
        {
            "id": compiled.GlobalId(),
            "kind": compiled.Column("{row}.kind"),
            "title": compiled.Column("{row}.title"),
            "status": compiled.Column("{row}.status"),
            "startsAt": compiled.Column(compiled.date_time("{row}.starts_at")),
            "minutes": compiled.Column("{row}.minutes"),
            "community": compiled.Relation("Community", "one", "{row}.id = {parent}.community_id"),
            "organisations": compiled.Relation(
                "Organisation",
                "list",
                "{row}.id IN (SELECT mo.organisation_id FROM meeting_organisations mo "
                "WHERE mo.meeting_id = {parent}.id)",
            ),
        },
    ),
)

# `communityId` as resolvers/life.py `area_filter` reads it: an area of the viewer's county, else nothing
_MEETINGS_WHERE = (
    _MEETING_VISIBLE  # noqa: S608 - constant text
    + " AND ({arg_community} IS NULL OR {row}.community_id = "
    "(SELECT c.id FROM areas c WHERE c.id = {arg_community} AND c.county_id = {county}))"
)


def _meeting_arguments(given: Any) -> dict[str, Any]:
    """The arguments as `_meetings` reads them (an id of no area narrows to nothing)."""
    if not isinstance(given, dict):
        raise compiled_planner.Fallback("arguments")
    return {"community": ids.filter_key(given.get("communityId"), *ids.AREA_TYPES.values())}


compiled.declare_root(
    "meetings",
    compiled.RootConnection(
        "Meeting",
        "meetings",
        _MEETINGS_WHERE,
        (("community", "bigint"),),
        _meeting_arguments,
        descending=True,
        time="{row}.starts_at",
    ),
)
