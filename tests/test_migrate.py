"""The migration runner: once under concurrency, checksums, one transaction per file."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from db.migrate import Migration, MigrationError, available, migrate
from tests.serving import fresh_database

__all__ = ["fresh_database"]


async def test_five_runners_at_once_apply_each_file_once(fresh_database: str) -> None:
    connections = [await asyncpg.connect(fresh_database) for _ in range(5)]
    try:
        applied = await asyncio.gather(*(migrate(c) for c in connections))
        rows = await connections[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        for c in connections:
            await c.close()
    everything = [m.version for m in available()]
    assert sorted(v for run in applied for v in run) == everything  # each file by exactly one runner
    assert [r["version"] for r in rows] == everything


async def test_second_run_applies_nothing(fresh_database: str) -> None:
    raw = await asyncpg.connect(fresh_database)
    try:
        assert await migrate(raw) == [m.version for m in available()]
        assert await migrate(raw) == []
    finally:
        await raw.close()


async def test_changed_applied_file_is_refused(fresh_database: str) -> None:
    first = Migration("0001_probe", "CREATE TABLE probe (id int)")
    raw = await asyncpg.connect(fresh_database)
    try:
        assert await migrate(raw, [first]) == ["0001_probe"]
        changed = Migration("0001_probe", "CREATE TABLE probe (id bigint)")
        with pytest.raises(MigrationError, match="0001_probe has changed"):
            await migrate(raw, [changed, Migration("0002_next", "CREATE TABLE next (id int)")])
        assert await raw.fetchval("SELECT to_regclass('next')") is None  # nothing after the refusal
        assert await raw.fetchval("SELECT pg_try_advisory_lock(x'6A6A0001'::int)")  # the lock was released
    finally:
        await raw.close()


async def test_failing_file_leaves_nothing(fresh_database: str) -> None:
    good = Migration("0001_good", "CREATE TABLE good (id int)")
    bad = Migration("0002_bad", "CREATE TABLE half (id int); INSERT INTO half VALUES (1); SELECT 1 / 0;")
    raw = await asyncpg.connect(fresh_database)
    try:
        with pytest.raises(MigrationError, match="0002_bad failed: division by zero"):
            await migrate(raw, [good, bad])
        assert await raw.fetchval("SELECT to_regclass('good')") == "good"
        assert await raw.fetchval("SELECT to_regclass('half')") is None
        versions = [r["version"] for r in await raw.fetch("SELECT version FROM schema_migrations")]
        assert versions == ["0001_good"]
        fixed = Migration("0002_bad", "CREATE TABLE half (id int)")
        assert await migrate(raw, [good, fixed]) == ["0002_bad"]
    finally:
        await raw.close()
