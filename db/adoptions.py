"""Adoptions (包抓), read side: a unit taking responsibility for a compound or building.
The pairings domain writes them (`adopt`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Final

import asyncpg

from db.access import ViewerKey
from db.pool import Conn


@dataclass(frozen=True)
class AdoptionRow:
    id: int
    county_id: int
    unit_id: int
    area_id: int
    duties: list[str]
    since: datetime.date
    until: datetime.date | None


COLUMNS: Final = "d.id, d.county_id, d.unit_id, d.area_id, d.duties, d.since, d.until"
# Who sees an adoption is the rule `adoption_access` (0022_place_rules.sql) over `d` and the
# viewer `v` (`viewer_of($2 user, $3 API token)`).
VISIBLE_BY_ID: Final = f"""
SELECT {COLUMNS} FROM adoptions d, viewer_of($2, $3) v WHERE d.id = ANY($1::bigint[]) AND adoption_access(d, v)
"""  # noqa: S608 - constant columns
# current adoptions of each area / each unit that the viewer sees, oldest first
ACTIVE_BY_AREA: Final = f"""
SELECT {COLUMNS} FROM adoptions d, viewer_of($2, $3) v
WHERE d.area_id = ANY($1::bigint[]) AND d.until IS NULL AND adoption_access(d, v) ORDER BY d.area_id, d.since, d.id
"""  # noqa: S608 - constant columns
ACTIVE_BY_UNIT: Final = f"""
SELECT {COLUMNS} FROM adoptions d, viewer_of($2, $3) v
WHERE d.unit_id = ANY($1::bigint[]) AND d.until IS NULL AND adoption_access(d, v) ORDER BY d.unit_id, d.since, d.id
"""  # noqa: S608 - constant columns


def adoption_row(r: asyncpg.Record) -> AdoptionRow:
    return AdoptionRow(**dict(r))


async def visible_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, AdoptionRow]:
    """The adoptions of `ids` the viewer sees (the others are left out)."""
    return {r["id"]: adoption_row(r) for r in await conn.fetch(VISIBLE_BY_ID, ids, *viewer)}


async def active_by_area(conn: Conn, viewer: ViewerKey, area_ids: list[int]) -> dict[int, list[AdoptionRow]]:
    found: dict[int, list[AdoptionRow]] = {}
    for r in await conn.fetch(ACTIVE_BY_AREA, area_ids, *viewer):
        found.setdefault(r["area_id"], []).append(adoption_row(r))
    return found


async def active_by_unit(conn: Conn, viewer: ViewerKey, unit_ids: list[int]) -> dict[int, list[AdoptionRow]]:
    found: dict[int, list[AdoptionRow]] = {}
    for r in await conn.fetch(ACTIVE_BY_UNIT, unit_ids, *viewer):
        found.setdefault(r["unit_id"], []).append(adoption_row(r))
    return found
