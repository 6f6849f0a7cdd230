"""Old-compound renovation projects (老旧小区改造).

Projects are public to every signed-in user of the county (the SQL rule
`renovation_access`) (residents follow the works on
their compound). Staff in scope of the compound and the county admin plan, start and
complete them; `year` is the planned year, set to the year of completion (county time)
when the project is completed."""

from __future__ import annotations

from db import renovations as db
from db.areas import AreaRow
from db.pool import Conn
from db.renovations import RenovationRow
from gongjian import clock
from resolvers import ids, life, nodes
from resolvers.access import viewer_key
from resolvers.context import Context
from resolvers.errors import ErrorCode, Refusal
from resolvers.loading import grouped
from resolvers.mutations import Audited, Outcome, run
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows


async def visible_renovation_by_id(ctx: Context, keys: list[int]) -> list[RenovationRow | None]:
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.visible_renovations_by_id(conn, viewer_key(viewer), keys)
    return [found.get(k) for k in keys]


async def _renovation_nodes(ctx: Context, keys: list[int]) -> list[RenovationRow | None]:
    return await ctx.loader(visible_renovation_by_id).load_many(keys)


nodes.register("Renovation", _renovation_nodes)


renovations_by_compound = grouped(db.of_compounds)


async def of_compound(root: AreaRow, ctx: Context) -> list[RenovationRow]:
    """Compound.renovations: its renovation projects, oldest first."""
    return await ctx.loader(renovations_by_compound).load(root.id)


async def renovations(
    ctx: Context, *, area_id: str | None, status: str | None, first: int | None, after: str | None
) -> Page[RenovationRow]:
    viewer = ctx.signed_in
    limit = checked_first(first)
    after_id = decode_id_cursor(after)
    filters = {"viewer": viewer_key(viewer), "area_id": await life.area_filter(ctx, area_id), "status": status}
    async with ctx.db.connection() as conn:
        rows = await db.page(conn, **filters, after=after_id, limit=limit + 1)  # type: ignore[arg-type]

    async def total() -> int:
        async with ctx.db.connection() as conn:
            return await db.count(conn, **filters)  # type: ignore[arg-type]

    return page_from_rows(rows, limit, lambda r: [r.id], total)


YEARS = range(1949, 2201)


async def plan_renovation(ctx: Context, *, compound_id: str, title: str, year: int) -> Outcome[RenovationRow]:
    async def body(conn: Conn) -> tuple[RenovationRow, Audited]:
        compound, staff = await life.staffed_area_of_level(ctx, conn, compound_id, "COMPOUND", "compoundId")
        if not staff:
            raise Refusal(ErrorCode.FORBIDDEN, "Only staff in scope of the compound or the county admin")
        if life.blank(title):
            raise Refusal(ErrorCode.INVALID, "The title may not be blank", "title")
        if year not in YEARS:
            raise Refusal(ErrorCode.INVALID, "Not a plausible year", "year")
        row = await db.create(
            conn,
            county_id=compound.county_id,
            compound_id=compound.id,
            title=title.strip(),
            status="PLANNED",
            year=year,
        )
        return row, Audited("Renovation", row.id)

    return await run(ctx, "planRenovation", body)


async def _advance(ctx: Context, action: str, renovation_id: str, source: str, target: str) -> Outcome[RenovationRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[RenovationRow, Audited]:
        pk = ids.decode_as(renovation_id, "Renovation")
        locked = await db.renovation_for_update(conn, pk, viewer_key(viewer)) if pk is not None else None
        if pk is None or locked is None:
            raise Refusal(ErrorCode.NOT_FOUND, "No renovation project with this id", "renovationId")
        row, staff = locked
        if not staff:
            raise Refusal(ErrorCode.FORBIDDEN, "Only staff in scope of the compound or the county admin")
        if row.status != source:
            raise Refusal(ErrorCode.INVALID_STATE, f"The project is {row.status}, not {source}", "renovationId")
        year = clock.today(ctx.settings.zone).year if target == "COMPLETED" else None
        done = await db.advance(conn, pk, source, target, year)
        assert done is not None, "the row is locked and was checked above"
        return done, Audited("Renovation", pk, {"status": target})

    return await run(ctx, action, body)


async def start_renovation(ctx: Context, *, renovation_id: str) -> Outcome[RenovationRow]:
    return await _advance(ctx, "startRenovation", renovation_id, "PLANNED", "IN_PROGRESS")


async def complete_renovation(ctx: Context, *, renovation_id: str) -> Outcome[RenovationRow]:
    return await _advance(ctx, "completeRenovation", renovation_id, "IN_PROGRESS", "COMPLETED")
