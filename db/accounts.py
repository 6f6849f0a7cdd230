"""User and role management for admin tooling (accounts), as SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from db.access import ViewerKey
from db.areas import AREA_COLUMNS, ORGANISATION_COLUMNS, AreaRow, OrganisationRow, area_row, organisation_row
from db.identity import USER_WITH_GRANTS, UserRow, user_row
from db.pool import Conn
from db.ruled_page import allowed_rows, ruled_page

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
# The page, and whether the viewer manages accounts at all (`account_manager`).
USERS_PAGE: Final = ruled_page(
    "account_manager(viewer_of($1, $2))",
    f"{USER_WITH_GRANTS} {_USERS_WHERE} AND u.id > $5 GROUP BY u.id, p.household_id ORDER BY u.id LIMIT $6",
    "page.id",
)
USERS_COUNT: Final = f"SELECT count(*) FROM users u {_USERS_WHERE}"  # noqa: S608 - constant SQL fragments


@dataclass(frozen=True)
class UserScope:
    viewer: ViewerKey
    pattern: str | None
    role: str | None

    def params(self) -> tuple[Any, ...]:
        return (*self.viewer, self.pattern, self.role)


async def users_page(conn: Conn, scope: UserScope, after: int, limit: int) -> list[UserRow] | None:
    """A page of the accounts the viewer manages; None when they manage none (`account_manager`)."""
    rows = allowed_rows(await conn.fetch(USERS_PAGE, *scope.params(), after, limit))
    return None if rows is None else [user_row(r) for r in rows]


async def users_count(conn: Conn, scope: UserScope) -> int:
    return int(await conn.fetchval(USERS_COUNT, *scope.params()))


# --- who manages accounts: the rules of 0027_accounts_and_attachments.sql ---------------------
# Each statement takes the viewer as `viewer_of(user, API token)` and answers the rule with the
# row it reads, so that the mutation refuses in the order it always has (not a manager, no such
# target, not theirs to manage) from one round trip.

# createUser: whether the viewer manages accounts (`account_manager`), the person $1 (NULL: no
# person) if of the viewer's county, and whether the viewer creates an account for them
# (`creates_account_for`).
ACCOUNT_FOR: Final = """
SELECT account_manager(v) AS manager, p.id AS person_id, creates_account_for(p.id, v) AS creates
FROM viewer_of($2, $3) v LEFT JOIN persons p ON p.id = $1 AND p.county_id = v.county_id
"""
# grantRole, revokeRole, disableUser: whether the viewer manages accounts, the user $1 of the
# viewer's county locked (a manager's only), and whether the viewer manages it
# (`manages_account`); `own` and `lives_in_scope` only choose the refusal's words.
MANAGED_USER: Final = """
SELECT account_manager(v) AS manager, (t.u).id, (t.u).username, (t.u).person_id,
       manages_account(t.u, v) AS manages, (t.u).id = v.user_id AS own,
       staff_of_area(home_path((t.u).person_id), v) AS lives_in_scope
FROM viewer_of($2, $3) v
LEFT JOIN LATERAL (SELECT u FROM users u WHERE u.id = $1 AND u.county_id = v.county_id AND account_manager(v)
                   FOR UPDATE OF u) t ON true
"""
# A role's scope in the viewer's county, with whether the viewer grants role $2 there
# (`may_grant`), and for an area whether the person $3 lives in it (`home_path`).
GRANTABLE_AREA: Final = f"""
SELECT {AREA_COLUMNS}, may_grant($2, a.path, v) AS grants, coalesce(a.id = ANY(home_path($3)), false) AS home
FROM areas a, viewer_of($4, $5) v WHERE a.id = $1 AND a.county_id = v.county_id
"""  # noqa: S608 - constant columns
GRANTABLE_ORGANISATION: Final = f"""
SELECT {ORGANISATION_COLUMNS}, may_grant($2, NULL, v) AS grants
FROM organisations o, viewer_of($3, $4) v WHERE o.id = $1 AND o.county_id = v.county_id
"""  # noqa: S608 - constant columns


@dataclass(frozen=True)
class AccountFor:
    manager: bool
    person_id: int | None
    creates: bool


@dataclass(frozen=True)
class ManagedUser:
    manager: bool
    id: int | None
    username: str | None
    person_id: int | None
    manages: bool
    own: bool
    lives_in_scope: bool


async def account_for(conn: Conn, person_id: int | None, viewer: ViewerKey) -> AccountFor:
    r = await conn.fetchrow(ACCOUNT_FOR, person_id, *viewer)
    assert r is not None
    return AccountFor(bool(r["manager"]), r["person_id"], bool(r["creates"]))


async def managed_user(conn: Conn, user_id: int | None, viewer: ViewerKey) -> ManagedUser:
    """The user (locked) as `manages_account` sees it; `id` None: no such user for the viewer."""
    r = await conn.fetchrow(MANAGED_USER, user_id, *viewer)
    assert r is not None
    return ManagedUser(
        bool(r["manager"]),
        r["id"],
        r["username"],
        r["person_id"],
        bool(r["manages"]),
        bool(r["own"]),
        bool(r["lives_in_scope"]),
    )


async def grantable_area(
    conn: Conn, area_id: int, role: str, person_id: int | None, viewer: ViewerKey
) -> tuple[AreaRow, bool, bool] | None:
    """The area of the viewer's county, whether the viewer grants `role` there, whether the
    person lives in it."""
    r = await conn.fetchrow(GRANTABLE_AREA, area_id, role, person_id, *viewer)
    return None if r is None else (area_row(r), bool(r["grants"]), bool(r["home"]))


async def grantable_organisation(
    conn: Conn, organisation_id: int, role: str, viewer: ViewerKey
) -> tuple[OrganisationRow, bool] | None:
    """The organisation of the viewer's county, whether the viewer grants `role` in it."""
    r = await conn.fetchrow(GRANTABLE_ORGANISATION, organisation_id, role, *viewer)
    return None if r is None else (organisation_row(r), bool(r["grants"]))


# --- changes ---------------------------------------------------------------------------------

LOCK_USER: Final = USER_WITH_GRANTS + "WHERE u.id = $1 GROUP BY u.id, p.household_id"
LOCK_USER_ROW: Final = "SELECT id FROM users WHERE id = $1 FOR UPDATE"
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


async def user_with_grants(conn: Conn, user_id: int) -> UserRow | None:
    """The user with its grants (a row the transaction has locked already)."""
    row = await conn.fetchrow(LOCK_USER, user_id)
    return None if row is None else user_row(row)


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
