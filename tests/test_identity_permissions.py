"""The reusable permission helpers, on a schema built only for this test."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
import strawberry

from db.pool import SingleConnectionDatabase
from gongjian import tokens
from gongjian.config import Settings
from resolvers import ids
from resolvers.context import Context, viewer_from_token
from resolvers.permissions import SignedIn, administers_organisation_in, guarded
from tests.builders import world
from tests.conftest import TEST_SECRET


def _yes() -> bool:
    return True


def _of_unit(organisation_id: strawberry.ID) -> bool:
    return True


@strawberry.type
class Query:
    signed_in: bool = guarded(resolver=_yes, description="Anyone signed in")
    of_unit: bool = guarded(
        resolver=_of_unit, description="A unit's", permissions=[administers_organisation_in("organisationId")]
    )


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
    assert f'Requires: {SignedIn.requirement}.\n  """\n  signedIn' in sdl
    assert "Requires: COUNTY_ADMIN, or UNIT_ADMIN of the organisation `organisationId`." in sdl


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        (None, {"any": "UNAUTHENTICATED", "unit": "UNAUTHENTICATED"}),
        ("admin", {"any": "ok", "unit": "ok"}),
        ("unit", {"any": "ok", "unit": "ok"}),
        ("staff", {"any": "ok", "unit": "FORBIDDEN"}),
        ("resident", {"any": "ok", "unit": "FORBIDDEN"}),
        ("foreign", {"any": "ok", "unit": "FORBIDDEN"}),
    ],
)
async def test_permissions_read_the_viewer_and_the_arguments(
    conn: asyncpg.Connection, account: str | None, expected: dict[str, str]
) -> None:
    w = await world(conn)
    far = await world(conn)
    user = {**w.users, "foreign": far.users["admin"]}.get(account) if account else None
    unit = ids.encode("Organisation", w.unit)
    queries: dict[str, tuple[str, dict[str, Any]]] = {
        "any": ("{ signedIn }", {}),
        "unit": ("query($o: ID!) { ofUnit(organisationId: $o) }", {"o": unit}),
    }
    seen = {key: await _ask(conn, user, *queries[key]) for key in expected}
    assert seen == expected
