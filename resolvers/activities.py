"""Joint volunteer activities (活动联办): who may create, sign up, cancel and check in;
volunteer hours (志愿服务时长).

Who sees what (the SQL rules `activity_access`, `activity_manager` and `signup_access`):
activities are public to every signed-in user of the county (they are announced to
residents). A sign-up is seen by its person, by staff in scope of the activity's community
and by the UNIT_ADMIN of a host (who manage the activity). Volunteer hours of a person are
seen by the person themself, by staff whose scope holds the person's household and by the
county admin."""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal

import asyncpg

from db import activities as db
from db.activities import ActivityRow, SignupRow, VolunteerHoursRow
from db.areas import OrganisationRow, PersonRow
from db.pool import Conn
from gongjian import clock
from resolvers import ids, life, nodes
from resolvers.access import viewer_key
from resolvers.areas import AREA_TYPES, person_by_id
from resolvers.context import Context
from resolvers.errors import ErrorCode, Refusal
from resolvers.loading import grouped, keyed
from resolvers.mutations import Audited, Outcome, run
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows, page_of_known_total

# ---- loaders -------------------------------------------------------------------------------


activity_by_id = keyed(db.activities_by_id)


hosts_by_activity = grouped(db.hosts_by_activity)


attended_by_activity = keyed(db.attended_by_activity)


async def signup_pages_by_activity(ctx: Context, keys: list[tuple[int, int | None, int]]) -> list[list[SignupRow]]:
    """Keys (activity id, after id, limit): one statement per distinct (after, limit)."""
    groups: dict[tuple[int | None, int], list[int]] = {}
    for activity_id, after, limit in keys:
        groups.setdefault((after, limit), []).append(activity_id)
    found: dict[tuple[int, int | None, int], list[SignupRow]] = {}
    async with ctx.db.connection() as conn:
        for (after, limit), activity_ids in groups.items():
            pages = await db.signups_of_activities(conn, activity_ids, after, limit)
            for activity_id in activity_ids:
                found[(activity_id, after, limit)] = pages.get(activity_id, [])
    return [found[k] for k in keys]


async def viewer_signup_by_activity(ctx: Context, keys: list[int]) -> list[SignupRow | None]:
    person_id = ctx.viewer.person_id if ctx.viewer else None
    if person_id is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.viewer_signups(conn, person_id, keys)
    return [found.get(k) for k in keys]


# ---- visibility ----------------------------------------------------------------------------


async def visible_activity_by_id(ctx: Context, keys: list[int]) -> list[ActivityRow | None]:
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.visible_activities_by_id(conn, viewer_key(viewer), keys)
    return [found.get(k) for k in keys]


async def activity_manager(ctx: Context, keys: list[int]) -> list[str | None]:
    """Batch: why the viewer manages each activity (the SQL rule `activity_manager`)."""
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.activity_manager(conn, viewer_key(viewer), keys)
    return [found.get(k) for k in keys]


async def visible_signup_by_id(ctx: Context, keys: list[int]) -> list[SignupRow | None]:
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.visible_signups_by_id(conn, viewer_key(viewer), keys)
    return [found.get(k) for k in keys]


async def _activity_nodes(ctx: Context, keys: list[int]) -> list[ActivityRow | None]:
    return await ctx.loader(visible_activity_by_id).load_many(keys)


async def _signup_nodes(ctx: Context, keys: list[int]) -> list[SignupRow | None]:
    return await ctx.loader(visible_signup_by_id).load_many(keys)


nodes.register("Activity", _activity_nodes)
nodes.register("Signup", _signup_nodes)

# ---- fields --------------------------------------------------------------------------------


async def hosts(root: ActivityRow, ctx: Context) -> list[OrganisationRow]:
    return await ctx.loader(hosts_by_activity).load(root.id)


async def attended_count(root: ActivityRow, ctx: Context) -> int:
    return await ctx.loader(attended_by_activity).load(root.id) or 0


async def viewer_signup(root: ActivityRow, ctx: Context) -> SignupRow | None:
    return await ctx.loader(viewer_signup_by_activity).load(root.id)


async def activity_of(root: SignupRow, ctx: Context) -> ActivityRow:
    row = await ctx.loader(activity_by_id).load(root.activity_id)
    assert row is not None, "a sign-up's activity exists (foreign key)"
    return row


async def person_of(root: SignupRow, ctx: Context) -> PersonRow:
    row = await ctx.loader(person_by_id).load(root.person_id)
    assert row is not None, "a sign-up's person exists (foreign key)"
    return row


async def signups(root: ActivityRow, ctx: Context, first: int | None, after: str | None) -> Page[SignupRow] | None:
    """The sign-ups of an activity: for staff in scope and the hosts' UNIT_ADMIN, else null."""
    if await ctx.loader(activity_manager).load(root.id) is None:
        return None
    limit = checked_first(first)
    after_id = decode_id_cursor(after)
    rows = await ctx.loader(signup_pages_by_activity).load((root.id, after_id, limit + 1))
    # signup_count is kept equal to the active sign-ups by every sign-up and cancellation
    return page_of_known_total(rows, limit, lambda r: [r.id], root.signup_count)


