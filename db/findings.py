"""Joint inspections (联合巡查): findings with a rectification deadline, and public notice
(通报曝光) of the overdue ones.

Status is derived at read time from the deadline and `rectified_at` in the county's time
zone, so no job has to flip findings to OVERDUE: OPEN until the deadline day has passed,
then OVERDUE (and published), RECTIFIED once rectified. A finding rectified only after its
deadline had passed was published and stays on the public notice list, now as RECTIFIED."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Final

import asyncpg

from db.pool import Conn


@dataclass(frozen=True)
class FindingRow:
    id: int
    county_id: int
    compound_id: int
    category: str
    description: str
    deadline: datetime.date
    reported_at: datetime.datetime
    rectified_at: datetime.datetime | None
    rectification_note: str | None
    status: str
    published: bool
    # the compound's path (county down to it)
    compound_path: list[int]


# $1 is the county's time zone in every statement that reads findings.
ROWS: Final = """
SELECT f.id, f.county_id, f.compound_id, f.category, f.description, f.deadline, f.reported_at, f.rectified_at,
       f.rectification_note,
       CASE WHEN f.rectified_at IS NOT NULL THEN 'RECTIFIED'
            WHEN f.deadline < (now() AT TIME ZONE $1)::date THEN 'OVERDUE'
            ELSE 'OPEN' END AS status,
       CASE WHEN f.rectified_at IS NULL THEN f.deadline < (now() AT TIME ZONE $1)::date
            ELSE (f.rectified_at AT TIME ZONE $1)::date > f.deadline END AS published,
       c.path AS compound_path
FROM findings f JOIN areas c ON c.id = f.compound_id
"""
BY_ID: Final = f"SELECT * FROM ({ROWS}) x WHERE x.id = ANY($2::bigint[])"  # noqa: S608 - constant text
FOR_UPDATE: Final = ROWS + "WHERE f.id = $2 FOR UPDATE OF f"
INSERT: Final = """
INSERT INTO findings (county_id, compound_id, category, description, deadline, reported_by)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
"""
RECTIFY: Final = """
UPDATE findings SET rectified_at = now(), rectification_note = $2 WHERE id = $1 AND rectified_at IS NULL RETURNING id
"""
# Lists: $2 county, $3 the viewer's area scopes (NULL: the whole county), $4 area filter,
# $5 status filter, $6 published only, $7 cursor id, $8 limit. Newest first.
LIST_WHERE: Final = """
WHERE x.county_id = $2
  AND ($3::bigint[] IS NULL OR x.compound_path && $3::bigint[])
  AND ($4::bigint IS NULL OR $4 = ANY(x.compound_path))
  AND ($5::text IS NULL OR x.status = $5)
  AND (NOT $6::boolean OR x.published)
"""
LIST: Final = f"SELECT * FROM ({ROWS}) x {LIST_WHERE} AND ($7::bigint IS NULL OR x.id < $7) ORDER BY x.id DESC LIMIT $8"  # noqa: S608 - constant text
COUNT: Final = f"SELECT count(*) FROM ({ROWS}) x {LIST_WHERE}"  # noqa: S608 - constant text


def finding_row(r: asyncpg.Record) -> FindingRow:
    return FindingRow(**dict(r))


async def findings_by_id(conn: Conn, zone: str, ids: list[int]) -> dict[int, FindingRow]:
    return {r["id"]: finding_row(r) for r in await conn.fetch(BY_ID, zone, ids)}


async def finding_for_update(conn: Conn, zone: str, finding_id: int) -> FindingRow | None:
    row = await conn.fetchrow(FOR_UPDATE, zone, finding_id)
    return finding_row(row) if row is not None else None


async def create(
    conn: Conn,
    zone: str,
    *,
    county_id: int,
    compound_id: int,
    category: str,
    description: str,
    deadline: datetime.date,
    reported_by: int,
) -> FindingRow:
    finding_id = await conn.fetchval(INSERT, county_id, compound_id, category, description, deadline, reported_by)
    return (await findings_by_id(conn, zone, [finding_id]))[finding_id]


async def rectify(conn: Conn, zone: str, finding_id: int, note: str) -> FindingRow | None:
    if await conn.fetchval(RECTIFY, finding_id, note) is None:
        return None
    return (await findings_by_id(conn, zone, [finding_id]))[finding_id]


@dataclass(frozen=True)
class FindingFilter:
    county_id: int
    scopes: list[int] | None
    area_id: int | None
    status: str | None
    published_only: bool


def _params(zone: str, flt: FindingFilter) -> list[object]:
    return [zone, flt.county_id, flt.scopes, flt.area_id, flt.status, flt.published_only]


async def page(conn: Conn, zone: str, flt: FindingFilter, after: int | None, limit: int) -> list[FindingRow]:
    return [finding_row(r) for r in await conn.fetch(LIST, *_params(zone, flt), after, limit)]


async def count(conn: Conn, zone: str, flt: FindingFilter) -> int:
    return int(await conn.fetchval(COUNT, *_params(zone, flt)))
