"""Who may read residents' personal data: the facts, for a batch, in one statement each.

The rules themselves are read in `resolvers/access.py`; these statements return, per
household or person, the first reason that grants access (or NULL), so the caller can both
mask and audit. Parameters describe the viewer:
$2 county, $3 person id, $4 household id, $5 is county admin, $6 staff scopes (area ids),
$7 building-head grant areas.
"""

from __future__ import annotations

from typing import Any, Final

from db.pool import Conn

# reason a viewer may read a household's residents (and their personal data)
HOUSEHOLD_ACCESS: Final = """
SELECT h.id,
  CASE
    WHEN h.id = $4 THEN 'MEMBER'
    WHEN $5 THEN 'COUNTY_ADMIN'
    WHEN b.path && $6::bigint[] THEN 'STAFF'
    WHEN h.building_id = ANY($7::bigint[])
      OR EXISTS (SELECT 1 FROM responsibilities r
                 WHERE r.area_id = h.building_id AND r.person_id = $3 AND r.until IS NULL) THEN 'BUILDING_HEAD'
    WHEN EXISTS (SELECT 1 FROM pairings pr
                 WHERE pr.household_id = h.id AND pr.cadre_id = $3 AND pr.until IS NULL) THEN 'CADRE'
  END AS reason
FROM households h JOIN areas b ON b.id = h.building_id
WHERE h.id = ANY($1::bigint[]) AND h.county_id = $2
"""

# reason a viewer may read a person's phone: the household rules above, the person themself,
# and the people who serve the viewer's household (its responsible people, its paired cadres)
PERSON_ACCESS: Final = """
WITH mine AS (
  SELECT a.path FROM households vh JOIN areas a ON a.id = vh.area_id WHERE vh.id = $4
)
SELECT p.id,
  CASE
    WHEN p.id = $3 THEN 'SELF'
    WHEN p.household_id = $4 THEN 'MEMBER'
    WHEN $5 THEN 'COUNTY_ADMIN'
    WHEN b.path && $6::bigint[] THEN 'STAFF'
    WHEN h.building_id = ANY($7::bigint[])
      OR EXISTS (SELECT 1 FROM responsibilities r
                 WHERE r.area_id = h.building_id AND r.person_id = $3 AND r.until IS NULL) THEN 'BUILDING_HEAD'
    WHEN EXISTS (SELECT 1 FROM pairings pr
                 WHERE pr.household_id = h.id AND pr.cadre_id = $3 AND pr.until IS NULL) THEN 'CADRE'
    WHEN EXISTS (SELECT 1 FROM responsibilities r, mine
                 WHERE r.person_id = p.id AND r.until IS NULL AND r.area_id = ANY(mine.path)) THEN 'SERVES_VIEWER'
    WHEN EXISTS (SELECT 1 FROM pairings pr
                 WHERE pr.cadre_id = p.id AND pr.household_id = $4 AND pr.until IS NULL) THEN 'SERVES_VIEWER'
  END AS reason,
  p.household_id
FROM persons p
LEFT JOIN households h ON h.id = p.household_id
LEFT JOIN areas b ON b.id = h.building_id
WHERE p.id = ANY($1::bigint[]) AND p.county_id = $2
"""

AUDIT_READS: Final = """
INSERT INTO audit_log (county_id, user_id, api_token_id, action, target_type, target_id, request_id, detail)
SELECT $1, $2, $3, $4, 'Household', t.id, $5, jsonb_build_object('field', $6::text, 'reason', t.reason)
FROM unnest($7::bigint[], $8::text[]) AS t (id, reason)
"""


async def household_access(conn: Conn, households: list[int], viewer: tuple[Any, ...]) -> dict[int, str | None]:
    return {r["id"]: r["reason"] for r in await conn.fetch(HOUSEHOLD_ACCESS, households, *viewer)}


async def person_access(
    conn: Conn, persons: list[int], viewer: tuple[Any, ...]
) -> dict[int, tuple[str | None, int | None]]:
    return {r["id"]: (r["reason"], r["household_id"]) for r in await conn.fetch(PERSON_ACCESS, persons, *viewer)}


async def audit_reads(
    conn: Conn,
    *,
    county_id: int,
    user_id: int | None,
    api_token_id: int | None,
    request_id: str,
    field: str,
    reads: list[tuple[int, str]],
) -> None:
    """One audit row per household whose personal data was read, in one statement."""
    await conn.execute(
        AUDIT_READS,
        county_id,
        user_id,
        api_token_id,
        "read.personalData",
        request_id,
        field,
        [h for h, _ in reads],
        [reason for _, reason in reads],
    )
