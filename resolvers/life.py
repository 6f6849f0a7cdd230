"""Shared look-ups of the community-life domain: areas and organisations named by global id,
refusals for ids that are unknown or outside the viewer's county, and the county's clock."""

from __future__ import annotations

import datetime

from graphql import GraphQLError

from db import areas as areas_db
from db.areas import AreaRow, HouseholdRow, OrganisationRow
from db.pool import Conn
from resolvers import ids
from resolvers.access import viewer_key
from resolvers.areas import AREA_TYPES, area_by_id, household_by_id, organisation_by_id
from resolvers.context import Context
from resolvers.errors import ErrorCode, Refusal, bad_user_input
from resolvers.pagination import decode_cursor


async def area_of_level(ctx: Context, global_id: str, level: str, field: list[str] | str) -> AreaRow:
    """The area of `level` named by `global_id` in the viewer's county, else NOT_FOUND."""
    pk = ids.decode_as(global_id, AREA_TYPES[level])
    row = await ctx.loader(area_by_id).load(pk) if pk is not None else None
    if row is None or row.level != level or row.county_id != ctx.signed_in.county_id:
        raise Refusal(ErrorCode.NOT_FOUND, f"No {AREA_TYPES[level].lower()} with this id", field)
    return row


async def staffed_area_of_level(
    ctx: Context, conn: Conn, global_id: str, level: str, field: list[str] | str
) -> tuple[AreaRow, bool]:
    """As `area_of_level`, read in the mutation's transaction with whether the viewer is staff
    of the area (the rule `staff_of_area`, in the same statement)."""
    pk = ids.decode_as(global_id, AREA_TYPES[level])
    found = await areas_db.staffed_area(conn, pk, viewer_key(ctx.signed_in)) if pk is not None else None
    if found is None or found[0].level != level or found[0].county_id != ctx.signed_in.county_id:
        raise Refusal(ErrorCode.NOT_FOUND, f"No {AREA_TYPES[level].lower()} with this id", field)
    return found


async def any_area(ctx: Context, global_id: str | None) -> AreaRow | None:
    """The area of any level named by `global_id` in the viewer's county (filters: None when unknown)."""
    if global_id is None:
        return None
    pk = ids.decode_as(global_id, *AREA_TYPES.values())
    row = await ctx.loader(area_by_id).load(pk) if pk is not None else None
    if row is None or row.county_id != ctx.signed_in.county_id:
        return None
    return row


async def organisations(ctx: Context, global_ids: list[str], field: str) -> list[OrganisationRow]:
    """The organisations named, in the viewer's county; any unknown one is NOT_FOUND."""
    pks = [ids.decode_as(g, "Organisation") for g in global_ids]
    rows = await ctx.loader(organisation_by_id).load_many([pk for pk in pks if pk is not None])
    if None in pks or any(r is None or r.county_id != ctx.signed_in.county_id for r in rows):
        raise Refusal(ErrorCode.NOT_FOUND, "No organisation with one of these ids", field)
    return list(dict.fromkeys(r for r in rows if r is not None))


async def household(ctx: Context, global_id: str, field: list[str]) -> HouseholdRow:
    pk = ids.decode_as(global_id, "Household")
    row = await ctx.loader(household_by_id).load(pk) if pk is not None else None
    if row is None or row.county_id != ctx.signed_in.county_id:
        raise Refusal(ErrorCode.NOT_FOUND, "No household with this id", field)
    return row


def aware(ctx: Context, value: datetime.datetime | None) -> datetime.datetime | None:
    """A time without an offset is read in the county's time zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ctx.settings.zone)


def blank(text: str) -> bool:
    return not text.strip()


def _not_a_cursor() -> GraphQLError:
    return bad_user_input("`after` is not a cursor this API gave out", argument="after")


def time_cursor(after: str | None) -> tuple[datetime.datetime, int] | None:
    """The (time, id) of a cursor over lists paged by a time and then the id."""
    key = decode_cursor(after)
    if key is None:
        return None
    if len(key) != 2 or not isinstance(key[0], str) or not isinstance(key[1], int):
        raise _not_a_cursor()
    try:
        return datetime.datetime.fromisoformat(key[0]), int(key[1])
    except ValueError:
        raise _not_a_cursor() from None


async def area_filter(ctx: Context, area_id: str | None) -> int | None:
    """An `areaId` filter: None when absent, -1 (matches nothing) when unknown."""
    if area_id is None:
        return None
    area = await any_area(ctx, area_id)
    return area.id if area is not None else -1