# ---- queries -------------------------------------------------------------------------------


async def activities(
    ctx: Context,
    *,
    community_id: str | None,
    starts_from: datetime.datetime | None,
    starts_before: datetime.datetime | None,
    first: int | None,
    after: str | None,
) -> Page[ActivityRow]:
    """Activities of the viewer's county, by start time; `communityId` narrows to one
    community (an unknown id gives an empty list), `from`/`to` bound the start time."""
    viewer = ctx.signed_in
    limit = checked_first(first)
    cursor = life.time_cursor(after)
    community: int | None = None
    if community_id is not None:
        area = await life.any_area(ctx, community_id)
        community = area.id if area is not None and area.level == "COMMUNITY" else -1
    filters = {
        "viewer": viewer_key(viewer),
        "community_id": community,
        "starts_from": life.aware(ctx, starts_from),
        "starts_before": life.aware(ctx, starts_before),
    }
    async with ctx.db.connection() as conn:
        rows = await db.page(conn, **filters, after=cursor, limit=limit + 1)  # type: ignore[arg-type]

    async def total() -> int:
        async with ctx.db.connection() as conn:
            return await db.count(conn, **filters)  # type: ignore[arg-type]

    return page_from_rows(rows, limit, lambda r: [r.starts_at.isoformat(), r.id], total)


async def volunteer_hours(
    ctx: Context,
    person_id: str | None,
    starts_from: datetime.datetime | None,
    starts_before: datetime.datetime | None,
) -> VolunteerHoursRow | None:
    """Hours credited at check-in, summed over attended activities; null when the person
    is unknown or not visible to the viewer."""
    viewer = ctx.signed_in
    pk = viewer.person_id if person_id is None else ids.decode_as(person_id, "Person")
    if pk is None:
        return None
    async with ctx.db.connection() as conn:
        found = await db.volunteer_hours(
            conn, viewer_key(viewer), [pk], life.aware(ctx, starts_from), life.aware(ctx, starts_before)
        )
    return found.get(pk)


async def hours_person(root: VolunteerHoursRow, ctx: Context) -> PersonRow:
    row = await ctx.loader(person_by_id).load(root.person_id)
    assert row is not None
    return row


# ---- mutations -----------------------------------------------------------------------------


