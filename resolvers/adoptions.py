"""Adoptions (包抓), read side: loaders and node visibility. Who sees an adoption is the SQL
rule `adoption_access` (0022_place_rules.sql): every user of its county, like the areas and
units it joins."""

from __future__ import annotations

from db import adoptions as db
from db.adoptions import AdoptionRow
from db.areas import AreaRow, OrganisationRow
from resolvers import relations
from resolvers.context import Context
from resolvers.loading import visible_grouped, visible_keyed

visible_adoption_by_id = visible_keyed(db.visible_by_id)


adoptions_by_area = visible_grouped(db.active_by_area)


adoptions_by_unit = visible_grouped(db.active_by_unit)


relations.register("Adoption", visible_adoption_by_id)


async def of_area(root: AreaRow, ctx: Context) -> list[AdoptionRow]:
    """The current adoptions of an area (a compound or building)."""
    return await ctx.loader(adoptions_by_area).load(root.id)


async def of_unit(root: OrganisationRow, ctx: Context) -> list[AdoptionRow]:
    """The current adoptions of a unit."""
    return await ctx.loader(adoptions_by_unit).load(root.id)
