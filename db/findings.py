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

from db.access import ViewerKey
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


# The county's date is `county_today()` (0026_read_rules.sql) in every statement that reads findings.
ROWS: Final = """
SELECT f.id, f.county_id, f.compound_id, f.category, f.description, f.deadline, f.reported_at, f.rectified_at,
       f.rectification_note,
       CASE WHEN f.rectified_at IS NOT NULL THEN 'RECTIFIED'
            WHEN f.deadline < county_today() THEN 'OVERDUE'
            ELSE 'OPEN' END AS status,
       finding_published(f) AS published,
       c.path AS compound_path
FROM findings f JOIN areas c ON c.id = f.compound_id
"""
BY_ID: Final = f"SELECT * FROM ({ROWS}) x WHERE x.id = ANY($1::bigint[])"  # noqa: S608 - constant text
# Who sees a finding is the rule `finding_access` (0026_read_rules.sql): these statements
# take the viewer as $2 user, $3 API token (`viewer_of`).
VISIBLE_ROWS: Final = (
    ROWS.replace("AS compound_path", "AS compound_path, finding_access(f, v) AS reason")
    + "CROSS JOIN viewer_of($2, $3) v\n"
)
VISIBLE_BY_ID: Final = f"SELECT * FROM ({VISIBLE_ROWS}) x WHERE x.id = ANY($1::bigint[]) AND x.reason IS NOT NULL"  # noqa: S608 - constant text
# The finding locked for a mutation, with why the viewer may see it.
FOR_UPDATE: Final = VISIBLE_ROWS + "WHERE f.id = $1 FOR UPDATE OF f"
INSERT: Final = """
INSERT INTO findings (county_id, compound_id, category, description, deadline, reported_by)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
"""
RECTIFY: Final = """
UPDATE findings SET rectified_at = now(), rectification_note = $2 WHERE id = $1 AND rectified_at IS NULL RETURNING id
"""
# Lists of the findings the viewer ($2, $3) sees: $1 the reasons listed (STAFF: the findings
# staff work on; any: the public notices, published only), $4 area filter, $5 status filter,
# $6 published only, $7 cursor id, $8 limit. Newest first.
LIST_WHERE: Final = """
WHERE x.reason = ANY($1::text[])
  AND ($4::bigint IS NULL OR $4 = ANY(x.compound_path))
  AND ($5::text IS NULL OR x.status = $5)
  AND (NOT $6::boolean OR x.published)
"""
LIST: Final = f"""
SELECT * FROM ({VISIBLE_ROWS}) x {LIST_WHERE} AND ($7::bigint IS NULL OR x.id < $7) ORDER BY x.id DESC LIMIT $8
"""  # noqa: S608 - constant text
COUNT: Final = f"SELECT count(*) FROM ({VISIBLE_ROWS}) x {LIST_WHERE}"  # noqa: S608 - constant text


def finding_row(r: asyncpg.Record) -> FindingRow:
    values = dict(r)
    values.pop("reason", None)
    return FindingRow(**values)


async def findings_by_id(conn: Conn, ids: list[int]) -> dict[int, FindingRow]:
    return {r["id"]: finding_row(r) for r in await conn.fetch(BY_ID, ids)}


async def visible_findings_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, FindingRow]:
    return {r["id"]: finding_row(r) for r in await conn.fetch(VISIBLE_BY_ID, ids, *viewer)}


async def finding_for_update(conn: Conn, finding_id: int, viewer: ViewerKey) -> tuple[FindingRow, str | None] | None:
    """The finding, locked, and why the viewer may see it (None: hidden)."""
    row = await conn.fetchrow(FOR_UPDATE, finding_id, *viewer)
    return (finding_row(row), row["reason"]) if row is not None else None


async def create(
    conn: Conn,
    *,
    county_id: int,
    compound_id: int,
    category: str,
    description: str,
    deadline: datetime.date,
    reported_by: int,
) -> FindingRow:
    finding_id = await conn.fetchval(INSERT, county_id, compound_id, category, description, deadline, reported_by)
    return (await findings_by_id(conn, [finding_id]))[finding_id]


async def rectify(conn: Conn, finding_id: int, note: str) -> FindingRow | None:
    if await conn.fetchval(RECTIFY, finding_id, note) is None:
        return None
    return (await findings_by_id(conn, [finding_id]))[finding_id]


@dataclass(frozen=True)
class FindingFilter:
    viewer: ViewerKey
    reasons: list[str]
    area_id: int | None
    status: str | None
    published_only: bool


def _params(flt: FindingFilter) -> list[object]:
    return [flt.reasons, *flt.viewer, flt.area_id, flt.status, flt.published_only]


async def page(conn: Conn, flt: FindingFilter, after: int | None, limit: int) -> list[FindingRow]:
    return [finding_row(r) for r in await conn.fetch(LIST, *_params(flt), after, limit)]


async def count(conn: Conn, flt: FindingFilter) -> int:
    return int(await conn.fetchval(COUNT, *_params(flt)))
