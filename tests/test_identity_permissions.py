"""The reusable permission helpers, on a schema built only for this test."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
import strawberry

from db.pool import SingleConnectionDatabase
from gongjian import tokens
from gongjian.config import Settings
from resolvers.context import Context, viewer_from_token
from resolvers.permissions import CountyAdmin, guarded, has_role
from resolvers.viewer import Role
from tests.builders import world
from tests.conftest import TEST_SECRET


def _yes() -> bool:
    return True


@strawberry.type
class Query:
    admin_only: bool = guarded(resolver=_yes, description="Admins", permissions=[CountyAdmin])
    residents: bool = guarded(resolver=_yes, description="Residents", permissions=[has_role(Role.RESIDENT)])


SCHEMA = strawberry.Schema(query=Query)


async def _ask(conn: asyncpg.Connection, user_id: int | None, query: str, variables: dict[str, Any]) -> Any:
    db = SingleConnectionDatabase(conn)
    settings = Settings(secret=TEST_SECRET)
    token = tokens.sign(TEST_SECRET, user_id, 60)[0] if user_id else None
    ctx = Context(db=db, settings=settings, request_id="t", viewer=await viewer_from_token(db, settings, token))
    result = await SCHEMA.execute(query, variable_values=variables, context_value=ctx)
    if result.errors:
        return result.errors[0].extensions["code"] if result.errors[0].extensions else result.errors[0].message
    return "ok"


def test_requirements_are_written_into_the_sdl() -> None:
    sdl = SCHEMA.as_str()
    assert "Requires: role COUNTY_ADMIN." in sdl
    assert "Requires: role RESIDENT." in sdl


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        (None, {"admin": "UNAUTHENTICATED", "res": "UNAUTHENTICATED"}),
        ("admin", {"admin": "ok", "res": "FORBIDDEN"}),
        ("staff", {"admin": "FORBIDDEN", "res": "FORBIDDEN"}),
        ("resident", {"admin": "FORBIDDEN", "res": "ok"}),
        ("foreign", {"admin": "ok", "res": "FORBIDDEN"}),
    ],
)
async def test_permissions_read_the_viewer_and_the_arguments(
    conn: asyncpg.Connection, account: str | None, expected: dict[str, str]
) -> None:
    w = await world(conn)
    far = await world(conn)
    user = {**w.users, "foreign": far.users["admin"]}.get(account) if account else None
    queries: dict[str, tuple[str, dict[str, Any]]] = {"admin": ("{ adminOnly }", {}), "res": ("{ residents }", {})}
    seen = {key: await _ask(conn, user, *queries[key]) for key in expected}
    assert seen == expected
