"""The compiled read path (issue 13) answers exactly as the ordinary path does.

Two apps on the test's connection, one with `compiled_reads` off: every request is sent to
both, each in a savepoint rolled back afterwards, and the JSON (data and errors) must be
the same. The operation log line says which path ran."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from db.pool import SingleConnectionDatabase
from gongjian.app import create_app
from gongjian.config import Settings
from tests import builders as b
from tests.conftest import TEST_SECRET
from tests.support import Api, contract_operations
from tests.test_authorization_matrix import ACCOUNTS, ROWS, SUBSCRIPTIONS, UPLOADS, Scene, build_scene, gid, tokens_for


@dataclasses.dataclass
class Both:
    compiled: Api
    ordinary: Api
    conn: asyncpg.Connection
    caplog: pytest.LogCaptureFixture

    async def answer(
        self, api: Api, query: str, variables: dict[str, Any], token: str | None
    ) -> tuple[Any, str, set[tuple[Any, ...]]]:
        """The response, the path that ran and the personal-data reads audited (household,
        field, reason: the ordinary path may write one twice, from two DataLoader batches)."""
        savepoint = self.conn.transaction()
        await savepoint.start()
        try:
            before = await self.conn.fetchval("SELECT coalesce(max(id), 0) FROM audit_log")
            self.caplog.clear()
            result = await api.post(query, variables, token=token)
            lines = [r for r in self.caplog.records if r.name == "gongjian.graphql" and r.getMessage() == "operation"]
            path = lines[-1].fields["path"] if lines else "none"  # type: ignore[attr-defined]
            audited = {
                (r["target_id"], r["detail"]["field"], r["detail"]["reason"], r["user_id"], r["county_id"])
                for r in await self.conn.fetch(
                    "SELECT target_id, detail, user_id, county_id FROM audit_log "
                    "WHERE id > $1 AND action = 'read.personalData'",
                    before,
                )
            }
            return result, path, audited
        finally:
            await savepoint.rollback()

    async def same(self, query: str, variables: dict[str, Any], token: str | None) -> str:
        """The path the compiled app took; fails when the two answers differ."""
        compiled, path, audited = await self.answer(self.compiled, query, variables, token)
        ordinary, ordinary_path, ordinary_audited = await self.answer(self.ordinary, query, variables, token)
        assert ordinary_path == "resolvers"
        assert compiled == ordinary, (query, variables)
        if path == "compiled":
            assert audited == ordinary_audited, "the same personal-data reads are audited"
        return str(path)


@pytest.fixture
async def both(
    conn: asyncpg.Connection, settings: Settings, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Both]:
    caplog.set_level(logging.INFO, logger="gongjian.graphql")
    db = SingleConnectionDatabase(conn)
    compiled_app = create_app(settings, db=db)
    ordinary_app = create_app(dataclasses.replace(settings, compiled_reads=False), db=db)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=compiled_app), base_url="http://test") as c1,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=ordinary_app), base_url="http://test") as c2,
    ):
        yield Both(Api(client=c1, secret=TEST_SECRET), Api(client=c2, secret=TEST_SECRET), conn, caplog)


BUILDING_HOUSEHOLDS = contract_operations()["BuildingHouseholds"]


async def test_building_households_is_one_statement_and_the_same_for_every_account(both: Both) -> None:
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    for account in ACCOUNTS:
        for variables in (
            {"id": gid("Building", scene.w.building)},
            {"id": gid("Building", scene.w.building), "first": 1},
            {"id": gid("Building", scene.far.building)},
            {"id": gid("Compound", scene.w.building)},
        ):
            path = await both.same(BUILDING_HOUSEHOLDS, variables, tokens[account])
            expected = "resolvers" if account == "anonymous" else "compiled"
            assert path == expected, (account, variables)
