"""Joint volunteer activities (活动联办): hosts, sign-ups, check-ins and volunteer hours."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import asyncpg

from db.access import ViewerKey
from db.areas import AREA_COLUMNS, AreaRow, OrganisationRow, area_row
from db.pool import Conn


@dataclass(frozen=True)
class ActivityRow:
    id: int
    county_id: int
    community_id: int
    title: str
    kind: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    capacity: int | None
    signup_count: int
    # the community's path (county down to it): scope checks need no extra query
    community_path: list[int]


@dataclass(frozen=True)
class SignupRow:
    id: int
    county_id: int
    activity_id: int
    person_id: int
    signed_up_at: datetime.datetime
    cancelled_at: datetime.datetime | None
    attended: bool
    hours: float | None


@dataclass(frozen=True)
class VolunteerHoursRow:
    person_id: int
    hours: float
    activities: int


COLUMNS: Final = (
    "a.id, a.county_id, a.community_id, a.title, a.kind, a.starts_at, a.ends_at, a.capacity, a.signup_count, "
    "c.path AS community_path"
)
SIGNUP_COLUMNS: Final = (
    "s.id, s.county_id, s.activity_id, s.person_id, s.signed_up_at, s.cancelled_at, s.attended, s.hours"
)

BY_ID: Final = (
    f"SELECT {COLUMNS} FROM activities a JOIN areas c ON c.id = a.community_id WHERE a.id = ANY($1::bigint[])"  # noqa: S608 - constant columns
)
INSERT: Final = f"""
WITH a AS (
    INSERT INTO activities (county_id, community_id, title, kind, starts_at, ends_at, capacity, created_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *
)
SELECT {COLUMNS} FROM a JOIN areas c ON c.id = a.community_id
"""  # noqa: S608 - constant columns
INSERT_HOSTS: Final = """
INSERT INTO activity_hosts (activity_id, organisation_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING
"""
HOSTS_BY_ACTIVITY: Final = """
SELECT h.activity_id, o.id, o.county_id, o.parent_id, o.kind, o.name, o.code, o.area_id
FROM activity_hosts h JOIN organisations o ON o.id = h.organisation_id
WHERE h.activity_id = ANY($1::bigint[]) ORDER BY h.activity_id, o.id
"""
ATTENDED_BY_ACTIVITY: Final = """
SELECT activity_id, count(*) AS attended FROM signups
WHERE activity_id = ANY($1::bigint[]) AND attended AND cancelled_at IS NULL GROUP BY activity_id
"""
# Takes a place only while one is free: with the row lock, concurrent sign-ups queue here and
# each re-reads signup_count, so the count never passes the capacity (the CHECK backs it up).
TAKE_PLACE: Final = """
UPDATE activities SET signup_count = signup_count + 1
WHERE id = $1 AND (capacity IS NULL OR signup_count < capacity) RETURNING signup_count
"""
FREE_PLACE: Final = "UPDATE activities SET signup_count = signup_count - 1 WHERE id = $1 RETURNING signup_count"
# Who sees an activity, who manages it and who sees a sign-up are the rules
# `activity_access`, `activity_manager` and `signup_access` (0021_node_rules.sql), the viewer
# being `viewer_of($user, $api_token)`.
VISIBLE_BY_ID: Final = f"""
SELECT {COLUMNS} FROM activities a JOIN areas c ON c.id = a.community_id CROSS JOIN viewer_of($2, $3) v
WHERE a.id = ANY($1::bigint[]) AND activity_access(a, v)
"""  # noqa: S608 - constant columns
MANAGER: Final = """
SELECT a.id, activity_manager(a, v) AS reason FROM activities a, viewer_of($2, $3) v WHERE a.id = ANY($1::bigint[])
"""
VISIBLE_SIGNUPS_BY_ID: Final = f"""
SELECT {SIGNUP_COLUMNS} FROM signups s, viewer_of($2, $3) v
WHERE s.id = ANY($1::bigint[]) AND signup_access(s, v) IS NOT NULL
"""  # noqa: S608 - constant columns
LIST: Final = f"""
SELECT {COLUMNS} FROM activities a JOIN areas c ON c.id = a.community_id CROSS JOIN viewer_of($1, $8) v
WHERE activity_access(a, v)
  AND ($2::bigint IS NULL OR a.community_id = $2)
  AND ($3::timestamptz IS NULL OR a.starts_at >= $3)
  AND ($4::timestamptz IS NULL OR a.starts_at < $4)
  AND ($5::timestamptz IS NULL OR (a.starts_at, a.id) > ($5, $6::bigint))
ORDER BY a.starts_at, a.id LIMIT $7
"""  # noqa: S608 - constant columns
COUNT: Final = """
SELECT count(*) FROM activities a CROSS JOIN viewer_of($1, $5) v
WHERE activity_access(a, v)
  AND ($2::bigint IS NULL OR a.community_id = $2)
  AND ($3::timestamptz IS NULL OR a.starts_at >= $3)
  AND ($4::timestamptz IS NULL OR a.starts_at < $4)
"""

# Who creates an activity is the rule `activity_creator` (0023_may_act.sql): read with its
# community ($1), for the hosts named ($4).
COMMUNITY_FOR_CREATOR: Final = f"""
SELECT {AREA_COLUMNS}, activity_creator(a.path, $4::bigint[], v) AS creator FROM areas a, viewer_of($2, $3) v
WHERE a.id = $1
"""  # noqa: S608 - constant columns
SIGNUPS_BY_ID: Final = f"SELECT {SIGNUP_COLUMNS} FROM signups s WHERE s.id = ANY($1::bigint[])"  # noqa: S608 - constant columns
ACTIVE_SIGNUP: Final = "SELECT id FROM signups WHERE activity_id = $1 AND person_id = $2 AND cancelled_at IS NULL"
INSERT_SIGNUP: Final = f"""
INSERT INTO signups AS s (county_id, activity_id, person_id) VALUES ($1, $2, $3) RETURNING {SIGNUP_COLUMNS}
"""  # noqa: S608 - constant columns
# The sign-up locked for a mutation, with why the viewer sees it and manages its activity.
SIGNUP_FOR_UPDATE: Final = f"""
SELECT {SIGNUP_COLUMNS}, signup_access(s, v) AS reason,
       (SELECT activity_manager(a, v) FROM activities a WHERE a.id = s.activity_id) AS manager
FROM signups s, viewer_of($2, $3) v WHERE s.id = $1 FOR UPDATE OF s
"""  # noqa: S608 - constant columns
CANCEL_SIGNUP: Final = f"""
UPDATE signups s SET cancelled_at = now() WHERE s.id = $1 AND s.cancelled_at IS NULL AND NOT s.attended
RETURNING {SIGNUP_COLUMNS}
"""  # noqa: S608 - constant columns
# Hours default to the activity's duration (numeric(5, 2) holds at most 999.99).
CHECK_IN: Final = f"""
UPDATE signups s SET attended = true,
       hours = coalesce($2::numeric, least(round(extract(epoch FROM a.ends_at - a.starts_at) / 3600, 2), 999.99))
FROM activities a
WHERE s.id = $1 AND a.id = s.activity_id AND s.cancelled_at IS NULL AND NOT s.attended
RETURNING {SIGNUP_COLUMNS}
"""  # noqa: S608 - constant columns
VIEWER_SIGNUPS: Final = f"""
SELECT {SIGNUP_COLUMNS} FROM signups s
WHERE s.person_id = $1 AND s.activity_id = ANY($2::bigint[]) AND s.cancelled_at IS NULL
"""  # noqa: S608 - constant columns
# One page of sign-ups for each of many activities, in one statement.
SIGNUPS_OF_ACTIVITIES: Final = f"""
SELECT {SIGNUP_COLUMNS.replace("s.", "x.")} FROM (
    SELECT s.*, row_number() OVER (PARTITION BY s.activity_id ORDER BY s.id) AS rank
    FROM signups s
    WHERE s.activity_id = ANY($1::bigint[]) AND s.cancelled_at IS NULL AND ($2::bigint IS NULL OR s.id > $2)
) x WHERE x.rank <= $3 ORDER BY x.activity_id, x.id
"""  # noqa: S608 - constant columns
# The hours of the people of $1 whom the viewer may read (the rule `volunteer_hours_reader`,
# 0023_may_act.sql); the others are left out.
VOLUNTEER_HOURS: Final = """
SELECT p.id AS person_id, coalesce(sum(s.hours), 0)::float8 AS hours, count(s.id)::int AS activities
FROM persons p
LEFT JOIN (signups s JOIN activities a ON a.id = s.activity_id)
       ON s.person_id = p.id AND s.attended AND s.cancelled_at IS NULL
      AND ($2::timestamptz IS NULL OR a.starts_at >= $2) AND ($3::timestamptz IS NULL OR a.starts_at < $3)
CROSS JOIN viewer_of($4, $5) v
WHERE p.id = ANY($1::bigint[]) AND volunteer_hours_reader(p, v)
GROUP BY p.id
"""


def activity_row(r: asyncpg.Record) -> ActivityRow:
    return ActivityRow(**dict(r))


def signup_row(r: asyncpg.Record | dict[str, object]) -> SignupRow:
    values = dict(r)
    hours = values["hours"]
    values["hours"] = float(hours) if isinstance(hours, Decimal) else hours
    return SignupRow(**values)


async def activities_by_id(conn: Conn, ids: list[int]) -> dict[int, ActivityRow]:
    return {r["id"]: activity_row(r) for r in await conn.fetch(BY_ID, ids)}


async def visible_activities_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, ActivityRow]:
    return {r["id"]: activity_row(r) for r in await conn.fetch(VISIBLE_BY_ID, ids, *viewer)}


async def activity_manager(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, str | None]:
    """Why the viewer manages each activity (None: they do not)."""
    return {r["id"]: r["reason"] for r in await conn.fetch(MANAGER, ids, *viewer)}


async def community_for_creator(
    conn: Conn, community_id: int, host_ids: list[int], viewer: ViewerKey
) -> tuple[AreaRow, bool] | None:
    """The community, with whether the viewer may create an activity there with these hosts."""
    r = await conn.fetchrow(COMMUNITY_FOR_CREATOR, community_id, *viewer, host_ids)
    return (area_row(r), r["creator"]) if r else None


async def visible_signups_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, SignupRow]:
    return {r["id"]: signup_row(r) for r in await conn.fetch(VISIBLE_SIGNUPS_BY_ID, ids, *viewer)}


async def create(
    conn: Conn,
    *,
    county_id: int,
    community_id: int,
    title: str,
    kind: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    capacity: int | None,
    host_ids: list[int],
    created_by: int,
) -> ActivityRow:
    row = await conn.fetchrow(INSERT, county_id, community_id, title, kind, starts_at, ends_at, capacity, created_by)
    assert row is not None
    await conn.execute(INSERT_HOSTS, row["id"], host_ids)
    return activity_row(row)


async def hosts_by_activity(conn: Conn, ids: list[int]) -> dict[int, list[OrganisationRow]]:
    found: dict[int, list[OrganisationRow]] = {}
    for r in await conn.fetch(HOSTS_BY_ACTIVITY, ids):
        values = dict(r)
        activity_id = values.pop("activity_id")
        found.setdefault(activity_id, []).append(OrganisationRow(**values))
    return found


async def attended_by_activity(conn: Conn, ids: list[int]) -> dict[int, int]:
    return {r["activity_id"]: r["attended"] for r in await conn.fetch(ATTENDED_BY_ACTIVITY, ids)}


async def take_place(conn: Conn, activity_id: int) -> int | None:
    """The new signup_count, or None when the activity is full."""
    found = await conn.fetchval(TAKE_PLACE, activity_id)
    return int(found) if found is not None else None


async def free_place(conn: Conn, activity_id: int) -> int:
    """The new signup_count."""
    return int(await conn.fetchval(FREE_PLACE, activity_id))


async def page(
    conn: Conn,
    *,
    viewer: ViewerKey,
    community_id: int | None,
    starts_from: datetime.datetime | None,
    starts_before: datetime.datetime | None,
    after: tuple[datetime.datetime, int] | None,
    limit: int,
) -> list[ActivityRow]:
    rows = await conn.fetch(
        LIST,
        viewer[0],
        community_id,
        starts_from,
        starts_before,
        after[0] if after else None,
        after[1] if after else None,
        limit,
        viewer[1],
    )
    return [activity_row(r) for r in rows]


async def count(
    conn: Conn,
    *,
    viewer: ViewerKey,
    community_id: int | None,
    starts_from: datetime.datetime | None,
    starts_before: datetime.datetime | None,
) -> int:
    return int(await conn.fetchval(COUNT, viewer[0], community_id, starts_from, starts_before, viewer[1]))


async def signups_by_id(conn: Conn, ids: list[int]) -> dict[int, SignupRow]:
    return {r["id"]: signup_row(r) for r in await conn.fetch(SIGNUPS_BY_ID, ids)}


async def active_signup(conn: Conn, activity_id: int, person_id: int) -> int | None:
    found = await conn.fetchval(ACTIVE_SIGNUP, activity_id, person_id)
    return int(found) if found is not None else None


async def insert_signup(conn: Conn, *, county_id: int, activity_id: int, person_id: int) -> SignupRow:
    row = await conn.fetchrow(INSERT_SIGNUP, county_id, activity_id, person_id)
    assert row is not None
    return signup_row(row)


@dataclass(frozen=True)
class LockedSignup:
    signup: SignupRow
    # why the viewer sees it (`signup_access`) and manages its activity (`activity_manager`)
    reason: str | None
    manager: str | None


async def signup_for_update(conn: Conn, signup_id: int, viewer: ViewerKey) -> LockedSignup | None:
    row = await conn.fetchrow(SIGNUP_FOR_UPDATE, signup_id, *viewer)
    if row is None:
        return None
    values = dict(row)
    reason, manager = values.pop("reason"), values.pop("manager")
    return LockedSignup(signup_row(values), reason, manager)


async def cancel_signup(conn: Conn, signup_id: int) -> SignupRow | None:
    row = await conn.fetchrow(CANCEL_SIGNUP, signup_id)
    return signup_row(row) if row is not None else None


async def check_in(conn: Conn, signup_id: int, hours: Decimal | None) -> SignupRow | None:
    row = await conn.fetchrow(CHECK_IN, signup_id, hours)
    return signup_row(row) if row is not None else None


async def viewer_signups(conn: Conn, person_id: int, activity_ids: list[int]) -> dict[int, SignupRow]:
    return {r["activity_id"]: signup_row(r) for r in await conn.fetch(VIEWER_SIGNUPS, person_id, activity_ids)}


async def signups_of_activities(
    conn: Conn, activity_ids: list[int], after: int | None, limit: int
) -> dict[int, list[SignupRow]]:
    found: dict[int, list[SignupRow]] = {}
    for r in await conn.fetch(SIGNUPS_OF_ACTIVITIES, activity_ids, after, limit):
        found.setdefault(r["activity_id"], []).append(signup_row(r))
    return found


async def volunteer_hours(
    conn: Conn,
    viewer: ViewerKey,
    person_ids: list[int],
    starts_from: datetime.datetime | None,
    starts_before: datetime.datetime | None,
) -> dict[int, VolunteerHoursRow]:
    rows = await conn.fetch(VOLUNTEER_HOURS, person_ids, starts_from, starts_before, *viewer)
    return {r["person_id"]: VolunteerHoursRow(**dict(r)) for r in rows}
