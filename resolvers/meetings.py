"""Meetings (群众评议会 / 物业管理会 / 业委会 / 单位联席会), minutes and resolutions.

Who sees what: staff in scope of the meeting's community and the county admin see its
meetings; the UNIT_ADMIN of a participating organisation sees the meetings it takes part
in. Residents see none (a resolution that concerns them reaches them as a service order).
Staff in scope schedule meetings and record minutes; a resolution naming a household
becomes a SUBMITTED service order of that household (`followUp`), placed through
db.orders.create_order in the same transaction."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from db import meetings as db
from db import orders
from db.areas import OrganisationRow
from db.meetings import MeetingFilter, MeetingRow, ResolutionRow
from db.pool import Conn
from gongjian import clock
from resolvers import ids, life, nodes
from resolvers.access import viewer_key
from resolvers.context import Context
from resolvers.errors import ErrorCode, Refusal
from resolvers.loading import grouped, keyed
from resolvers.mutations import Audited, Outcome, run
from resolvers.pagination import Page, checked_first, page_from_rows

DEFAULT_FOLLOW_UP_CATEGORY = "OTHER"


@dataclass(frozen=True)
class ResolutionDraft:
    text: str
    follow_up_household_id: str | None
    follow_up_category: str | None


meeting_by_id = keyed(db.meetings_by_id)


organisations_by_meeting = grouped(db.organisations_by_meeting)


resolutions_by_meeting = grouped(db.resolutions_by_meeting)


resolution_by_id = keyed(db.resolutions_by_id)


resolution_by_order = keyed(db.resolutions_by_order)


async def meeting_access(ctx: Context, keys: list[int]) -> list[str | None]:
    """Batch: why the viewer may see each meeting (the SQL rule `meeting_access`; None: hidden)."""
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.meeting_access(conn, keys, viewer_key(viewer))
    return [found.get(k) for k in keys]


async def _meeting_nodes(ctx: Context, keys: list[int]) -> list[MeetingRow | None]:
    reasons = await ctx.loader(meeting_access).load_many(keys)
    rows = await ctx.loader(meeting_by_id).load_many([k for k, r in zip(keys, reasons, strict=True) if r])
    visible = {r.id: r for r in rows if r is not None}
    return [visible.get(k) for k in keys]


async def visible_resolution(ctx: Context, row: ResolutionRow | None) -> ResolutionRow | None:
    """A resolution is visible with its meeting."""
    if row is None:
        return None
    return row if await ctx.loader(meeting_access).load(row.meeting_id) is not None else None


async def _resolution_nodes(ctx: Context, keys: list[int]) -> list[ResolutionRow | None]:
    rows = await ctx.loader(resolution_by_id).load_many(keys)
    reasons = await ctx.loader(meeting_access).load_many([r.meeting_id if r else 0 for r in rows])
    return [r if r is not None and reason else None for r, reason in zip(rows, reasons, strict=True)]


nodes.register("Meeting", _meeting_nodes)
nodes.register("Resolution", _resolution_nodes)


# ---- fields --------------------------------------------------------------------------------


async def organisations(root: MeetingRow, ctx: Context) -> list[OrganisationRow]:
    return await ctx.loader(organisations_by_meeting).load(root.id)


async def resolutions(root: MeetingRow, ctx: Context) -> list[ResolutionRow]:
    return await ctx.loader(resolutions_by_meeting).load(root.id)


async def meeting_of(root: ResolutionRow, ctx: Context) -> MeetingRow:
    row = await ctx.loader(meeting_by_id).load(root.meeting_id)
    assert row is not None, "a resolution's meeting exists (foreign key)"
    return row


async def follow_up(root: ResolutionRow, ctx: Context) -> object | None:
    """The follow-up service order, with the orders' own visibility rule (null when hidden)."""
    if root.follow_up_order_id is None:
        return None
    found: object | None = (await nodes.resolve_nodes(ctx, [ids.encode("ServiceOrder", root.follow_up_order_id)]))[0]
    return found


async def originating_resolution(order_id: int, ctx: Context) -> ResolutionRow | None:
    """The resolution an order follows up, if the viewer may see its meeting."""
    return await visible_resolution(ctx, await ctx.loader(resolution_by_order).load(order_id))


# ---- queries -------------------------------------------------------------------------------


async def meetings(ctx: Context, *, community_id: str | None, first: int | None, after: str | None) -> Page[MeetingRow]:
    """Meetings the viewer may see (see the module's docstring), latest first."""
    viewer = ctx.signed_in
    limit = checked_first(first)
    cursor = life.time_cursor(after)
    flt = MeetingFilter(viewer=viewer_key(viewer), community_id=await life.area_filter(ctx, community_id))
    async with ctx.db.connection() as conn:
        rows = await db.page(conn, flt, cursor, limit + 1)

    async def total() -> int:
        async with ctx.db.connection() as conn:
            return await db.count(conn, flt)

    return page_from_rows(rows, limit, lambda r: [r.starts_at.isoformat(), r.id], total)


# ---- mutations -----------------------------------------------------------------------------


