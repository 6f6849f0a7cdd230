"""Who may read residents' personal data: for a batch, one statement each.

The rules are the SQL functions `household_access` and `person_access` (migration
0010_authorization.sql), read here in their inlinable forms `household_reason` and
`person_reason` (0025: planned into the statement instead of run per row); these
statements return, per household or person, the reason that grants access (or NULL), so
the caller can both mask and audit. The viewer is $2 user id, $3 API token id (see
`viewer_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from db.pool import Conn

HOUSEHOLD_ACCESS: Final = """
SELECT h.id, (SELECT r FROM household_reason(h, v) r) AS reason
FROM households h, viewer_of($2, $3) v
WHERE h.id = ANY($1::bigint[])
"""

PERSON_ACCESS: Final = """
SELECT p.id, (SELECT r FROM person_reason(p, v) r) AS reason, p.household_id
FROM persons p, viewer_of($2, $3) v
WHERE p.id = ANY($1::bigint[])
"""

# The same rules given the reason of the place the row lies in (migrations 0032 and 0037), as the
# compiled reads hand it from the parent row (`Relation.hands`, schema/areas.py): a building's
# office to its households, a household's reason to its residents. SQL expressions over `{row}`,
# `{viewer}` and `{given}` that PostgreSQL inlines; the office is one of a building's row.
HOUSEHOLD_REASON_OF: Final = "household_reason_of({row}, {viewer}, {given})"
PERSON_REASON_OF: Final = "person_reason_of({row}, {viewer}, {given})"
BUILDING_OFFICE_OF: Final = "building_office_of({row}, {viewer})"

# one row per read (field, household, reason), in the order given
AUDIT_READS: Final = """
INSERT INTO audit_log (county_id, user_id, api_token_id, action, target_type, target_id, request_id, detail)
SELECT $1, $2, $3, 'read.personalData', 'Household', t.id, $4, jsonb_build_object('field', t.field, 'reason', t.reason)
FROM unnest($5::text[], $6::bigint[], $7::text[]) WITH ORDINALITY AS t (field, id, reason, n)
ORDER BY t.n
"""


ViewerKey = tuple[int, int | None]  # user id, API token id: the arguments of `viewer_of`


async def household_access(conn: Conn, households: list[int], viewer: ViewerKey) -> dict[int, str | None]:
    return {r["id"]: r["reason"] for r in await conn.fetch(HOUSEHOLD_ACCESS, households, *viewer)}


async def person_access(conn: Conn, persons: list[int], viewer: ViewerKey) -> dict[int, tuple[str | None, int | None]]:
    return {r["id"]: (r["reason"], r["household_id"]) for r in await conn.fetch(PERSON_ACCESS, persons, *viewer)}


async def audit_reads(
    conn: Conn,
    *,
    county_id: int,
    user_id: int | None,
    api_token_id: int | None,
    request_id: str,
    reads: Sequence[tuple[str, int, str]],
) -> None:
    """One `read.personalData` audit row per read (field, household, reason): a household
    whose personal data was read, in one statement."""
    await conn.execute(
        AUDIT_READS,
        county_id,
        user_id,
        api_token_id,
        request_id,
        [field for field, _, _ in reads],
        [household for _, household, _ in reads],
        [reason for _, _, reason in reads],
    )
