"""How every mutation runs: one transaction, refusals as userErrors, one audit row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from db import audit
from db.pool import Conn
from resolvers.context import Context
from resolvers.errors import Refusal, UserError

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None
    user_errors: list[UserError]


@dataclass(frozen=True)
class Audited:
    """What a mutation did, for its audit row."""

    target_type: str | None = None
    target_id: int | None = None
    detail: dict[str, Any] | None = None


async def run(
    ctx: Context,
    action: str,
    body: Callable[[Conn], Awaitable[tuple[T, Audited]]],
) -> Outcome[T]:
    """Run `body` in one transaction; a Refusal rolls everything back and becomes userErrors."""
    viewer = ctx.viewer
    try:
        async with ctx.db.transaction() as conn:
            value, audited = await body(conn)
            await audit.record(
                conn,
                county_id=viewer.county_id if viewer else None,
                user_id=viewer.user_id if viewer else None,
                api_token_id=viewer.api_token_id if viewer else None,
                action=action,
                target_type=audited.target_type,
                target_id=audited.target_id,
                request_id=ctx.request_id,
                detail=audited.detail or {},
            )
    except Refusal as refusal:
        return Outcome(value=None, user_errors=refusal.errors)
    return Outcome(value=value, user_errors=[])
