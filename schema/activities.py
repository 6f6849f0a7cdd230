"""Joint volunteer activities (活动联办 / 志愿服务活动), sign-ups, check-ins and volunteer hours."""

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db.activities import ActivityRow, SignupRow, VolunteerHoursRow
from db.areas import AreaRow, OrganisationRow, PersonRow
from resolvers import activities as r
from resolvers import ids, rules
from resolvers.compiled import declarations as compiled
from resolvers.compiled import planner as compiled_planner
from resolvers.context import ResolverInfo
from resolvers.pagination import Page
from resolvers.permissions import SignedIn, described
from schema.areas import Community, Organisation, Person
from schema.base import FILTER, INPUT, After, Connection, First, Node, UserError, UserErrorRows, is_row


@strawberry.enum(description="Kind of volunteer activity (志愿服务活动)")
class ActivityKind(enum.Enum):
    CHARITY_MEAL = strawberry.enum_value("CHARITY_MEAL", description="Charity meal (爱心餐)")
    PERFORMANCE = strawberry.enum_value("PERFORMANCE", description="Performance (文艺汇演)")
    FREE_CLINIC = strawberry.enum_value("FREE_CLINIC", description="Free clinic (义诊)")
    POLICY_OUTREACH = strawberry.enum_value("POLICY_OUTREACH", description="Policy outreach (政策宣讲)")
    CLEAN_UP = strawberry.enum_value("CLEAN_UP", description="Clean-up (环境整治)")
    EPIDEMIC_SUPPORT = strawberry.enum_value("EPIDEMIC_SUPPORT", description="Epidemic support (疫情防控)")
    OTHER = strawberry.enum_value("OTHER", description="Any other joint activity")


async def _hosts(root: ActivityRow, info: Info[Any, Any]) -> list[OrganisationRow]:
    return await r.hosts(root, info.context)


async def _community(root: ActivityRow, info: ResolverInfo) -> AreaRow | None:
    from resolvers.areas import area_by_id

    return await info.context.loader(area_by_id).load(root.community_id)


async def _attended_count(root: ActivityRow, info: Info[Any, Any]) -> int:
    return await r.attended_count(root, info.context)


async def _viewer_signup(root: ActivityRow, info: Info[Any, Any]) -> SignupRow | None:
    return await r.viewer_signup(root, info.context)


async def _signups(
    root: ActivityRow, info: Info[Any, Any], first: First = None, after: After = None
) -> Page[SignupRow] | None:
    return await r.signups(root, info.context, first, after)


_SignupRef = Annotated["Signup", strawberry.lazy("schema.activities")]


@strawberry.type(description="A joint volunteer activity (活动联办) hosted by units and the community")
class Activity(Node):
    is_type_of = is_row(ActivityRow)
    title: str = strawberry.field(description="What the activity is")
    kind: ActivityKind = strawberry.field(description="Its kind")
    starts_at: datetime.datetime = strawberry.field(description="When it starts")
    ends_at: datetime.datetime = strawberry.field(description="When it ends (after `startsAt`)")
    capacity: int | None = strawberry.field(description="Places; null when there is no limit")
    signup_count: int = strawberry.field(description="People signed up and not cancelled")
    attended_count: int = strawberry.field(resolver=_attended_count, description="People checked in")
    hosts: list[OrganisationRow] = strawberry.field(
        resolver=_hosts, graphql_type=list[Organisation], description="Host organisations (units, community)"
    )
    community: AreaRow | None = strawberry.field(
        resolver=_community, graphql_type=Community, description="The community it takes place in"
    )
    viewer_signup: SignupRow | None = strawberry.field(
        resolver=_viewer_signup,
        graphql_type=_SignupRef | None,
        description="The signed-in person's own sign-up, if any",
    )
    signups: Page[SignupRow] | None = strawberry.field(
        resolver=_signups,
        graphql_type=Connection[_SignupRef] | None,
        description="Who signed up: for staff in scope and the hosts' unit admins, else null",
    )


async def _signup_person(root: SignupRow, info: Info[Any, Any]) -> PersonRow:
    return await r.person_of(root, info.context)


async def _signup_activity(root: SignupRow, info: Info[Any, Any]) -> ActivityRow:
    return await r.activity_of(root, info.context)


@strawberry.type(description="A person's sign-up (报名) for an activity")
class Signup(Node):
    is_type_of = is_row(SignupRow)
    attended: bool = strawberry.field(description="Checked in (签到) at the activity")
    hours: float | None = strawberry.field(description="Volunteer hours credited at check-in")
    signed_up_at: datetime.datetime = strawberry.field(description="When the person signed up")
    cancelled_at: datetime.datetime | None = strawberry.field(description="When it was cancelled, if it was")
    person: PersonRow = strawberry.field(resolver=_signup_person, graphql_type=Person, description="Who signed up")
    activity: ActivityRow = strawberry.field(
        resolver=_signup_activity, graphql_type=Activity, description="The activity signed up for"
    )


