"""Forward-only migrations: numbered plain-SQL files, one transaction each.

Applied under a PostgreSQL advisory lock taken before anything else, so any number of
instances starting at once apply each file exactly once. The checksum of every applied
file is recorded; a changed file stops the start-up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final

import asyncpg

LOCK_KEY: Final = 0x6A6A_0001  # pg_advisory_lock key of the migration runner

CREATE_TABLE: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


class MigrationError(Exception):
    """A migration cannot be applied, or an applied one has changed."""


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    folder = resources.files("db") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [Migration(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


async def migrate(raw: asyncpg.Connection, migrations: Sequence[Migration] | None = None) -> list[str]:
    """Apply what is missing (of `migrations`, by default the files in db/migrations);
    return the versions applied now."""
    applied_now: list[str] = []
    await raw.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await raw.execute(CREATE_TABLE)
        done = {r["version"]: r["checksum"] for r in await raw.fetch("SELECT version, checksum FROM schema_migrations")}
        for migration in available() if migrations is None else migrations:
            recorded = done.get(migration.version)
            if recorded is not None:
                if recorded != migration.checksum:
                    raise MigrationError(f"applied migration {migration.version} has changed since it was applied")
                continue
            try:
                async with raw.transaction():
                    await raw.execute(migration.sql)
                    await raw.execute(
                        "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                        migration.version,
                        migration.checksum,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"migration {migration.version} failed: {exc}") from exc
            applied_now.append(migration.version)
    finally:
        await raw.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    return applied_now