async def schedule_meeting(
    ctx: Context,
    *,
    kind: str,
    community_id: str,
    title: str,
    starts_at: datetime.datetime,
    organisation_ids: list[str],
) -> Outcome[MeetingRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[MeetingRow, Audited]:
        community, staff = await life.staffed_area_of_level(ctx, conn, community_id, "COMMUNITY", "communityId")
        if not staff:
            raise Refusal(ErrorCode.FORBIDDEN, "Only staff in scope of the community may schedule its meetings")
        if life.blank(title):
            raise Refusal(ErrorCode.INVALID, "The title may not be blank", "title")
        participants = await life.organisations(ctx, organisation_ids, "organisationIds")
        start = life.aware(ctx, starts_at)
        assert start is not None
        row = await db.create(
            conn,
            county_id=community.county_id,
            community_id=community.id,
            kind=kind,
            title=title.strip(),
            starts_at=start,
            organisation_ids=[o.id for o in participants],
            created_by=viewer.user_id,
        )
        return row, Audited("Meeting", row.id, {"kind": kind})

    return await run(ctx, "scheduleMeeting", body)


async def _locked_meeting(ctx: Context, conn: Conn, meeting_id: str) -> MeetingRow:
    pk = ids.decode_as(meeting_id, "Meeting")
    locked = await db.lock(conn, pk, viewer_key(ctx.signed_in)) if pk is not None else None
    if locked is None or locked[0].county_id != ctx.signed_in.county_id:
        raise Refusal(ErrorCode.NOT_FOUND, "No meeting with this id", "meetingId")
    row, reason = locked
    if reason != "STAFF":
        raise Refusal(ErrorCode.FORBIDDEN, "Only staff in scope of the community may do this")
    return row


async def record_minutes(
    ctx: Context, *, meeting_id: str, minutes: str, resolutions: list[ResolutionDraft]
) -> Outcome[MeetingRow]:
    """SCHEDULED -> HELD with the minutes; each resolution naming a household places a
    SUBMITTED follow-up order for it. All or nothing."""
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[MeetingRow, Audited]:
        meeting = await _locked_meeting(ctx, conn, meeting_id)
        if meeting.status != "SCHEDULED":
            raise Refusal(ErrorCode.INVALID_STATE, f"The meeting is {meeting.status}, not SCHEDULED", "meetingId")
        if meeting.starts_at > clock.now():
            raise Refusal(ErrorCode.INVALID_STATE, "The meeting has not started yet: no minutes before it", "meetingId")
        if life.blank(minutes):
            raise Refusal(ErrorCode.INVALID, "The minutes may not be blank", "minutes")
        held_now = await db.hold(conn, meeting.id, minutes.strip())
        assert held_now, "the row is locked and SCHEDULED"
        orders_placed: list[int] = []
        for position, draft in enumerate(resolutions):
            path = ["resolutions", str(position)]
            if life.blank(draft.text):
                raise Refusal(ErrorCode.INVALID, "A resolution's text may not be blank", [*path, "text"])
            order_id: int | None = None
            if draft.follow_up_household_id is not None:
                household = await life.household(ctx, draft.follow_up_household_id, [*path, "followUpHouseholdId"])
                if meeting.community_id not in household.path:
                    raise Refusal(
                        ErrorCode.INVALID,
                        "The household is not in the meeting's community",
                        [*path, "followUpHouseholdId"],
                    )
                try:
                    order = await orders.create_order(
                        conn,
                        county_id=meeting.county_id,
                        household_id=household.id,
                        community_id=meeting.community_id,
                        title=draft.text.strip()[:100],
                        description=f"{meeting.title}决议：{draft.text.strip()}",
                        category=draft.follow_up_category or DEFAULT_FOLLOW_UP_CATEGORY,
                        placed_by=viewer.user_id,
                        actor_person_id=viewer.person_id,
                        note=f"会议决议跟进（{meeting.title}）",
                        zone=ctx.settings.timezone,
                    )
                except orders.UnknownCategory:
                    raise Refusal(
                        ErrorCode.INVALID, "No service category with this code", [*path, "followUpCategory"]
                    ) from None
                order_id = order.id
                orders_placed.append(order.id)
            await db.add_resolution(
                conn,
                county_id=meeting.county_id,
                meeting_id=meeting.id,
                position=position,
                text=draft.text.strip(),
                follow_up_order_id=order_id,
            )
        held = (await db.meetings_by_id(conn, [meeting.id]))[meeting.id]
        return held, Audited("Meeting", meeting.id, {"resolutions": len(resolutions), "orders": orders_placed})

    return await run(ctx, "recordMinutes", body)


async def cancel_meeting(ctx: Context, *, meeting_id: str) -> Outcome[MeetingRow]:
    async def body(conn: Conn) -> tuple[MeetingRow, Audited]:
        meeting = await _locked_meeting(ctx, conn, meeting_id)
        if not await db.cancel(conn, meeting.id):
            raise Refusal(ErrorCode.INVALID_STATE, f"The meeting is {meeting.status}, not SCHEDULED", "meetingId")
        return (await db.meetings_by_id(conn, [meeting.id]))[meeting.id], Audited("Meeting", meeting.id)

    return await run(ctx, "cancelMeeting", body)
