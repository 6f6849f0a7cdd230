"""The append-only audit log."""

from __future__ import annotations

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
