"""The append-only audit log."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Final

from db.access import ViewerKey
from db.pool import Conn
from db.ruled_page import allowed_rows, ruled_page

INSERT: Final = """
INSERT INTO audit_log (county_id, user_id, api_token_id, action, target_type, target_id, request_id, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""


async def record(
    conn: Conn,
    *,
    county_id: int | None,
    user_id: int | None,
    api_token_id: int | None,
    action: str,
    target_type: str | None,
    target_id: int | None,
    request_id: str,
    detail: dict[str, Any],
) -> None:
    await conn.execute(INSERT, county_id, user_id, api_token_id, action, target_type, target_id, request_id, detail)


@dataclass(frozen=True)
class AuditRow:
    id: int
    county_id: int | None
    at: datetime.datetime
    user_id: int | None
    api_token_id: int | None
    action: str
    target_type: str | None
    target_id: int | None
    request_id: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class AuditFilter:
    viewer: ViewerKey
    action: str | None = None
    user_id: int | None = None
    target_type: str | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    # one object's history: the types its entries may be recorded under, and its id
    target_types: list[str] | None = None
    target_id: int | None = None


# Who reads an entry is the rule `audit_access` (0021_node_rules.sql), the viewer being
# `viewer_of($1 user, $2 API token)`. Newest first; the cursor is the id of the last entry
# seen. Null filters match everything.
COLUMNS: Final = (
    "a.id, a.county_id, a.at, a.user_id, a.api_token_id, a.action, a.target_type, a.target_id, a.request_id, a.detail"
)
_WHERE: Final = """
FROM audit_log a CROSS JOIN viewer_of($1, $2) v
WHERE audit_access(a, v)
  AND ($3::text IS NULL OR a.action = $3)
  AND ($4::bigint IS NULL OR a.user_id = $4)
  AND ($5::text IS NULL OR a.target_type = $5)
  AND ($6::timestamptz IS NULL OR a.at >= $6)
  AND ($7::timestamptz IS NULL OR a.at <= $7)
  AND ($8::text[] IS NULL OR (a.target_type = ANY($8) AND a.target_id = $9::bigint))
"""
# The page, and whether the viewer reads the audit log at all (`audit_reader`, 0029).
PAGE: Final = ruled_page(
    "audit_reader(viewer_of($1, $2))",
    f"SELECT {COLUMNS} {_WHERE} AND ($10::bigint IS NULL OR a.id < $10) ORDER BY a.id DESC LIMIT $11",
    "page.id DESC",
)
COUNT: Final = f"SELECT count(*) {_WHERE}"
BY_ID: Final = f"""
SELECT {COLUMNS} FROM audit_log a CROSS JOIN viewer_of($2, $3) v WHERE a.id = ANY($1::bigint[]) AND audit_access(a, v)
"""  # noqa: S608 - constant text


def _args(f: AuditFilter) -> list[Any]:
    return [*f.viewer, f.action, f.user_id, f.target_type, f.since, f.until, f.target_types, f.target_id]


async def page(conn: Conn, f: AuditFilter, before_id: int | None, limit: int) -> list[AuditRow] | None:
    """A page of the entries the viewer reads; None when they read none (`audit_reader`)."""
    rows = allowed_rows(await conn.fetch(PAGE, *_args(f), before_id, limit))
    return None if rows is None else [AuditRow(**r) for r in rows]


async def count(conn: Conn, f: AuditFilter) -> int:
    return int(await conn.fetchval(COUNT, *_args(f)))


async def visible_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, AuditRow]:
    """The entries of `ids` the viewer may read (the others are left out)."""
    return {r["id"]: AuditRow(**dict(r)) for r in await conn.fetch(BY_ID, ids, *viewer)}
