"""Notifications: the inbox, the time-based sweep and the outbound webhook's position.

What users do raises notifications through triggers (migration 0007), in the transaction
of the cause. What time does (an order escalated or overdue, a home visit still due on the
20th, an activity 24 hours ahead, a finding published once its deadline has passed) is
raised by `sweep`, which the periodic job runs under an advisory lock; every insert is
`ON CONFLICT DO NOTHING` on (user, kind, reason), so no reason ever notifies twice."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from db.access import ViewerKey
from db.pool import Conn

NOTIFICATIONS: Final = "notifications"  # the LISTEN/NOTIFY channel
SWEEP_LOCK: Final = 0x6A6A_0015  # pg_try_advisory_xact_lock key of the periodic job
WEBHOOK_LOCK: Final = 0x6A6A_0016  # ... and of the webhook delivery

KINDS: Final = (
    "ORDER_UPDATED",
    "ORDER_ASSIGNED",
    "ORDER_ESCALATED",
    "ORDER_OVERDUE",
    "VISIT_DUE",
    "NEED_MATCHED",
    "REGISTRATION_DECIDED",
    "FINDING_PUBLISHED",
    "ACTIVITY_SOON",
)


@dataclass(frozen=True)
class NotificationRow:
    id: int
    county_id: int
    user_id: int
    kind: str
    reason: str
    subject_type: str
    subject_id: int
    params: dict[str, Any]
    at: datetime.datetime
    read_at: datetime.datetime | None


COLUMNS: Final = (
    "n.id, n.county_id, n.user_id, n.kind, n.reason, n.subject_type, n.subject_id, n.params, n.at, n.read_at"
)

# A user's inbox, as the viewer ($5 user, $6 API token) may read it: the rule
# `notification_access` (0021_node_rules.sql) on each notification.
INBOX: Final = f"""
SELECT {COLUMNS} FROM notifications n, viewer_of($5, $6) v
WHERE n.user_id = $1 AND notification_access(n, v) AND (NOT $2 OR n.read_at IS NULL)
  AND ($3::bigint IS NULL OR n.id < $3)
ORDER BY n.id DESC LIMIT $4
"""  # noqa: S608 - constant columns
# Whether the viewer ($2, $3) reads each user's inbox at all, and its counts: the rule
# `notification_access` asked of a notification of that user (the inbox may be empty), then of
# each of its notifications.
INBOXES: Final = """
SELECT k.id,
       notification_access(jsonb_populate_record(NULL::notifications, jsonb_build_object('user_id', k.id)), v)
           AS readable,
       (SELECT count(*) FROM notifications n WHERE n.user_id = k.id AND notification_access(n, v)) AS total,
       (SELECT count(*) FROM notifications n
        WHERE n.user_id = k.id AND n.read_at IS NULL AND notification_access(n, v)) AS unread
FROM unnest($1::bigint[]) AS k (id), viewer_of($2, $3) v
"""
BY_ID: Final = f"SELECT {COLUMNS} FROM notifications n WHERE n.id = ANY($1::bigint[])"  # noqa: S608 - constant columns
# Who reads a notification is the rule `notification_access` (0021_node_rules.sql).
VISIBLE_BY_ID: Final = f"""
SELECT {COLUMNS} FROM notifications n, viewer_of($2, $3) v WHERE n.id = ANY($1::bigint[]) AND notification_access(n, v)
"""  # noqa: S608 - constant columns
# Marks read the notifications among $3 that the viewer ($1 user, $2 API token) reads (the
# rule `notification_access`); `inbox`: whether the viewer has an inbox at all (the rule asked
# of a notification of their own, as INBOXES does), `unread`: what stays unread of it.
MARK_READ: Final = """
WITH vw AS (SELECT viewer_of($1, $2) AS v),
marked AS (
    UPDATE notifications n SET read_at = coalesce(n.read_at, clock_timestamp())
    FROM vw WHERE n.id = ANY($3::bigint[]) AND notification_access(n, vw.v)
    RETURNING n.id
)
SELECT notification_access(jsonb_populate_record(NULL::notifications, jsonb_build_object('user_id', (vw.v).user_id)),
                           vw.v) AS inbox,
       (SELECT count(*) FROM marked) AS marked,
       (SELECT count(*) FROM notifications n
        WHERE n.user_id = (vw.v).user_id AND n.read_at IS NULL AND n.id <> ALL($3::bigint[])
          AND notification_access(n, vw.v)) AS unread