async def _hours_person(root: VolunteerHoursRow, info: Info[Any, Any]) -> PersonRow:
    return await r.hours_person(root, info.context)


@strawberry.type(description="A person's volunteer hours (志愿服务时长), summed over attended activities")
class VolunteerHours:
    person: PersonRow = strawberry.field(resolver=_hours_person, graphql_type=Person, description="The volunteer")
    hours: float = strawberry.field(description="Hours credited at check-in")
    activities: int = strawberry.field(description="Activities attended")


@strawberry.input(description="Which activities to list")
class ActivityFilter:
    community_id: strawberry.ID | None = strawberry.field(default=None, description="Only this community's")
    from_: datetime.datetime | None = strawberry.field(default=None, name="from", description="Starting at or after")
    to: datetime.datetime | None = strawberry.field(default=None, description="Starting before")


async def _activities(
    info: Info[Any, Any],
    filter: Annotated[ActivityFilter | None, FILTER] = None,
    first: First = None,
    after: After = None,
) -> Page[ActivityRow]:
    f = filter or ActivityFilter()
    return await r.activities(
        info.context,
        community_id=f.community_id,
        starts_from=f.from_,
        starts_before=f.to,
        first=first,
        after=after,
    )


async def _volunteer_hours(
    info: Info[Any, Any],
    person_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="The person; absent: the viewer's own person")
    ] = None,
    from_: Annotated[
        datetime.datetime | None, strawberry.argument(name="from", description="Activities starting at or after")
    ] = None,
    to: Annotated[datetime.datetime | None, strawberry.argument(description="Activities starting before")] = None,
) -> VolunteerHoursRow | None:
    return await r.volunteer_hours(info.context, person_id, from_, to)


@strawberry.type
class ActivityQuery:
    activities: Page[ActivityRow] = strawberry.field(
        resolver=_activities,
        graphql_type=Connection[Activity],
        permission_classes=[SignedIn],
        description=described(
            "Activities of the viewer's county by start time, visible to every signed-in user", rules.ACTIVITY_ACCESS
        ),
    )
    volunteer_hours: VolunteerHoursRow | None = strawberry.field(
        resolver=_volunteer_hours,
        graphql_type=VolunteerHours | None,
        permission_classes=[SignedIn],
        description=(
            described(
                "Volunteer hours of a person (default: the viewer). A person sees their own; staff those of people "
                "whose household is in their scope; the county admin anyone's. Null when not visible.",
                rules.VOLUNTEER_HOURS_READER,
            )
        ),
    )


@strawberry.input(description="A new joint activity")
class CreateActivityInput:
    host_ids: list[strawberry.ID] = strawberry.field(description="Host organisations (at least one)")
    community_id: strawberry.ID = strawberry.field(description="The community it takes place in")
    title: str = strawberry.field(description="What the activity is (not blank)")
    kind: ActivityKind = strawberry.field(description="Its kind")
    starts_at: datetime.datetime = strawberry.field(description="When it starts (without an offset: county time)")
    ends_at: datetime.datetime = strawberry.field(description="Must be after `startsAt`")
    capacity: int | None = strawberry.field(default=None, description="Places (at least 1); null for no limit")


@strawberry.type(description="The result of createActivity")
class CreateActivityPayload:
    activity: ActivityRow | None = strawberry.field(
        graphql_type=Activity | None, description="The new activity; null when refused"
    )
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError], description="Why it was refused; empty on success"
    )


@strawberry.input(description="Sign the signed-in person up for an activity")
class SignUpInput:
    activity_id: strawberry.ID = strawberry.field(description="The activity to sign up for")


@strawberry.type(description="A sign-up and its activity, or why not")
class SignupPayload:
    signup: Signup | None = strawberry.field(description="The sign-up; null when refused")
    activity: Activity | None = strawberry.field(description="Its activity, with the counts after the change")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success")


@strawberry.input(description="Cancel a sign-up; its place is freed")
class CancelSignUpInput:
    signup_id: strawberry.ID = strawberry.field(description="The sign-up to cancel")


@strawberry.input(description="Check a signed-up person in at the activity")
class CheckInInput:
    signup_id: strawberry.ID = strawberry.field(description="The sign-up of the person checking in")
    hours: float | None = strawberry.field(
        default=None, description="Volunteer hours to credit; default the activity's duration"
    )


def _signup_payload(outcome: Any) -> SignupPayload:
    signup, activity = outcome.value if outcome.value is not None else (None, None)
    return SignupPayload(signup=signup, activity=activity, user_errors=outcome.user_errors)


async def _create_activity(info: Info[Any, Any], input: Annotated[CreateActivityInput, INPUT]) -> CreateActivityPayload:
    outcome = await r.create_activity(
        info.context,
        host_ids=list(input.host_ids),
        community_id=input.community_id,
        title=input.title,
        kind=input.kind.name,
        starts_at=input.starts_at,
        ends_at=input.ends_at,
        capacity=input.capacity,
    )
    return CreateActivityPayload(activity=outcome.value, user_errors=outcome.user_errors)


