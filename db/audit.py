"""The append-only audit log."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Final

from db.pool import Conn

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
    county_id: int
    action: str | None = None
    user_id: int | None = None
    target_type: str | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    # one object's history: the types its entries may be recorded under, and its id
    target_types: list[str] | None = None
    target_id: int | None = None


# Newest first; the cursor is the id of the last entry seen. Null filters match everything.
_WHERE: Final = """
WHERE county_id = $1
  AND ($2::text IS NULL OR action = $2)
  AND ($3::bigint IS NULL OR user_id = $3)
  AND ($4::text IS NULL OR target_type = $4)
  AND ($5::timestamptz IS NULL OR at >= $5)
  AND ($6::timestamptz IS NULL OR at <= $6)
  AND ($7::text[] IS NULL OR (target_type = ANY($7) AND target_id = $8::bigint))
"""
PAGE: Final = (
    "SELECT id, county_id, at, user_id, api_token_id, action, target_type, target_id, request_id, detail "
    "FROM audit_log" + _WHERE + "AND ($9::bigint IS NULL OR id < $9) ORDER BY id DESC LIMIT $10"
)
COUNT: Final = "SELECT count(*) FROM audit_log" + _WHERE  # noqa: S608 - constant text
BY_ID: Final = """
SELECT id, county_id, at, user_id, api_token_id, action, target_type, target_id, request_id, detail
FROM audit_log WHERE id = ANY($1::bigint[])
"""


def _args(f: AuditFilter) -> list[Any]:
    return [f.county_id, f.action, f.user_id, f.target_type, f.since, f.until, f.target_types, f.target_id]


async def page(conn: Conn, f: AuditFilter, before_id: int | None, limit: int) -> list[AuditRow]:
    return [AuditRow(**dict(r)) for r in await conn.fetch(PAGE, *_args(f), before_id, limit)]


async def count(conn: Conn, f: AuditFilter) -> int:
    return int(await conn.fetchval(COUNT, *_args(f)))


async def by_id(conn: Conn, ids: list[int]) -> dict[int, AuditRow]:
    return {r["id"]: AuditRow(**dict(r)) for r in await conn.fetch(BY_ID, ids)}