FROM vw
"""

# The users of staff in scope of an area path (COMMUNITY_STAFF granted on an area of it).
_STAFF_OF_PATH: Final = """
SELECT g.user_id FROM role_grants g JOIN users u ON u.id = g.user_id AND NOT u.disabled
WHERE g.role = 'COMMUNITY_STAFF' AND g.area_id = ANY({path})
"""
_ASSIGNEES_OF: Final = """
SELECT u.id FROM users u WHERE NOT u.disabled AND u.person_id = {o}.assignee_id
UNION SELECT g.user_id FROM role_grants g JOIN users u ON u.id = g.user_id AND NOT u.disabled
WHERE g.role = 'UNIT_ADMIN' AND g.organisation_id = {o}.assignee_unit_id
"""

_INSERT: Final = "INSERT INTO notifications (county_id, user_id, kind, reason, subject_type, subject_id, params, at) "
_NEW: Final = (
    "AND NOT EXISTS (SELECT 1 FROM notifications x "  # the insert's own conflict check, without using up ids
    "WHERE x.user_id = {user} AND x.kind = {kind} AND x.reason = {reason})"
)

# $1: now. Orders waiting longer than their category's accept hours: dispatched and not
# accepted (the `escalated` flag), or placed (or handed back) and not dispatched: staff in
# scope, once per wait (the reason names the state and when it began).
SWEEP_ESCALATED: Final = (
    _INSERT  # noqa: S608 - constant SQL put together from the constants above
    + """
SELECT o.county_id, s.user_id, 'ORDER_ESCALATED', r.reason, 'ServiceOrder', o.id,
       jsonb_build_object('number', o.number, 'title', o.title, 'hours', c.accept_hours, 'state', o.status), $1
FROM service_orders o
JOIN service_categories c ON c.code = o.category
JOIN households h ON h.id = o.household_id
JOIN areas b ON b.id = h.building_id
CROSS JOIN LATERAL (SELECT CASE o.status WHEN 'DISPATCHED' THEN o.dispatched_at ELSE o.updated_at END AS since) w
CROSS JOIN LATERAL (SELECT 'order:' || o.id || ':' || lower(o.status) || ':' || extract(epoch FROM w.since)::bigint
                    AS reason) r
CROSS JOIN LATERAL ("""
    + _STAFF_OF_PATH.format(path="b.path")
    + """) s
WHERE o.status IN ('SUBMITTED', 'DISPATCHED') AND w.since + make_interval(hours => c.accept_hours) <= $1
"""
    + _NEW.format(user="s.user_id", kind="'ORDER_ESCALATED'", reason="r.reason")
    + " ON CONFLICT DO NOTHING"
)

# Orders past their due time while still with the assignee: staff in scope and the assignee.
SWEEP_OVERDUE: Final = (
    _INSERT  # noqa: S608 - constant SQL put together from the constants above
    + """
SELECT o.county_id, s.user_id, 'ORDER_OVERDUE', r.reason, 'ServiceOrder', o.id,
       jsonb_build_object('number', o.number, 'title', o.title, 'dueAt', o.due_at), $1
FROM service_orders o
JOIN households h ON h.id = o.household_id
JOIN areas b ON b.id = h.building_id
CROSS JOIN LATERAL (SELECT 'order:' || o.id || ':due:' || extract(epoch FROM o.due_at)::bigint AS reason) r
CROSS JOIN LATERAL ("""
    + _STAFF_OF_PATH.format(path="b.path")
    + " UNION "
    + _ASSIGNEES_OF.format(o="o")
    + """) s
