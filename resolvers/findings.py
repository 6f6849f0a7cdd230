"""Joint inspections (联合巡查) and public notice (通报曝光).

Who sees what is the SQL rule `finding_access` (0021_node_rules.sql): staff in scope of the
compound and the county admin see every finding there (STAFF: `findings`); every signed-in
user of the county sees published findings (`publicNotices`, and `node`), so residents of
the area can read the notice board."""

from __future__ import annotations

import datetime

from db import findings as db
from db.findings import FindingFilter, FindingRow
from db.pool import Conn
from gongjian import clock
from resolvers import ids, life, nodes
from resolvers.access import viewer_key
from resolvers.context import Context
from resolvers.errors import ErrorCode, Refusal
from resolvers.mutations import Audited, Outcome, run
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows


async def visible_finding_by_id(ctx: Context, keys: list[int]) -> list[FindingRow | None]:
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.visible_findings_by_id(conn, ctx.settings.timezone, viewer_key(viewer), keys)
    return [found.get(k) for k in keys]


async def _finding_nodes(ctx: Context, keys: list[int]) -> list[FindingRow | None]:
    return await ctx.loader(visible_finding_by_id).load_many(keys)


nodes.register("Finding", _finding_nodes)


async def _page(ctx: Context, flt: FindingFilter, first: int | None, after: str | None) -> Page[FindingRow]:
    limit = checked_first(first)
    after_id = decode_id_cursor(after)
    zone = ctx.settings.timezone
    async with ctx.db.connection() as conn:
        rows = await db.page(conn, zone, flt, after_id, limit + 1)

    async def total() -> int:
        async with ctx.db.connection() as conn:
            return await db.count(conn, zone, flt)

    return page_from_rows(rows, limit, lambda r: [r.id], total)


async def findings(
    ctx: Context, *, area_id: str | None, status: str | None, first: int | None, after: str | None
) -> Page[FindingRow]:
    """Findings in the viewer's staff or county-admin scopes (others get an empty list), newest first."""
    viewer = ctx.signed_in
    flt = FindingFilter(
        viewer=viewer_key(viewer),
        reasons=["STAFF"],
        area_id=await life.area_filter(ctx, area_id),
        status=status,
        published_only=False,
    )
    return await _page(ctx, flt, first, after)


async def public_notices(
    ctx: Context, *, area_id: str | None, first: int | None, after: str | None
) -> Page[FindingRow]:
    """Published findings (通报曝光) of the viewer's county, newest first."""
    viewer = ctx.signed_in
    flt = FindingFilter(
        viewer=viewer_key(viewer),
        reasons=["STAFF", "PUBLISHED"],
        area_id=await life.area_filter(ctx, area_id),
        status=None,
        published_only=True,
    )
    return await _page(ctx, flt, first, after)


async def report_finding(
    ctx: Context, *, compound_id: str, category: str, description: str, deadline: datetime.date
) -> Outcome[FindingRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[FindingRow, Audited]:
        compound, staff = await life.staffed_area_of_level(ctx, conn, compound_id, "COMPOUND", "compoundId")
        if not staff:
            raise Refusal(ErrorCode.FORBIDDEN, "Only staff in scope of the compound may report findings")
        if life.blank(description):
            raise Refusal(ErrorCode.INVALID, "The description may not be blank", "description")
        if deadline < clock.today(ctx.settings.zone):
            raise Refusal(ErrorCode.INVALID, "The deadline may not be in the past", "deadline")
        row = await db.create(
            conn,
            ctx.settings.timezone,
            county_id=compound.county_id,
            compound_id=compound.id,
            category=category,
            description=description.strip(),
            deadline=deadline,
            reported_by=viewer.user_id,
        )
        return row, Audited("Finding", row.id, {"category": category})

    return await run(ctx, "reportFinding", body)


async def rectify_finding(ctx: Context, *, finding_id: str, note: str) -> Outcome[FindingRow]:
    viewer = ctx.signed_in
    zone = ctx.settings.timezone

    async def body(conn: Conn) -> tuple[FindingRow, Audited]:
        pk = ids.decode_as(finding_id, "Finding")
        locked = await db.finding_for_update(conn, zone, pk, viewer_key(viewer)) if pk is not None else None
        if pk is None or locked is None or locked[0].county_id != viewer.county_id:
            raise Refusal(ErrorCode.NOT_FOUND, "No finding with this id", "findingId")
        row, reason = locked
        if reason != "STAFF":
            raise Refusal(ErrorCode.FORBIDDEN, "Only staff in scope of the compound may rectify findings")
        if life.blank(note):
            raise Refusal(ErrorCode.INVALID, "Say how it was rectified", "note")
        if row.status == "RECTIFIED":
            raise Refusal(ErrorCode.INVALID_STATE, "The finding is already rectified", "findingId")
        done = await db.rectify(conn, zone, pk, note.strip())
        assert done is not None, "the row is locked and was open"
        return done, Audited("Finding", pk)

    return await run(ctx, "rectifyFinding", body)
