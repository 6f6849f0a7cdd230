"""Areas, organisations, households and people: loaders and field resolvers."""

from __future__ import annotations

from db import areas as db
from db.areas import AreaRow, HouseholdRow, OrganisationRow, PersonRow
from resolvers import nodes
from resolvers.context import Context


async def area_by_id(ctx: Context, keys: list[int]) -> list[AreaRow | None]:
    async with ctx.db.connection() as conn:
        found = await db.areas_by_id(conn, keys)
    return [found.get(k) for k in keys]


async def organisation_by_id(ctx: Context, keys: list[int]) -> list[OrganisationRow | None]:
    async with ctx.db.connection() as conn:
        found = await db.organisations_by_id(conn, keys)
    return [found.get(k) for k in keys]


async def household_by_id(ctx: Context, keys: list[int]) -> list[HouseholdRow | None]:
    async with ctx.db.connection() as conn:
        found = await db.households_by_id(conn, keys)
    return [found.get(k) for k in keys]


async def person_by_id(ctx: Context, keys: list[int]) -> list[PersonRow | None]:
    async with ctx.db.connection() as conn:
        found = await db.persons_by_id(conn, keys)
    return [found.get(k) for k in keys]


def _in_county(ctx: Context, row: AreaRow | OrganisationRow | HouseholdRow | PersonRow | None) -> bool:
    return row is not None and ctx.viewer is not None and row.county_id == ctx.viewer.county_id


def _area_node_loader(level: str) -> nodes.NodeLoader:
    async def load(ctx: Context, keys: list[int]) -> list[AreaRow | None]:
        rows = await ctx.loader(area_by_id).load_many(keys)
        return [r if _in_county(ctx, r) and r is not None and r.level == level else None for r in rows]

    return load


async def _organisation_nodes(ctx: Context, keys: list[int]) -> list[OrganisationRow | None]:
    rows = await ctx.loader(organisation_by_id).load_many(keys)
    return [r if _in_county(ctx, r) else None for r in rows]


async def _household_nodes(ctx: Context, keys: list[int]) -> list[HouseholdRow | None]:
    rows = await ctx.loader(household_by_id).load_many(keys)
    return [r if _in_county(ctx, r) else None for r in rows]


async def _person_nodes(ctx: Context, keys: list[int]) -> list[PersonRow | None]:
    rows = await ctx.loader(person_by_id).load_many(keys)
    return [r if _in_county(ctx, r) else None for r in rows]


AREA_TYPES = {
    "COUNTY": "County",
    "TOWN": "Town",
    "COMMUNITY": "Community",
    "DISTRICT": "District",
    "COMPOUND": "Compound",
    "BUILDING": "Building",
    "UNIT": "Unit",
}
for _level, _type_name in AREA_TYPES.items():
    nodes.register(_type_name, _area_node_loader(_level))
nodes.register("Organisation", _organisation_nodes)
nodes.register("Household", _household_nodes)
nodes.register("Person", _person_nodes)


async def parent_area(root: AreaRow, ctx: Context) -> AreaRow | None:
    if root.parent_id is None:
        return None
    return await ctx.loader(area_by_id).load(root.parent_id)


async def parent_organisation(root: OrganisationRow, ctx: Context) -> OrganisationRow | None:
    if root.parent_id is None:
        return None
    return await ctx.loader(organisation_by_id).load(root.parent_id)


async def household_of(root: PersonRow, ctx: Context) -> HouseholdRow | None:
    if root.household_id is None:
        return None
    return await ctx.loader(household_by_id).load(root.household_id)


async def building_of(root: HouseholdRow, ctx: Context) -> AreaRow | None:
    return await ctx.loader(area_by_id).load(root.building_id)