WHERE o.status IN ('DISPATCHED', 'ACCEPTED') AND o.due_at <= $1
"""
    + _NEW.format(user="s.user_id", kind="'ORDER_OVERDUE'", reason="r.reason")
    + " ON CONFLICT DO NOTHING"
)

# $1: now, $2: the county's zone. From the 20th of a month: cadres of active pairings
# without a home visit in that month, one notification per pairing and month.
SWEEP_VISIT_DUE: Final = (
    _INSERT  # noqa: S608 - constant SQL put together from the constants above
    + """
SELECT p.county_id, u.id, 'VISIT_DUE', 'pairing:' || p.id || ':' || to_char(d.today, 'YYYY-MM'), 'Pairing', p.id,
       jsonb_build_object('household', concat_ws(' ', b.name, h.label), 'month', to_char(d.today, 'YYYY-MM')), $1
FROM (SELECT ($1::timestamptz AT TIME ZONE $2)::date AS today) d
JOIN pairings p ON p.since <= d.today AND (p.until IS NULL OR p.until >= d.today)
JOIN users u ON u.person_id = p.cadre_id AND NOT u.disabled
JOIN households h ON h.id = p.household_id
JOIN areas b ON b.id = h.building_id
WHERE extract(day FROM d.today) >= 20
  AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.pairing_id = p.id AND v.kind = 'HOME_VISIT'
                  AND v.occurred_on BETWEEN date_trunc('month', d.today)::date AND d.today)
"""
    + _NEW.format(user="u.id", kind="'VISIT_DUE'", reason="'pairing:' || p.id || ':' || to_char(d.today, 'YYYY-MM')")
    + " ON CONFLICT DO NOTHING"
)

# $1: now. Activities starting within 24 hours: the people signed up (not cancelled).
SWEEP_ACTIVITY_SOON: Final = (
    _INSERT
    + """
SELECT a.county_id, u.id, 'ACTIVITY_SOON', 'activity:' || a.id || ':' || extract(epoch FROM a.starts_at)::bigint,
       'Activity', a.id, jsonb_build_object('title', a.title, 'startsAt', a.starts_at), $1
FROM activities a
JOIN signups s ON s.activity_id = a.id AND s.cancelled_at IS NULL
JOIN users u ON u.person_id = s.person_id AND NOT u.disabled
WHERE a.starts_at > $1 AND a.starts_at <= $1 + interval '24 hours'
"""
    + _NEW.format(
        user="u.id",
        kind="'ACTIVITY_SOON'",
        reason="'activity:' || a.id || ':' || extract(epoch FROM a.starts_at)::bigint",
    )
    + " ON CONFLICT DO NOTHING"
)

# $1: now, $2: zone. Findings whose deadline day has passed unrectified are published:
# staff in scope of the compound.
SWEEP_FINDING_PUBLISHED: Final = (
    _INSERT
    + """
SELECT f.county_id, s.user_id, 'FINDING_PUBLISHED', 'finding:' || f.id, 'Finding', f.id,
       jsonb_build_object('compound', c.name, 'category', f.category, 'deadline', f.deadline), $1
FROM findings f
JOIN areas c ON c.id = f.compound_id
CROSS JOIN LATERAL ("""
    + _STAFF_OF_PATH.format(path="c.path")
    + """) s