async def create_activity(
    ctx: Context,
    *,
    host_ids: list[str],
    community_id: str,
    title: str,
    kind: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    capacity: int | None,
) -> Outcome[ActivityRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[ActivityRow, Audited]:
        pk = ids.decode_as(community_id, "Community")
        host_pks = [h for h in (ids.decode_as(g, "Organisation") for g in host_ids) if h is not None]
        found = await db.community_for_creator(conn, pk, host_pks, viewer_key(viewer)) if pk is not None else None
        if found is None or found[0].level != "COMMUNITY" or found[0].county_id != viewer.county_id:
            raise Refusal(ErrorCode.NOT_FOUND, f"No {AREA_TYPES['COMMUNITY'].lower()} with this id", "communityId")
        community, creator = found
        if not host_ids:
            raise Refusal(ErrorCode.INVALID, "Name at least one host organisation", "hostIds")
        hosts = await life.organisations(ctx, host_ids, "hostIds")
        if not creator:
            raise Refusal(ErrorCode.FORBIDDEN, "Only staff of the community or a host's unit admin may create it")
        if life.blank(title):
            raise Refusal(ErrorCode.INVALID, "The title may not be blank", "title")
        start, end = life.aware(ctx, starts_at), life.aware(ctx, ends_at)
        assert start is not None and end is not None
        if end <= start:
            raise Refusal(ErrorCode.INVALID, "`endsAt` must be after `startsAt`", "endsAt")
        if capacity is not None and capacity < 1:
            raise Refusal(ErrorCode.INVALID, "`capacity` must be at least 1 (or left out for no limit)", "capacity")
        row = await db.create(
            conn,
            county_id=viewer.county_id,
            community_id=community.id,
            title=title.strip(),
            kind=kind,
            starts_at=start,
            ends_at=end,
            capacity=capacity,
            host_ids=[h.id for h in hosts],
            created_by=viewer.user_id,
        )
        return row, Audited("Activity", row.id, {"hosts": [h.id for h in hosts]})

    return await run(ctx, "createActivity", body)


async def _visible_activity(ctx: Context, conn: Conn, global_id: str, field: str) -> ActivityRow:
    pk = ids.decode_as(global_id, "Activity")
    found = await db.visible_activities_by_id(conn, viewer_key(ctx.signed_in), [pk]) if pk is not None else {}
    row = found.get(pk) if pk is not None else None
    if row is None:
        raise Refusal(ErrorCode.NOT_FOUND, "No activity with this id", field)
    return row


async def sign_up(ctx: Context, *, activity_id: str) -> Outcome[tuple[SignupRow, ActivityRow]]:
    """The signed-in person signs up; a place is taken by one conditional UPDATE, so the
    capacity holds under any number of concurrent sign-ups."""
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[tuple[SignupRow, ActivityRow], Audited]:
        activity = await _visible_activity(ctx, conn, activity_id, "activityId")
        if viewer.person_id is None:
            raise Refusal(ErrorCode.FORBIDDEN, "Only a person's account can sign up")
        if activity.ends_at <= clock.now():
            raise Refusal(ErrorCode.INVALID_STATE, "The activity has ended", "activityId")
        if await db.active_signup(conn, activity.id, viewer.person_id) is not None:
            raise Refusal(ErrorCode.ALREADY_EXISTS, "You have already signed up", "activityId")
        try:
            async with conn.transaction():
                taken = await db.take_place(conn, activity.id)
                if taken is None:
                    raise Refusal(ErrorCode.FULL, "The activity is full", "activityId")
                signup = await db.insert_signup(
                    conn, county_id=activity.county_id, activity_id=activity.id, person_id=viewer.person_id
                )
        except asyncpg.UniqueViolationError:
            raise Refusal(ErrorCode.ALREADY_EXISTS, "You have already signed up", "activityId") from None
        except asyncpg.CheckViolationError:
            raise Refusal(ErrorCode.FULL, "The activity is full", "activityId") from None
        updated = dataclasses.replace(activity, signup_count=taken)
        return (signup, updated), Audited("Signup", signup.id, {"activity": activity.id})

    return await run(ctx, "signUp", body)


async def _visible_signup(ctx: Context, conn: Conn, global_id: str) -> db.LockedSignup:
    pk = ids.decode_as(global_id, "Signup")
    locked = await db.signup_for_update(conn, pk, viewer_key(ctx.signed_in)) if pk is not None else None
    if locked is None or locked.signup.county_id != ctx.signed_in.county_id:
        raise Refusal(ErrorCode.NOT_FOUND, "No sign-up with this id", "signupId")
    return locked


async def cancel_sign_up(ctx: Context, *, signup_id: str) -> Outcome[tuple[SignupRow, ActivityRow]]:
    """The person themself, staff in scope or a host's UNIT_ADMIN cancel; the place is freed."""

    async def body(conn: Conn) -> tuple[tuple[SignupRow, ActivityRow], Audited]:
        locked = await _visible_signup(ctx, conn, signup_id)
        signup = locked.signup
        activity = (await db.activities_by_id(conn, [signup.activity_id]))[signup.activity_id]
        if locked.reason is None or (locked.reason != "SELF" and locked.manager is None):
            raise Refusal(ErrorCode.FORBIDDEN, "Only the person, staff in scope or a host may cancel it")
        if signup.cancelled_at is not None:
            raise Refusal(ErrorCode.INVALID_STATE, "The sign-up is already cancelled", "signupId")
        if signup.attended:
            raise Refusal(ErrorCode.INVALID_STATE, "The person has already checked in", "signupId")
        cancelled = await db.cancel_signup(conn, signup.id)
        assert cancelled is not None, "the row is locked and was checked above"
        freed = await db.free_place(conn, activity.id)
        return (cancelled, dataclasses.replace(activity, signup_count=freed)), Audited("Signup", signup.id)

    return await run(ctx, "cancelSignUp", body)


async def check_in(ctx: Context, *, signup_id: str, hours: float | None) -> Outcome[tuple[SignupRow, ActivityRow]]:
    """Staff in scope or a host's UNIT_ADMIN mark the person as attended and credit hours
    (by default the activity's duration)."""

    async def body(conn: Conn) -> tuple[tuple[SignupRow, ActivityRow], Audited]:
        locked = await _visible_signup(ctx, conn, signup_id)
        signup = locked.signup
        activity = (await db.activities_by_id(conn, [signup.activity_id]))[signup.activity_id]
        if locked.manager is None:
            raise Refusal(ErrorCode.FORBIDDEN, "Only staff in scope or a host may check people in")
        if signup.cancelled_at is not None:
            raise Refusal(ErrorCode.INVALID_STATE, "The sign-up was cancelled", "signupId")
        if signup.attended:
            raise Refusal(ErrorCode.INVALID_STATE, "The person has already checked in", "signupId")
        duration = (activity.ends_at - activity.starts_at).total_seconds() / 3600
        if hours is not None and not (0 <= hours <= min(duration, 999.99)):
            raise Refusal(ErrorCode.INVALID, "`hours` must lie between 0 and the activity's duration", "hours")
        credited = Decimal(str(round(hours, 2))) if hours is not None else None
        done = await db.check_in(conn, signup.id, credited)
        assert done is not None, "the row is locked and was checked above"
        return (done, activity), Audited("Signup", signup.id, {"hours": done.hours})

    return await run(ctx, "checkIn", body)
