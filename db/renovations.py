"""Old-compound renovation projects (老旧小区改造): PLANNED -> IN_PROGRESS -> COMPLETED."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Final

import asyncpg

from db.access import ViewerKey
from db.pool import Conn


@dataclass(frozen=True)
class RenovationRow:
    id: int
    county_id: int
    compound_id: int
    title: str
    status: str
    year: int
    created_at: datetime.datetime
    # the compound's path (county down to it)
    compound_path: list[int]


COLUMNS: Final = "r.id, r.county_id, r.compound_id, r.title, r.status, r.year, r.created_at, c.path AS compound_path"
BY_ID: Final = (
    f"SELECT {COLUMNS} FROM renovations r JOIN areas c ON c.id = r.compound_id WHERE r.id = ANY($1::bigint[])"  # noqa: S608 - constant columns
)
OF_COMPOUNDS: Final = (
    f"SELECT {COLUMNS} FROM renovations r JOIN areas c ON c.id = r.compound_id "  # noqa: S608 - constant columns
    "WHERE r.compound_id = ANY($1::bigint[]) ORDER BY r.compound_id, r.year, r.id"
)
INSERT: Final = """
INSERT INTO renovations (county_id, compound_id, title, status, year) VALUES ($1, $2, $3, $4, $5) RETURNING id
"""
# Who sees a project is the rule `renovation_access` (0021_node_rules.sql), the viewer being
# `viewer_of($user, $api_token)`.
VISIBLE_BY_ID: Final = f"""
SELECT {COLUMNS} FROM renovations r JOIN areas c ON c.id = r.compound_id CROSS JOIN viewer_of($2, $3) v
WHERE r.id = ANY($1::bigint[]) AND renovation_access(r, v)
"""  # noqa: S608 - constant columns
# The project locked for a mutation, when the viewer sees it, with whether they are staff of
# its compound (the rule `staff_of_area`, 0023_may_act.sql): who plans and moves it on.
FOR_UPDATE: Final = f"""
SELECT {COLUMNS}, staff_of_area(c.path, v) AS staff
FROM renovations r JOIN areas c ON c.id = r.compound_id CROSS JOIN viewer_of($2, $3) v
WHERE r.id = $1 AND renovation_access(r, v) FOR UPDATE OF r
"""  # noqa: S608 - constant columns
# Moves a project on only from the expected state: of two racing calls one matches.
ADVANCE: Final = """
UPDATE renovations SET status = $3, year = coalesce($4, year) WHERE id = $1 AND status = $2 RETURNING id
"""
LIST_WHERE: Final = """
CROSS JOIN viewer_of($1, $2) v
WHERE renovation_access(r, v)
  AND ($3::bigint IS NULL OR $3 = ANY(c.path))
  AND ($4::text IS NULL OR r.status = $4)
"""
LIST: Final = f"""
SELECT {COLUMNS} FROM renovations r JOIN areas c ON c.id = r.compound_id {LIST_WHERE}
  AND ($5::bigint IS NULL OR r.id > $5) ORDER BY r.id LIMIT $6
"""  # noqa: S608 - constant columns
COUNT: Final = f"SELECT count(*) FROM renovations r JOIN areas c ON c.id = r.compound_id {LIST_WHERE}"  # noqa: S608 - constant text


def renovation_row(r: asyncpg.Record) -> RenovationRow:
    return RenovationRow(**dict(r))


async def renovations_by_id(conn: Conn, ids: list[int]) -> dict[int, RenovationRow]:
    return {r["id"]: renovation_row(r) for r in await conn.fetch(BY_ID, ids)}


async def of_compounds(conn: Conn, compound_ids: list[int]) -> dict[int, list[RenovationRow]]:
    found: dict[int, list[RenovationRow]] = {}
    for r in await conn.fetch(OF_COMPOUNDS, compound_ids):
        found.setdefault(r["compound_id"], []).append(renovation_row(r))
    return found


async def create(conn: Conn, *, county_id: int, compound_id: int, title: str, status: str, year: int) -> RenovationRow:
    pk = await conn.fetchval(INSERT, county_id, compound_id, title, status, year)
    return (await renovations_by_id(conn, [pk]))[pk]


async def visible_renovations_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, RenovationRow]:
    return {r["id"]: renovation_row(r) for r in await conn.fetch(VISIBLE_BY_ID, ids, *viewer)}


async def renovation_for_update(conn: Conn, renovation_id: int, viewer: ViewerKey) -> tuple[RenovationRow, bool] | None:
    """The project locked, with whether the viewer is staff of its compound; None if hidden."""
    row = await conn.fetchrow(FOR_UPDATE, renovation_id, *viewer)
    if row is None:
        return None
    values = dict(row)
    staff = values.pop("staff")
    return RenovationRow(**values), staff


async def advance(conn: Conn, renovation_id: int, source: str, target: str, year: int | None) -> RenovationRow | None:
    if await conn.fetchval(ADVANCE, renovation_id, source, target, year) is None:
        return None
    return (await renovations_by_id(conn, [renovation_id]))[renovation_id]


async def page(
    conn: Conn, *, viewer: ViewerKey, area_id: int | None, status: str | None, after: int | None, limit: int
) -> list[RenovationRow]:
    return [renovation_row(r) for r in await conn.fetch(LIST, *viewer, area_id, status, after, limit)]


async def count(conn: Conn, *, viewer: ViewerKey, area_id: int | None, status: str | None) -> int:
    return int(await conn.fetchval(COUNT, *viewer, area_id, status))
