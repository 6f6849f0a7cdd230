"""Rate-limit counters in PostgreSQL, so that every server instance counts the same hits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from db.pool import Conn

# One hit for each key: a fixed window per key that restarts once it has passed. Returns,
# per key, the hits in its current window and the seconds until that window ends.
HIT: Final = """
INSERT INTO rate_limits AS r (key, window_start, hits)
SELECT k, now(), 1 FROM unnest($1::text[]) AS k
ON CONFLICT (key) DO UPDATE SET
    window_start = CASE WHEN r.window_start <= now() - make_interval(secs => $2) THEN now() ELSE r.window_start END,
    hits = CASE WHEN r.window_start <= now() - make_interval(secs => $2) THEN 1 ELSE r.hits + 1 END
RETURNING key, hits, extract(epoch FROM r.window_start + make_interval(secs => $2) - now())::float8 AS seconds_left
"""

# windows that ended long ago (run now and then, not on every hit)
FORGET_OLD: Final = "DELETE FROM rate_limits WHERE window_start < now() - make_interval(secs => $1 * 2)"


@dataclass(frozen=True)
class Hits:
    key: str
    hits: int
    seconds_left: float


async def hit(conn: Conn, keys: Sequence[str], window_seconds: int) -> list[Hits]:
    rows = await conn.fetch(HIT, sorted(set(keys)), window_seconds)
    return [Hits(r["key"], r["hits"], max(0.0, r["seconds_left"])) for r in rows]


async def forget_old(conn: Conn, window_seconds: int) -> None:
    await conn.execute(FORGET_OLD, window_seconds)