async def _sign_up(info: Info[Any, Any], input: Annotated[SignUpInput, INPUT]) -> SignupPayload:
    return _signup_payload(await r.sign_up(info.context, activity_id=input.activity_id))


async def _cancel_sign_up(info: Info[Any, Any], input: Annotated[CancelSignUpInput, INPUT]) -> SignupPayload:
    return _signup_payload(await r.cancel_sign_up(info.context, signup_id=input.signup_id))


async def _check_in(info: Info[Any, Any], input: Annotated[CheckInInput, INPUT]) -> SignupPayload:
    return _signup_payload(await r.check_in(info.context, signup_id=input.signup_id, hours=input.hours))


@strawberry.type
class ActivityMutation:
    create_activity: CreateActivityPayload = strawberry.mutation(
        resolver=_create_activity,
        permission_classes=[SignedIn],
        description=described(
            "Create a joint activity: staff in scope of the community or the unit admin of a host",
            rules.ACTIVITY_CREATOR,
        ),
    )
    sign_up: SignupPayload = strawberry.mutation(
        resolver=_sign_up,
        permission_classes=[SignedIn],
        description=described(
            "Sign the signed-in person up (报名); ALREADY_EXISTS twice, FULL past the capacity",
            rules.ACTIVITY_ACCESS,
            rules.IS_PERSON,
        ),
    )
    cancel_sign_up: SignupPayload = strawberry.mutation(
        resolver=_cancel_sign_up,
        permission_classes=[SignedIn],
        description=described(
            "Cancel a sign-up (the person, staff in scope or a host) and free its place",
            rules.SIGNUP_ACCESS,
            rules.ACTIVITY_MANAGER,
        ),
    )
    check_in: SignupPayload = strawberry.mutation(
        resolver=_check_in,
        permission_classes=[SignedIn],
        description=described(
            "Check a person in (签到): staff in scope or a host's unit admin; credits volunteer hours",
            rules.ACTIVITY_MANAGER,
        ),
    )


ALL_TYPES = [Activity, Signup]


# --- the compiled read path: the type's SQL, declared once (resolvers/compiled) -------------

# every signed-in user of the county sees its activities (`activity_access`, 0021)
_ACTIVITY_VISIBLE = "EXISTS (SELECT 1 FROM {viewer_from} w WHERE activity_access({row}, w))"

compiled.declare(
    "Activity",
    compiled.Source(
        "activities",
        _ACTIVITY_VISIBLE,
        {
            "id": compiled.GlobalId(),
            "title": compiled.Column("{row}.title"),
            "kind": compiled.Column("{row}.kind"),
            "startsAt": compiled.Column(compiled.date_time("{row}.starts_at")),
            "endsAt": compiled.Column(compiled.date_time("{row}.ends_at")),
            "capacity": compiled.Column("{row}.capacity"),
            "signupCount": compiled.Column("{row}.signup_count"),
            # db/activities.py ATTENDED_BY_ACTIVITY
            "attendedCount": compiled.Column(
                "(SELECT count(*) FROM signups s WHERE s.activity_id = {row}.id AND s.attended "
                "AND s.cancelled_at IS NULL)"
            ),
            "hosts": compiled.Relation(
                "Organisation",
                "list",
                "{row}.id IN (SELECT h.organisation_id FROM activity_hosts h WHERE h.activity_id = {parent}.id)",
            ),
            "community": compiled.Relation("Community", "one", "{row}.id = {parent}.community_id"),
        },
    ),
)

# `communityId` as resolvers/activities.py reads it: a community of the viewer's county, else
# nothing; `from`/`to` bound the start time
_ACTIVITIES_WHERE = (
    _ACTIVITY_VISIBLE  # noqa: S608 - constant text
    + " AND ({arg_community} IS NULL OR {row}.community_id = (SELECT c.id FROM areas c "
    "WHERE c.id = {arg_community} AND c.county_id = {county} AND c.level = 'COMMUNITY')) "
    "AND ({arg_from} IS NULL OR {row}.starts_at >= {arg_from}) AND ({arg_to} IS NULL OR {row}.starts_at < {arg_to})"
)


def _activity_arguments(given: Any) -> dict[str, Any]:
    """The filter as `_activities` reads it; a time without an offset (read in the county's
    time zone) is left to the ordinary path."""
    f = compiled_planner.filter_of(given)
    times = {"from": f.get("from"), "to": f.get("to")}
    if any(not isinstance(t, datetime.datetime) or t.tzinfo is None for t in times.values() if t is not None):
        raise compiled_planner.Fallback("a time in the county's zone")
    return {"community": ids.filter_key(f.get("communityId"), *ids.AREA_TYPES.values()), **times}


compiled.declare_root(
    "activities",
    compiled.RootConnection(
        "Activity",
        "activities",
        _ACTIVITIES_WHERE,
        (("community", "bigint"), ("from", "timestamptz"), ("to", "timestamptz")),
        _activity_arguments,
        time="{row}.starts_at",
    ),
)