WHERE f.rectified_at IS NULL AND f.deadline < ($1::timestamptz AT TIME ZONE $2)::date
"""
    + _NEW.format(user="s.user_id", kind="'FINDING_PUBLISHED'", reason="'finding:' || f.id")
    + " ON CONFLICT DO NOTHING"
)

WEBHOOK_POSITION: Final = "SELECT last_id FROM notification_webhook"
WEBHOOK_START: Final = """
INSERT INTO notification_webhook (last_id) SELECT coalesce(max(id), 0) FROM notifications
ON CONFLICT DO NOTHING
"""
WEBHOOK_BATCH: Final = f"""
SELECT {COLUMNS}, u.username FROM notifications n JOIN users u ON u.id = n.user_id
WHERE n.id > $1 ORDER BY n.id LIMIT $2
"""  # noqa: S608 - constant columns
WEBHOOK_ADVANCE: Final = "UPDATE notification_webhook SET last_id = $1, updated_at = now()"


def row(r: asyncpg.Record) -> NotificationRow:
    return NotificationRow(**{k: r[k] for k in NotificationRow.__dataclass_fields__})


async def inbox(
    conn: Conn, viewer: ViewerKey, user_id: int, *, unread_only: bool, before: int | None, limit: int
) -> list[NotificationRow]:
    """A page of the user's inbox, of what the viewer reads of it, newest first."""
    return [row(r) for r in await conn.fetch(INBOX, user_id, unread_only, before, limit, *viewer)]


async def inboxes(conn: Conn, viewer: ViewerKey, user_ids: list[int]) -> dict[int, tuple[int, int] | None]:
    """(all, unread) of each user's inbox that the viewer reads; None where they read none of it."""
    return {
        r["id"]: (int(r["total"]), int(r["unread"])) if r["readable"] else None
        for r in await conn.fetch(INBOXES, user_ids, *viewer)
    }


async def by_id(conn: Conn, ids: Sequence[int]) -> dict[int, NotificationRow]:
    return {r["id"]: row(r) for r in await conn.fetch(BY_ID, list(ids))}


async def visible_by_id(conn: Conn, viewer: ViewerKey, ids: Sequence[int]) -> dict[int, NotificationRow]:
    return {r["id"]: row(r) for r in await conn.fetch(VISIBLE_BY_ID, list(ids), *viewer)}


async def mark_read(conn: Conn, viewer: ViewerKey, ids: Sequence[int]) -> tuple[int, int] | None:
    """Mark the viewer's notifications among `ids` read: (how many were theirs, unread left);
    None when the viewer has no inbox (`notification_access`)."""
    r = await conn.fetchrow(MARK_READ, *viewer, list(ids))
    assert r is not None
    return (int(r["marked"]), int(r["unread"])) if r["inbox"] else None


async def sweep(conn: Conn, now: datetime.datetime, zone: str) -> int | None:
    """Raise the time-based notifications due at `now`, if this instance holds the sweep's
    lock (None when another one is sweeping); the number raised. Run it in a transaction."""
    if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", SWEEP_LOCK):
        return None
    raised = 0
    for statement, args in (
        (SWEEP_ESCALATED, (now,)),
        (SWEEP_OVERDUE, (now,)),
        (SWEEP_VISIT_DUE, (now, zone)),
        (SWEEP_ACTIVITY_SOON, (now,)),
        (SWEEP_FINDING_PUBLISHED, (now, zone)),
    ):
        status = await conn.execute(statement, *args)
        raised += int(status.rsplit(" ", 1)[-1])
    return raised


@dataclass(frozen=True)
class Outgoing:
    notification: NotificationRow
    username: str


async def webhook_batch(conn: Conn, limit: int) -> tuple[int, list[Outgoing]] | None:
    """The next notifications for the webhook after its position, if this instance holds
    the delivery lock (None otherwise). The first call starts at the newest notification:
    history is not replayed. Run it in a transaction, then `advance_webhook`."""
    if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", WEBHOOK_LOCK):
        return None
    await conn.execute(WEBHOOK_START)
    position = int(await conn.fetchval(WEBHOOK_POSITION))
    rows = await conn.fetch(WEBHOOK_BATCH, position, limit)
    return position, [Outgoing(row(r), r["username"]) for r in rows]


async def advance_webhook(conn: Conn, last_id: int) -> None:
    await conn.execute(WEBHOOK_ADVANCE, last_id)
