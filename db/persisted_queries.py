"""Apollo's automatic persisted queries, kept in PostgreSQL so every instance knows them."""

from __future__ import annotations

from typing import Final

from db.pool import Database

FIND: Final = "SELECT body FROM persisted_queries WHERE sha256 = $1"

# registrations queue up on one lock so that the bound holds exactly under concurrency
LOCK: Final = "SELECT pg_advisory_xact_lock(hashtext('persisted_queries'))"

# a registration again refreshes its age (a document in use is not the oldest)
REGISTER: Final = """
INSERT INTO persisted_queries (sha256, body) VALUES ($1, $2)
ON CONFLICT (sha256) DO UPDATE SET registered_at = clock_timestamp()
"""

# keep the newest $1
TRIM: Final = """
DELETE FROM persisted_queries
WHERE sha256 IN (SELECT sha256 FROM persisted_queries ORDER BY registered_at DESC, sha256 DESC OFFSET $1)
"""


async def find(db: Database, sha256: str) -> str | None:
    async with db.connection() as conn:
        body: str | None = await conn.fetchval(FIND, sha256)
        return body


async def register(db: Database, sha256: str, body: str, keep: int) -> None:
    """Register `body` under its hash, keeping at most `keep` registrations."""
    async with db.transaction() as conn:
        await conn.execute(LOCK)
        await conn.execute(REGISTER, sha256, body)
        await conn.execute(TRIM, keep)
