"""Users, their role grants and API tokens, as the request context needs them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from db.pool import Conn

VIEWER_BY_USER: Final = """
SELECT u.id, u.username, u.county_id, u.person_id, p.household_id,
       coalesce(array_agg(g.id ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '{}') AS grant_ids,
       coalesce(array_agg(g.role ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '{}') AS grant_roles,
       coalesce(array_agg(g.area_id ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '{}') AS grant_areas,
       coalesce(array_agg(g.organisation_id ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '{}') AS grant_orgs
FROM users u
LEFT JOIN persons p ON p.id = u.person_id
LEFT JOIN role_grants g ON g.user_id = u.id
WHERE u.id = $1 AND NOT u.disabled
GROUP BY u.id, p.household_id
"""

API_TOKEN_BY_HASH: Final = """
UPDATE api_tokens SET last_used_at = now()
WHERE token_hash = $1 AND revoked_at IS NULL
RETURNING id, organisation_id, county_id, created_by
"""  # noqa: S105 - SQL, not a secret


@dataclass(frozen=True)
class GrantRow:
    id: int
    role: str
    area_id: int | None
    organisation_id: int | None


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    county_id: int
    person_id: int | None
    household_id: int | None
    grants: tuple[GrantRow, ...]


@dataclass(frozen=True)
class ApiTokenUse:
    id: int
    organisation_id: int
    county_id: int
    created_by: int


async def user_with_grants(conn: Conn, user_id: int) -> UserRow | None:
    row = await conn.fetchrow(VIEWER_BY_USER, user_id)
    if row is None:
        return None
    grants = tuple(
        GrantRow(id=i, role=r, area_id=a, organisation_id=o)
        for i, r, a, o in zip(row["grant_ids"], row["grant_roles"], row["grant_areas"], row["grant_orgs"], strict=True)
    )
    return UserRow(
        id=row["id"],
        username=row["username"],
        county_id=row["county_id"],
        person_id=row["person_id"],
        household_id=row["household_id"],
        grants=grants,
    )


async def use_api_token(conn: Conn, token_hash: str) -> ApiTokenUse | None:
    row = await conn.fetchrow(API_TOKEN_BY_HASH, token_hash)
    if row is None:
        return None
    return ApiTokenUse(
        id=row["id"],
        organisation_id=row["organisation_id"],
        county_id=row["county_id"],
        created_by=row["created_by"],
    )
