"""Meetings convened under party leadership (群众评议会, 物业管理会, 业委会, 单位联席会): the
participating organisations, minutes, and resolutions that become follow-up service orders."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Final

import asyncpg

from db.access import ViewerKey
from db.areas import OrganisationRow
from db.pool import Conn


@dataclass(frozen=True)
class MeetingRow:
    id: int
    county_id: int
    community_id: int
    kind: str
    title: str
    starts_at: datetime.datetime
    status: str
    minutes: str | None
    # the community's path (county down to it)
    community_path: list[int]


@dataclass(frozen=True)
class ResolutionRow:
    id: int
    county_id: int
    meeting_id: int
    position: int
    text: str
    follow_up_order_id: int | None


COLUMNS: Final = (
    "m.id, m.county_id, m.community_id, m.kind, m.title, m.starts_at, m.status, m.minutes, c.path AS community_path"
)
RESOLUTION_COLUMNS: Final = "r.id, r.county_id, r.meeting_id, r.position, r.text, r.follow_up_order_id"
BY_ID: Final = f"SELECT {COLUMNS} FROM meetings m JOIN areas c ON c.id = m.community_id WHERE m.id = ANY($1::bigint[])"  # noqa: S608 - constant columns
# The meeting locked for a mutation, with why the viewer ($2 user, $3 API token) may see it.
FOR_UPDATE: Final = f"""
SELECT {COLUMNS}, meeting_access(m, v) AS reason
FROM meetings m JOIN areas c ON c.id = m.community_id CROSS JOIN viewer_of($2, $3) v
WHERE m.id = $1 FOR UPDATE OF m
"""  # noqa: S608 - constant columns
# Why the viewer ($2 user, $3 API token) may see each meeting: the rule `meeting_access`.
ACCESS: Final = """
SELECT m.id, meeting_access(m, v) AS reason FROM meetings m, viewer_of($2, $3) v WHERE m.id = ANY($1::bigint[])
"""
INSERT: Final = """
INSERT INTO meetings (county_id, community_id, kind, title, starts_at, created_by)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
"""
INSERT_ORGANISATIONS: Final = """
INSERT INTO meeting_organisations (meeting_id, organisation_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING
"""
# Moves the meeting on only from SCHEDULED: of two racing calls one matches.
HOLD: Final = "UPDATE meetings SET status = 'HELD', minutes = $2 WHERE id = $1 AND status = 'SCHEDULED' RETURNING id"
CANCEL: Final = "UPDATE meetings SET status = 'CANCELLED' WHERE id = $1 AND status = 'SCHEDULED' RETURNING id"
INSERT_RESOLUTION: Final = """
INSERT INTO resolutions (county_id, meeting_id, position, text, follow_up_order_id) VALUES ($1, $2, $3, $4, $5)
"""
ORGANISATIONS_BY_MEETING: Final = """
SELECT mo.meeting_id, o.id, o.county_id, o.parent_id, o.kind, o.name, o.code, o.area_id
FROM meeting_organisations mo JOIN organisations o ON o.id = mo.organisation_id
WHERE mo.meeting_id = ANY($1::bigint[]) ORDER BY mo.meeting_id, o.id
"""
RESOLUTIONS_BY_MEETING: Final = f"""
SELECT {RESOLUTION_COLUMNS} FROM resolutions r WHERE r.meeting_id = ANY($1::bigint[]) ORDER BY r.meeting_id, r.position
"""  # noqa: S608 - constant columns
RESOLUTIONS_BY_ID: Final = f"SELECT {RESOLUTION_COLUMNS} FROM resolutions r WHERE r.id = ANY($1::bigint[])"  # noqa: S608 - constant columns
RESOLUTIONS_BY_ORDER: Final = f"""
SELECT {RESOLUTION_COLUMNS} FROM resolutions r WHERE r.follow_up_order_id = ANY($1::bigint[])
"""  # noqa: S608 - constant columns
# Lists: the meetings the viewer ($1 user, $2 API token) may see (`meeting_access`),
# $3 community filter. Latest first.
LIST_WHERE: Final = """
WHERE meeting_access(m, v) IS NOT NULL
  AND ($3::bigint IS NULL OR m.community_id = $3)
"""
LIST: Final = f"""
SELECT {COLUMNS} FROM meetings m JOIN areas c ON c.id = m.community_id CROSS JOIN viewer_of($1, $2) v {LIST_WHERE}
  AND ($4::timestamptz IS NULL OR (m.starts_at, m.id) < ($4, $5::bigint))
ORDER BY m.starts_at DESC, m.id DESC LIMIT $6
"""  # noqa: S608 - constant columns
COUNT: Final = f"SELECT count(*) FROM meetings m CROSS JOIN viewer_of($1, $2) v {LIST_WHERE}"  # noqa: S608 - constant text


def meeting_row(r: asyncpg.Record) -> MeetingRow:
    return MeetingRow(**{k: v for k, v in r.items() if k != "reason"})


def resolution_row(r: asyncpg.Record) -> ResolutionRow:
    return ResolutionRow(**dict(r))


async def meetings_by_id(conn: Conn, ids: list[int]) -> dict[int, MeetingRow]:
    return {r["id"]: meeting_row(r) for r in await conn.fetch(BY_ID, ids)}


async def create(
    conn: Conn,
    *,
    county_id: int,
    community_id: int,
    kind: str,
    title: str,
    starts_at: datetime.datetime,
    organisation_ids: list[int],
    created_by: int,
) -> MeetingRow:
    pk = await conn.fetchval(INSERT, county_id, community_id, kind, title, starts_at, created_by)
    await conn.execute(INSERT_ORGANISATIONS, pk, organisation_ids)
    return (await meetings_by_id(conn, [pk]))[pk]


async def lock(conn: Conn, meeting_id: int, viewer: ViewerKey) -> tuple[MeetingRow, str | None] | None:
    """The meeting, locked, and why the viewer may see it (None: they may not)."""
    row = await conn.fetchrow(FOR_UPDATE, meeting_id, *viewer)
    return (meeting_row(row), row["reason"]) if row is not None else None


async def meeting_access(conn: Conn, ids: list[int], viewer: ViewerKey) -> dict[int, str | None]:
    return {r["id"]: r["reason"] for r in await conn.fetch(ACCESS, ids, *viewer)}


async def hold(conn: Conn, meeting_id: int, minutes: str) -> bool:
    return await conn.fetchval(HOLD, meeting_id, minutes) is not None


async def cancel(conn: Conn, meeting_id: int) -> bool:
    return await conn.fetchval(CANCEL, meeting_id) is not None


async def add_resolution(
    conn: Conn, *, county_id: int, meeting_id: int, position: int, text: str, follow_up_order_id: int | None
) -> None:
    await conn.execute(INSERT_RESOLUTION, county_id, meeting_id, position, text, follow_up_order_id)


async def organisations_by_meeting(conn: Conn, ids: list[int]) -> dict[int, list[OrganisationRow]]:
    found: dict[int, list[OrganisationRow]] = {}
    for r in await conn.fetch(ORGANISATIONS_BY_MEETING, ids):
        values = dict(r)
        found.setdefault(values.pop("meeting_id"), []).append(OrganisationRow(**values))
    return found


async def resolutions_by_meeting(conn: Conn, ids: list[int]) -> dict[int, list[ResolutionRow]]:
    found: dict[int, list[ResolutionRow]] = {}
    for r in await conn.fetch(RESOLUTIONS_BY_MEETING, ids):
        found.setdefault(r["meeting_id"], []).append(resolution_row(r))
    return found


async def resolutions_by_id(conn: Conn, ids: list[int]) -> dict[int, ResolutionRow]:
    return {r["id"]: resolution_row(r) for r in await conn.fetch(RESOLUTIONS_BY_ID, ids)}


async def resolutions_by_order(conn: Conn, order_ids: list[int]) -> dict[int, ResolutionRow]:
    return {r["follow_up_order_id"]: resolution_row(r) for r in await conn.fetch(RESOLUTIONS_BY_ORDER, order_ids)}


@dataclass(frozen=True)
class MeetingFilter:
    viewer: ViewerKey
    community_id: int | None


async def page(
    conn: Conn, flt: MeetingFilter, after: tuple[datetime.datetime, int] | None, limit: int
) -> list[MeetingRow]:
    rows = await conn.fetch(
        LIST,
        *flt.viewer,
        flt.community_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [meeting_row(r) for r in rows]


async def count(conn: Conn, flt: MeetingFilter) -> int:
    return int(await conn.fetchval(COUNT, *flt.viewer, flt.community_id))
