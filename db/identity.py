"""Users, their role grants and API tokens, as the request context needs them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Final

from db.access import ViewerKey
from db.pool import Conn

# a user with the ids, roles and scopes of its grants in parallel arrays (see user_row)
USER_WITH_GRANTS: Final = """
SELECT u.id, u.username, u.county_id, u.person_id, p.household_id, u.disabled, u.last_login_at,
       coalesce(array_agg(g.id ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '{}') AS grant_ids,
       coalesce(array_agg(g.role ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '{}') AS grant_roles,
       coalesce(array_agg(g.area_id ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '{}') AS grant_areas,
       coalesce(array_agg(g.organisation_id ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '{}') AS grant_orgs
FROM users u
LEFT JOIN persons p ON p.id = u.person_id
LEFT JOIN role_grants g ON g.user_id = u.id
"""


def session_holds(user: str, generation: str) -> str:
    """SQL over `users u`: the account `user` is enabled and its session tokens of
    `generation` are still good (a password change or disabling moves it on)."""
    return f"u.id = {user} AND NOT u.disabled AND u.token_generation = {generation}"


VIEWER_BY_USER: Final = USER_WITH_GRANTS + f"WHERE {session_holds('$1', '$2')} GROUP BY u.id, p.household_id"

# the creator's username names the token's requests (null when that account is disabled).
# A token works only while its creator may still issue it: an enabled account that is
# UNIT_ADMIN of the token's organisation or COUNTY_ADMIN of its county.
API_TOKEN_BY_HASH: Final = """
UPDATE api_tokens t SET last_used_at = now()
WHERE t.token_hash = $1 AND t.revoked_at IS NULL
  AND EXISTS (
      SELECT 1 FROM users u JOIN role_grants g ON g.user_id = u.id
      WHERE u.id = t.created_by AND NOT u.disabled
        AND ((g.role = 'UNIT_ADMIN' AND g.organisation_id = t.organisation_id)
             OR (g.role = 'COUNTY_ADMIN' AND g.area_id = t.county_id))
  )
RETURNING t.id, t.organisation_id, t.county_id, t.created_by,
          (SELECT u.username FROM users u WHERE u.id = t.created_by AND NOT u.disabled) AS creator_username
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
    disabled: bool = False
    last_login_at: datetime.datetime | None = None


@dataclass(frozen=True)
class ApiTokenUse:
    id: int
    organisation_id: int
    county_id: int
    created_by: int
    creator_username: str | None


async def user_with_grants(conn: Conn, user_id: int, generation: int) -> UserRow | None:
    """The enabled user whose tokens of `generation` are still good, with its grants."""
    row = await conn.fetchrow(VIEWER_BY_USER, user_id, generation)
    return None if row is None else user_row(row)


async def use_api_token(conn: Conn, token_hash: str) -> ApiTokenUse | None:
    row = await conn.fetchrow(API_TOKEN_BY_HASH, token_hash)
    if row is None:
        return None
    return ApiTokenUse(
        id=row["id"],
        organisation_id=row["organisation_id"],
        county_id=row["county_id"],
        created_by=row["created_by"],
        creator_username=row["creator_username"],
    )


# --- accounts and login -----------------------------------------------------------------

CREDENTIALS_BY_USERNAME: Final = """
SELECT id, county_id, password_hash, disabled, token_generation, must_change_password
FROM users WHERE lower(username) = lower($1)
"""
RECORD_LOGIN: Final = "UPDATE users SET last_login_at = now() WHERE id = $1"

# Serialises the attempts on one username across instances, so that the count below
# cannot be raced past by concurrent attempts; released when the transaction ends.
LOCK_USERNAME: Final = "SELECT pg_advisory_xact_lock(hashtextextended('login:' || lower($1), 0))"

RECENT_FAILURES: Final = """
SELECT count(*) FROM login_failures
WHERE lower(username) = lower($1) AND at > now() - make_interval(mins => $2)
"""

# failures of every username (unknown ones included) once they have left the window;
# the index on `at` keeps this to the rows it deletes
FORGET_OLD_FAILURES: Final = "DELETE FROM login_failures WHERE at <= now() - make_interval(mins => $1)"

RECORD_FAILURE: Final = "INSERT INTO login_failures (username) VALUES (lower($1))"

CLEAR_FAILURES: Final = "DELETE FROM login_failures WHERE lower(username) = lower($1)"

USERS_BY_ID: Final = USER_WITH_GRANTS + "WHERE u.id = ANY($1::bigint[]) GROUP BY u.id, p.household_id"


@dataclass(frozen=True)
class Credentials:
    id: int
    county_id: int
    password_hash: str
    disabled: bool
    token_generation: int
    must_change_password: bool


def user_row(row: Any) -> UserRow:
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
        disabled=row["disabled"],
        last_login_at=row["last_login_at"],
    )


async def credentials(conn: Conn, username: str) -> Credentials | None:
    row = await conn.fetchrow(CREDENTIALS_BY_USERNAME, username)
    return None if row is None else Credentials(**dict(row))


async def record_login(conn: Conn, user_id: int) -> None:
    await conn.execute(RECORD_LOGIN, user_id)


async def lock_username(conn: Conn, username: str) -> None:
    await conn.execute(LOCK_USERNAME, username)


async def recent_failures(conn: Conn, username: str, minutes: int) -> int:
    return int(await conn.fetchval(RECENT_FAILURES, username, minutes))


async def forget_old_failures(conn: Conn, minutes: int) -> None:
    await conn.execute(FORGET_OLD_FAILURES, minutes)


async def record_failure(conn: Conn, username: str) -> None:
    await conn.execute(RECORD_FAILURE, username)


async def clear_failures(conn: Conn, username: str) -> None:
    await conn.execute(CLEAR_FAILURES, username)


async def users_by_id(conn: Conn, ids: list[int]) -> dict[int, UserRow]:
    return {r["id"]: user_row(r) for r in await conn.fetch(USERS_BY_ID, ids)}


# --- API tokens -------------------------------------------------------------------------

API_TOKEN_COLUMNS: Final = "id, county_id, organisation_id, name, created_by, created_at, last_used_at, revoked_at"  # noqa: S105 - columns
# the same, of `api_tokens t` beside a viewer `v` (whose columns share some names)
TOKEN_COLUMNS: Final = ", ".join(f"t.{c}" for c in API_TOKEN_COLUMNS.split(", "))

INSERT_API_TOKEN: Final = f"""
INSERT INTO api_tokens (county_id, organisation_id, name, token_hash, created_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING {API_TOKEN_COLUMNS}
"""  # noqa: S608 - constant columns

API_TOKENS_BY_ID: Final = f"SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE id = ANY($1::bigint[])"  # noqa: S608

# Who sees a token is the rule `api_token_access` (0021_node_rules.sql), the viewer being
# `viewer_of($user, $api_token)`.
VISIBLE_API_TOKENS_BY_ID: Final = f"""
SELECT {TOKEN_COLUMNS} FROM api_tokens t, viewer_of($2, $3) v
WHERE t.id = ANY($1::bigint[]) AND api_token_access(t, v) IS NOT NULL
"""  # noqa: S608 - constant columns
# The token locked for revocation, when the viewer sees it.
API_TOKEN_FOR_UPDATE: Final = f"""
SELECT {TOKEN_COLUMNS} FROM api_tokens t, viewer_of($2, $3) v
WHERE t.id = $1 AND api_token_access(t, v) IS NOT NULL FOR UPDATE OF t
"""  # noqa: S608 - constant columns

REVOKE_API_TOKEN: Final = f"""
UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
RETURNING {API_TOKEN_COLUMNS}
"""  # noqa: S608 - constant columns


@dataclass(frozen=True)
class ApiTokenRow:
    id: int
    county_id: int
    organisation_id: int
    name: str
    created_by: int
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    revoked_at: datetime.datetime | None


API_TOKENS_PAGE: Final = f"""
SELECT {TOKEN_COLUMNS} FROM api_tokens t, viewer_of($4, $5) v
WHERE t.organisation_id = $1 AND api_token_access(t, v) IS NOT NULL AND ($2::bigint IS NULL OR t.id < $2)
ORDER BY t.id DESC LIMIT $3
"""  # noqa: S608 - constant columns
API_TOKENS_COUNT: Final = """
SELECT count(*) FROM api_tokens t, viewer_of($2, $3) v
WHERE t.organisation_id = $1 AND api_token_access(t, v) IS NOT NULL
"""


async def api_tokens_page(
    conn: Conn, viewer: ViewerKey, organisation_id: int, before_id: int | None, limit: int
) -> list[ApiTokenRow]:
    rows = await conn.fetch(API_TOKENS_PAGE, organisation_id, before_id, limit, *viewer)
    return [ApiTokenRow(**dict(r)) for r in rows]


async def api_tokens_count(conn: Conn, viewer: ViewerKey, organisation_id: int) -> int:
    return int(await conn.fetchval(API_TOKENS_COUNT, organisation_id, *viewer))


async def insert_api_token(
    conn: Conn, *, county_id: int, organisation_id: int, name: str, token_hash: str, created_by: int
) -> ApiTokenRow:
    row = await conn.fetchrow(INSERT_API_TOKEN, county_id, organisation_id, name, token_hash, created_by)
    assert row is not None
    return ApiTokenRow(**dict(row))


async def api_tokens_by_id(conn: Conn, ids: list[int]) -> dict[int, ApiTokenRow]:
    return {r["id"]: ApiTokenRow(**dict(r)) for r in await conn.fetch(API_TOKENS_BY_ID, ids)}


async def visible_api_tokens_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, ApiTokenRow]:
    return {r["id"]: ApiTokenRow(**dict(r)) for r in await conn.fetch(VISIBLE_API_TOKENS_BY_ID, ids, *viewer)}


async def api_token_for_update(conn: Conn, token_id: int, viewer: ViewerKey) -> ApiTokenRow | None:
    row = await conn.fetchrow(API_TOKEN_FOR_UPDATE, token_id, *viewer)
    return None if row is None else ApiTokenRow(**dict(row))


async def revoke_api_token(conn: Conn, token_id: int) -> ApiTokenRow | None:
    row = await conn.fetchrow(REVOKE_API_TOKEN, token_id)
    return None if row is None else ApiTokenRow(**dict(row))


# --- administration (the `gongjian user` command) -----------------------------------------

INSERT_USER: Final = """
INSERT INTO users (county_id, username, password_hash, person_id) VALUES ($1, $2, $3, $4) RETURNING id
"""
SET_PASSWORD: Final = """
UPDATE users SET password_hash = $2, token_generation = token_generation + 1
WHERE lower(username) = lower($1) RETURNING id
"""  # noqa: S105 - SQL
SET_DISABLED: Final = """
UPDATE users SET disabled = $2, token_generation = token_generation + 1
WHERE lower(username) = lower($1) RETURNING id
"""
USER_ID_BY_USERNAME: Final = "SELECT id, county_id FROM users WHERE lower(username) = lower($1)"
INSERT_GRANT: Final = """
INSERT INTO role_grants (county_id, user_id, role, area_id, organisation_id) VALUES ($1, $2, $3, $4, $5)
RETURNING id
"""
DELETE_GRANT: Final = """
DELETE FROM role_grants
WHERE user_id = $1 AND role = $2 AND coalesce(area_id, 0) = coalesce($3, 0)
  AND coalesce(organisation_id, 0) = coalesce($4, 0)
RETURNING id
"""
LIST_USERS: Final = """
SELECT u.username, u.disabled, p.name AS person,
       coalesce(string_agg(g.role || ' ' || coalesce(a.name, o.name), ', ' ORDER BY g.id)
                FILTER (WHERE g.id IS NOT NULL), '') AS roles
FROM users u
LEFT JOIN persons p ON p.id = u.person_id
LEFT JOIN role_grants g ON g.user_id = u.id
LEFT JOIN areas a ON a.id = g.area_id
LEFT JOIN organisations o ON o.id = g.organisation_id
GROUP BY u.id, p.name
ORDER BY lower(u.username)
"""
COUNTY_OF_AREA: Final = "SELECT county_id FROM areas WHERE id = $1"
COUNTY_OF_ORGANISATION: Final = "SELECT county_id FROM organisations WHERE id = $1"
COUNTY_OF_PERSON: Final = "SELECT county_id FROM persons WHERE id = $1"
COUNTIES: Final = "SELECT id FROM areas WHERE level = 'COUNTY' ORDER BY id"


async def insert_user(conn: Conn, county_id: int, username: str, password_hash: str, person_id: int | None) -> int:
    return int(await conn.fetchval(INSERT_USER, county_id, username, password_hash, person_id))


async def set_password(conn: Conn, username: str, password_hash: str) -> int | None:
    value = await conn.fetchval(SET_PASSWORD, username, password_hash)
    return None if value is None else int(value)


async def set_disabled(conn: Conn, username: str, disabled: bool) -> int | None:
    value = await conn.fetchval(SET_DISABLED, username, disabled)
    return None if value is None else int(value)


async def user_by_username(conn: Conn, username: str) -> tuple[int, int] | None:
    row = await conn.fetchrow(USER_ID_BY_USERNAME, username)
    return None if row is None else (int(row["id"]), int(row["county_id"]))


async def insert_grant(
    conn: Conn, county_id: int, user_id: int, role: str, area_id: int | None, organisation_id: int | None
) -> int:
    return int(await conn.fetchval(INSERT_GRANT, county_id, user_id, role, area_id, organisation_id))


async def delete_grant(
    conn: Conn, user_id: int, role: str, area_id: int | None, organisation_id: int | None
) -> int | None:
    value = await conn.fetchval(DELETE_GRANT, user_id, role, area_id, organisation_id)
    return None if value is None else int(value)


async def list_users(conn: Conn) -> list[tuple[str, bool, str | None, str]]:
    return [(r["username"], r["disabled"], r["person"], r["roles"]) for r in await conn.fetch(LIST_USERS)]


async def county_of(conn: Conn, kind: str, pk: int) -> int | None:
    query = {"area": COUNTY_OF_AREA, "organisation": COUNTY_OF_ORGANISATION, "person": COUNTY_OF_PERSON}[kind]
    value = await conn.fetchval(query, pk)
    return None if value is None else int(value)


async def counties(conn: Conn) -> list[int]:
    return [int(r["id"]) for r in await conn.fetch(COUNTIES)]
