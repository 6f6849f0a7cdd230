"""The rows of the report exports, read with a server-side cursor so that a county of any size
streams out in chunks: every uncovered household, every due pairing, every due household."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any, Final

from db.access import ViewerKey
from db.pool import Conn

CHUNK: Final = 500

# The names along a household's path, as columns (community, compound, building, stairwell unit).
_PLACES: Final = """
SELECT (SELECT x.name FROM areas x WHERE x.id = ANY(a.path) AND x.level = 'COMMUNITY') AS community,
       (SELECT x.name FROM areas x WHERE x.id = ANY(a.path) AND x.level = 'COMPOUND') AS compound,
       (SELECT x.name FROM areas x WHERE x.id = ANY(a.path) AND x.level = 'BUILDING') AS building,
       (SELECT x.name FROM areas x WHERE x.id = ANY(a.path) AND x.level = 'UNIT') AS stairwell,
       hh.label
"""

# $1: area. Households inside without an active pairing (coverage's uncoveredHouseholds).
UNCOVERED: Final = (
    _PLACES  # noqa: S608 - constant SQL put together from the constants above
    + """
FROM households hh JOIN areas a ON a.id = hh.area_id
WHERE a.path @> ARRAY[$1::bigint]
  AND NOT EXISTS (SELECT 1 FROM pairings p WHERE p.household_id = hh.id AND p.until IS NULL)
ORDER BY 1, 2, 3, 4 NULLS FIRST, 5, hh.id
"""
)

# $1: area, $2: asOf, $3/$4/$5: starts of the month, half-year and year, $6/$7: the viewer. Pairings active at
# asOf of households inside with at least one obligation still due (compliance's `due`).
DUE_PAIRINGS: Final = (
    _PLACES  # noqa: S608 - constant SQL put together from the constants above
    + """,
       c.name AS cadre,
       (SELECT string_agg(o.name, '、' ORDER BY o.name) FROM posts ps JOIN organisations o ON o.id = ps.organisation_id
        WHERE ps.person_id = c.id AND post_active_on(ps.until, $2)) AS unit,
       pr.since,
       m.home_visit, m.heart_to_heart, m.good_deed
FROM pairings pr
JOIN households hh ON hh.id = pr.household_id
JOIN areas a ON a.id = hh.area_id
JOIN persons c ON c.id = pr.cadre_id
CROSS JOIN viewer_of($6, $7) vw
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT 1 FROM visits v WHERE v.pairing_id = pr.id AND v.kind = 'HOME_VISIT'
                   AND v.occurred_on BETWEEN $3 AND $2) AS home_visit,
           EXISTS (SELECT 1 FROM visits v WHERE v.pairing_id = pr.id AND v.kind = 'HEART_TO_HEART'
                   AND v.occurred_on BETWEEN $4 AND $2) AS heart_to_heart,
           EXISTS (SELECT 1 FROM visits v WHERE v.pairing_id = pr.id AND v.kind = 'GOOD_DEED'
                   AND v.occurred_on BETWEEN $5 AND $2) AS good_deed
) m
WHERE a.path @> ARRAY[$1::bigint] AND pr.since <= $2 AND (pr.until IS NULL OR pr.until >= $2)
  AND NOT (m.home_visit AND m.heart_to_heart AND m.good_deed)
  AND pairing_access(pr, vw) IS NOT NULL
ORDER BY 1, 2, 3, 4 NULLS FIRST, 5, pr.id
"""
)

# $1: area, $2: asOf, $3: start of the kind's period, $4: the kind. Households inside with an
# active pairing none of whose active pairings met the obligation in its period.
DUE_HOUSEHOLDS: Final = (
    _PLACES  # noqa: S608 - constant SQL put together from the constants above
    + """,
       (SELECT string_agg(c.name, '、' ORDER BY c.name) FROM pairings p JOIN persons c ON c.id = p.cadre_id
        WHERE p.household_id = hh.id AND p.since <= $2 AND (p.until IS NULL OR p.until >= $2)) AS cadres
FROM households hh JOIN areas a ON a.id = hh.area_id
WHERE a.path @> ARRAY[$1::bigint]
  AND EXISTS (SELECT 1 FROM pairings p WHERE p.household_id = hh.id AND p.since <= $2
              AND (p.until IS NULL OR p.until >= $2))
  AND NOT EXISTS (SELECT 1 FROM pairings p JOIN visits v ON v.pairing_id = p.id
                  WHERE p.household_id = hh.id AND p.since <= $2 AND (p.until IS NULL OR p.until >= $2)
                    AND v.kind = $4 AND v.occurred_on BETWEEN $3 AND $2)
ORDER BY 1, 2, 3, 4 NULLS FIRST, 5, hh.id
"""
)


async def stream(conn: Conn, query: str, *args: Any) -> AsyncIterator[list[dict[str, Any]]]:
    """The rows of `query` in chunks, through a cursor (call it inside a transaction)."""
    cursor = await conn.raw.cursor(query, *args)
    while True:
        rows = await cursor.fetch(CHUNK)
        if not rows:
            return
        yield [dict(r) for r in rows]


async def uncovered(conn: Conn, area_id: int) -> AsyncIterator[list[dict[str, Any]]]:
    async for chunk in stream(conn, UNCOVERED, area_id):
        yield chunk


async def due_pairings(
    conn: Conn, viewer: ViewerKey, area_id: int, as_of: datetime.date, starts: tuple[datetime.date, ...]
) -> AsyncIterator[list[dict[str, Any]]]:
    """The due pairings the viewer may open (the rule `pairing_access`): what a report lists,
    its reader may open."""
    async for chunk in stream(conn, DUE_PAIRINGS, area_id, as_of, *starts, *viewer):
        yield chunk


async def due_households(
    conn: Conn, area_id: int, as_of: datetime.date, period_start: datetime.date, kind: str
) -> AsyncIterator[list[dict[str, Any]]]:
    async for chunk in stream(conn, DUE_HOUSEHOLDS, area_id, as_of, period_start, kind):
        yield chunk
