"""User and role management for admin tooling (accounts), as SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from db.access import ViewerKey
from db.identity import USER_WITH_GRANTS, UserRow, user_row
from db.pool import Conn

# Whose accounts a viewer may list and manage: the SQL rule `user_access` (0021_node_rules.sql)
# over `u` and the viewer `v` = `viewer_of($1 user, $2 API token)`; `users` lists every
# account the rule grants but the viewer's own (SELF), node(User) opens all it grants.
VISIBLE_USER: Final = "user_access(u, v) <> 'SELF'"

# node(User): which of the users $3 the viewer sees.
VISIBLE_USERS: Final = """
SELECT u.id FROM users u, viewer_of($1, $2) v WHERE u.id = ANY($3::bigint[]) AND user_access(u, v) IS NOT NULL
"""


async def visible_users(conn: Conn, viewer: ViewerKey, ids: list[int]) -> set[int]:
    return {r["id"] for r in await conn.fetch(VISIBLE_USERS, *viewer, ids)}


# $3 pattern on the username or the person's name (or null), $4 a role the user holds (or null)
_USERS_WHERE: Final = f"""
CROSS JOIN viewer_of($1, $2) v
WHERE {VISIBLE_USER}
  AND ($3::text IS NULL OR u.username ILIKE $3
       OR EXISTS (SELECT 1 FROM persons pn WHERE pn.id = u.person_id AND pn.name ILIKE $3))
  AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM role_grants rg WHERE rg.user_id = u.id AND rg.role = $4))
"""  # noqa: S608 - constant SQL fragments
USERS_PAGE: Final = f"""
{USER_WITH_GRANTS}
{_USERS_WHERE} AND u.id > $5
GROUP BY u.id, p.household_id
ORDER BY u.id LIMIT $6
"""
USERS_COUNT: Final = f"SELECT count(*) FROM users u {_USERS_WHERE}"  # noqa: S608 - constant SQL fragments


@dataclass(frozen=True)
class UserScope:
    viewer: ViewerKey
    pattern: str | None
    role: str | None

    def params(self) -> tuple[Any, ...]:
        return (*self.viewer, self.pattern, self.role)


async def users_page(conn: Conn, scope: UserScope, after: int, limit: int) -> list[UserRow]:
    return [user_row(r) for r in await conn.fetch(USERS_PAGE, *scope.params(), after, limit)]


async def users_count(conn: Conn, scope: UserScope) -> int:
    return int(await conn.fetchval(USERS_COUNT, *scope.params()))


# --- changes ---------------------------------------------------------------------------------

LOCK_USER: Final = USER_WITH_GRANTS + "WHERE u.id = $1 GROUP BY u.id, p.household_id"
LOCK_USER_ROW: Final = "SELECT id FROM users WHERE id = $1 FOR UPDATE"
# the building path of where a person lives (null without a household)
HOME_PATH: Final = """
SELECT b.path FROM persons pe JOIN households hh ON hh.id = pe.household_id JOIN areas b ON b.id = hh.building_id
WHERE pe.id = $1
"""
INSERT_ACCOUNT: Final = """
INSERT INTO users (county_id, username, password_hash, person_id, must_change_password)
VALUES ($1, $2, $3, $4, true) RETURNING id
"""
INSERT_GRANT: Final = """
INSERT INTO role_grants (county_id, user_id, role, area_id, organisation_id) VALUES ($1, $2, $3, $4, $5)
"""
DELETE_GRANT: Final = """
DELETE FROM role_grants
WHERE user_id = $1 AND role = $2 AND area_id IS NOT DISTINCT FROM $3 AND organisation_id IS NOT DISTINCT FROM $4
"""
# disabling, like a password change, moves the token generation on: the account's tokens end
DISABLE_USER: Final = (
    "UPDATE users SET disabled = true, token_generation = token_generation + 1 WHERE id = $1 AND NOT disabled"
)
CHANGE_PASSWORD: Final = """
UPDATE users SET password_hash = $2, must_change_password = false, token_generation = token_generation + 1
WHERE id = $1 RETURNING token_generation
"""  # noqa: S105 - SQL


async def lock_user(conn: Conn, user_id: int) -> UserRow | None:
    """The user (with its grants), its row locked until the transaction ends."""
    if await conn.fetchval(LOCK_USER_ROW, user_id) is None:
        return None
    row = await conn.fetchrow(LOCK_USER, user_id)
    return None if row is None else user_row(row)


async def home_path(conn: Conn, person_id: int) -> list[int] | None:
    value = await conn.fetchval(HOME_PATH, person_id)
    return None if value is None else list(value)


async def insert_account(conn: Conn, county_id: int, username: str, password_hash: str, person_id: int | None) -> int:
    return int(await conn.fetchval(INSERT_ACCOUNT, county_id, username, password_hash, person_id))


async def insert_grant(
    conn: Conn, county_id: int, user_id: int, role: str, area_id: int | None, organisation_id: int | None
) -> None:
    await conn.execute(INSERT_GRANT, county_id, user_id, role, area_id, organisation_id)


async def delete_grant(conn: Conn, user_id: int, role: str, area_id: int | None, organisation_id: int | None) -> bool:
    return await conn.execute(DELETE_GRANT, user_id, role, area_id, organisation_id) == "DELETE 1"


async def disable_user(conn: Conn, user_id: int) -> bool:
    return await conn.execute(DISABLE_USER, user_id) == "UPDATE 1"


async def change_password(conn: Conn, user_id: int, password_hash: str) -> int:
    """Set the password; the account's earlier tokens end. The new token generation."""
    return int(await conn.fetchval(CHANGE_PASSWORD, user_id, password_hash))


CREDENTIALS_OF: Final = "SELECT password_hash, disabled FROM users WHERE id = $1"


async def credentials_of(conn: Conn, user_id: int) -> tuple[str, bool] | None:
    row = await conn.fetchrow(CREDENTIALS_OF, user_id)
    return None if row is None else (str(row["password_hash"]), bool(row["disabled"]))
