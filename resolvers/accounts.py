"""User and role management for admin tooling: who may list, create, grant, revoke, disable.

- COUNTY_ADMIN manages every account of the county and grants any role in it;
- COMMUNITY_STAFF manage the accounts of people living in their scope and grant RESIDENT on
  areas in their scope (the only role they could grant themselves: BUILDING_HEAD follows
  the building's responsible person, see `assignResponsible`, and is never granted by hand);
- nobody grants a role or scope they could not grant themselves (FORBIDDEN), nobody changes
  their own account (FORBIDDEN), and a staff member cannot touch an account holding more than
  they could grant (a county admin who lives in their community, say).

Who may see which accounts is one SQL rule (`db/accounts.py`, VISIBLE_USER). Every change is
one transaction with an audit row; revocations and disabling take effect on the next request
(the viewer and its grants are read per request, and per event on a subscription).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import asyncpg

from db import accounts as db
from db import identity as identity_db
from db.areas import AreaRow, OrganisationRow, areas_by_id, like_pattern, organisations_by_id, persons_by_id
from db.identity import UserRow
from db.pool import Conn
from gongjian import passwords, tokens
from gongjian.tokens import bearer, secrets_of
from resolvers import ids
from resolvers.context import Context, viewer_of
from resolvers.errors import ErrorCode, Refusal, bad_user_input, unauthenticated
from resolvers.mutations import Audited, Outcome, run
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows
from resolvers.viewer import Role, Viewer

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
ORGANISATION_ROLES = frozenset({Role.UNIT_ADMIN, Role.CADRE})
# the level a role's area scope must have (RESIDENT: any area holding the person's household)
SCOPE_LEVELS = {Role.COUNTY_ADMIN: "COUNTY", Role.COMMUNITY_STAFF: "COMMUNITY"}
# what staff may grant: RESIDENT (BUILDING_HEAD only follows assignResponsible)
STAFF_GRANTS = frozenset({Role.RESIDENT, Role.BUILDING_HEAD})


# --- listing -------------------------------------------------------------------------------


async def user_list(
    ctx: Context, search: str | None, role: str | None, first: int | None, after: str | None
) -> Page[UserRow]:
    viewer = ctx.signed_in
    limit = checked_first(first)
    after_id = decode_id_cursor(after) or 0
    text = (search or "").strip()
    if len(text) > 100 or "\x00" in text:
        raise bad_user_input("`search` holds at most 100 characters", argument="search")
    scope = db.UserScope(
        county_id=viewer.county_id,
        everything=viewer.is_county_admin,
        staff_areas=viewer.area_scopes(Role.COMMUNITY_STAFF),
        pattern=like_pattern(text) if text else None,
        role=role,
    )
    async with ctx.db.connection() as conn:
        rows = await db.users_page(conn, scope, after_id, limit + 1)

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.users_count(conn, scope)

    return page_from_rows(rows, limit, lambda r: [r.id], count)


# --- rules ---------------------------------------------------------------------------------


def _require_manager(viewer: Viewer) -> None:
    if viewer.api_token_id is not None or not (viewer.is_county_admin or viewer.has(Role.COMMUNITY_STAFF)):
        raise Refusal(ErrorCode.FORBIDDEN, "Only the county admin and community staff manage accounts")


def _staff_covers(viewer: Viewer, path: list[int] | None) -> bool:
    return path is not None and viewer.covers(path, Role.COMMUNITY_STAFF)


@dataclass(frozen=True)
class Scope:
    area: AreaRow | None
    organisation: OrganisationRow | None

    @property
    def area_id(self) -> int | None:
        return self.area.id if self.area else None

    @property
    def organisation_id(self) -> int | None:
        return self.organisation.id if self.organisation else None


async def _scope(conn: Conn, viewer: Viewer, role: Role, scope_id: str) -> Scope:
    """The role's scope, in the viewer's county: an organisation for UNIT_ADMIN and CADRE,
    an area of the right level for the others (NOT_FOUND / INVALID on ["scopeId"])."""
    decoded = ids.decode(scope_id)
    if decoded is None:
        raise Refusal(ErrorCode.NOT_FOUND, "No such area or organisation", ["scopeId"])
    type_name, pk = decoded
    if role in ORGANISATION_ROLES:
        org = (await organisations_by_id(conn, [pk])).get(pk) if type_name == "Organisation" else None
        if org is None or org.county_id != viewer.county_id:
            raise Refusal(ErrorCode.NOT_FOUND, f"{role.value} is granted in an organisation of the county", ["scopeId"])
        return Scope(None, org)
    area = (await areas_by_id(conn, [pk])).get(pk) if type_name in ids.AREA_TYPES.values() else None
    if area is None or area.county_id != viewer.county_id:
        raise Refusal(ErrorCode.NOT_FOUND, f"{role.value} is granted in an area of the county", ["scopeId"])
    level = SCOPE_LEVELS.get(role)
    if level is not None and area.level != level:
        raise Refusal(ErrorCode.INVALID, f"{role.value} is granted in a {level.lower()}", ["scopeId"])
    return Scope(area, None)


def _may_grant(viewer: Viewer, role: Role, scope: Scope) -> None:
    """BUILDING_HEAD is never granted by hand; staff grant what they could grant themselves."""
    if role is Role.BUILDING_HEAD:
        raise Refusal(
            ErrorCode.INVALID,
            "BUILDING_HEAD follows the building's responsible person: assign the building's head instead",
            ["role"],
        )
    if viewer.is_county_admin:
        return
    if role not in STAFF_GRANTS or scope.area is None or not _staff_covers(viewer, scope.area.path):
        raise Refusal(ErrorCode.FORBIDDEN, "Staff grant RESIDENT on areas in their scope only", ["role"])


async def _may_manage(conn: Conn, viewer: Viewer, user: UserRow) -> None:
    """Another account of the county; for staff, of a person living in their scope holding
    nothing staff could not grant."""
    if user.id == viewer.user_id:
        raise Refusal(ErrorCode.FORBIDDEN, "Nobody changes their own account's roles", ["userId"])
    if viewer.is_county_admin:
        return
    home = await db.home_path(conn, user.person_id) if user.person_id is not None else None
    if not _staff_covers(viewer, home):
        raise Refusal(ErrorCode.FORBIDDEN, "Staff manage the accounts of people living in their scope", ["userId"])
    areas = await areas_by_id(conn, [g.area_id for g in user.grants if g.area_id is not None])
    for g in user.grants:
        area = areas.get(g.area_id) if g.area_id is not None else None
        if Role(g.role) not in STAFF_GRANTS or area is None or not _staff_covers(viewer, area.path):
            raise Refusal(ErrorCode.FORBIDDEN, "This account holds roles beyond what staff grant", ["userId"])


async def _fits(conn: Conn, role: Role, scope: Scope, person_id: int | None) -> None:
    """A RESIDENT lives inside the scope; a CADRE is a person."""
    if role is Role.RESIDENT:
        home = await db.home_path(conn, person_id) if person_id is not None else None
        if home is None or scope.area is None or scope.area.id not in home:
            raise Refusal(ErrorCode.INVALID, "RESIDENT is granted where the account's person lives", ["scopeId"])
    if role is Role.CADRE and person_id is None:
        raise Refusal(ErrorCode.INVALID, "A CADRE account belongs to a person", ["role"])


async def _user(conn: Conn, viewer: Viewer, user_id: str) -> UserRow:
    pk = ids.decode_as(user_id, "User")
    user = await db.lock_user(conn, pk) if pk is not None else None
    if user is None or user.county_id != viewer.county_id:
        raise Refusal(ErrorCode.NOT_FOUND, "No such user", ["userId"])
    return user


def _scope_detail(role: Role, scope: Scope) -> dict[str, object]:
    scope_id = (
        ids.encode("Organisation", scope.organisation.id)
        if scope.organisation
        else ids.encode(ids.AREA_TYPES[scope.area.level], scope.area.id)
        if scope.area
        else None
    )
    return {"role": role.value, "scope": scope_id}


# --- mutations -----------------------------------------------------------------------------


STAFF_CREATE = "Staff create accounts for people living in their scope"


@dataclass(frozen=True)
class NewUser:
    user: UserRow
    initial_password: str


async def create_user(
    ctx: Context, username: str, person_id: str | None, role: Role, scope_id: str
) -> Outcome[NewUser]:
    viewer = ctx.signed_in
    name = username.strip()
    initial = secrets.token_urlsafe(12)
    hashed = await passwords.hash_password_async(initial)

    async def body(conn: Conn) -> tuple[NewUser, Audited]:
        _require_manager(viewer)
        if not USERNAME.match(name):
            raise Refusal(ErrorCode.INVALID, "A username has 2 to 64 letters, digits or . _ @ -", ["username"])
        person: int | None = None
        if person_id is not None:
            pk = ids.decode_as(person_id, "Person")
            found = (await persons_by_id(conn, [pk])).get(pk) if pk is not None else None
            if found is None or found.county_id != viewer.county_id:
                raise Refusal(ErrorCode.NOT_FOUND, "No such person", ["personId"])
            person = found.id
            if not viewer.is_county_admin and not _staff_covers(viewer, await db.home_path(conn, person)):
                raise Refusal(
                    ErrorCode.FORBIDDEN, "Staff create accounts for people living in their scope", ["personId"]
                )
        elif not viewer.is_county_admin:
            raise Refusal(ErrorCode.FORBIDDEN, "Staff create accounts for people living in their scope", ["personId"])
        scope = await _scope(conn, viewer, role, scope_id)
        _may_grant(viewer, role, scope)
        await _fits(conn, role, scope, person)
        try:
            async with conn.transaction():
                user_id = await db.insert_account(conn, viewer.county_id, name, hashed, person)
        except asyncpg.UniqueViolationError as clash:
            if clash.constraint_name == "users_unique_person":
                raise Refusal(ErrorCode.ALREADY_EXISTS, "This person already has an account", ["personId"]) from None
            raise Refusal(ErrorCode.ALREADY_EXISTS, "This username is taken", ["username"]) from None
        await db.insert_grant(conn, viewer.county_id, user_id, role.value, scope.area_id, scope.organisation_id)
        user = await db.lock_user(conn, user_id)
        assert user is not None
        detail = {"username": name, **_scope_detail(role, scope)}
        return NewUser(user, initial), Audited("User", user_id, detail)

    return await run(ctx, "createUser", body)


async def grant_role(ctx: Context, user_id: str, role: Role, scope_id: str) -> Outcome[UserRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[UserRow, Audited]:
        _require_manager(viewer)
        user = await _user(conn, viewer, user_id)
        await _may_manage(conn, viewer, user)
        scope = await _scope(conn, viewer, role, scope_id)
        _may_grant(viewer, role, scope)
        await _fits(conn, role, scope, user.person_id)
        try:
            async with conn.transaction():
                await db.insert_grant(conn, viewer.county_id, user.id, role.value, scope.area_id, scope.organisation_id)
        except asyncpg.UniqueViolationError:
            raise Refusal(ErrorCode.ALREADY_EXISTS, "The user already holds this role there", ["role"]) from None
        changed = await db.lock_user(conn, user.id)
        assert changed is not None
        return changed, Audited("User", user.id, _scope_detail(role, scope))

    return await run(ctx, "grantRole", body)


async def revoke_role(ctx: Context, user_id: str, role: Role, scope_id: str) -> Outcome[UserRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[UserRow, Audited]:
        _require_manager(viewer)
        user = await _user(conn, viewer, user_id)
        await _may_manage(conn, viewer, user)
        scope = await _scope(conn, viewer, role, scope_id)
        _may_grant(viewer, role, scope)
        if not await db.delete_grant(conn, user.id, role.value, scope.area_id, scope.organisation_id):
            raise Refusal(ErrorCode.NOT_FOUND, "The user does not hold this role there", ["role"])
        changed = await db.lock_user(conn, user.id)
        assert changed is not None
        return changed, Audited("User", user.id, _scope_detail(role, scope))

    return await run(ctx, "revokeRole", body)


async def disable_user(ctx: Context, user_id: str) -> Outcome[UserRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[UserRow, Audited]:
        _require_manager(viewer)
        user = await _user(conn, viewer, user_id)
        await _may_manage(conn, viewer, user)
        if not await db.disable_user(conn, user.id):
            raise Refusal(ErrorCode.INVALID_STATE, "This account is already disabled", ["userId"])
        changed = await db.lock_user(conn, user.id)
        assert changed is not None
        return changed, Audited("User", user.id, {"username": user.username})

    return await run(ctx, "disableUser", body)


# --- changing one's password -----------------------------------------------------------------


@dataclass(frozen=True)
class PasswordChanged:
    token: str
    expires_at: int


async def change_password(ctx: Context, current: str | None, new: str) -> Outcome[PasswordChanged]:
    """With the password-change token of a first sign-in, or with an ordinary token and the
    current password. Answers an ordinary token for the account."""
    header = ctx.request.headers.get("authorization") if ctx.request is not None else None
    raw = bearer(header)
    claims = tokens.verify(secrets_of(ctx.settings), raw) if raw and raw.isascii() else None
    if claims is None or (claims.purpose not in (None, tokens.PASSWORD_CHANGE)):
        raise unauthenticated()
    async with ctx.db.connection() as conn:
        account = await identity_db.user_with_grants(conn, claims.user_id, claims.generation)  # not a disabled one
    if account is None:
        raise unauthenticated()
    ctx.viewer = viewer_of(account)  # the audit row names the account
    first_sign_in = claims.purpose == tokens.PASSWORD_CHANGE
    if len(new) < MIN_PASSWORD or len(new) > MAX_PASSWORD or "\x00" in new:
        return Outcome(
            None,
            [
                Refusal(
                    ErrorCode.INVALID, f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters", ["newPassword"]
                ).errors[0]
            ],
        )
    hashed = await passwords.hash_password_async(new)

    async def body(conn: Conn) -> tuple[PasswordChanged, Audited]:
        user = await db.lock_user(conn, account.id)
        found = await db.credentials_of(conn, account.id)
        if user is None or found is None or found[1]:
            raise Refusal(ErrorCode.INVALID_CREDENTIALS, "This account cannot sign in")
        if not first_sign_in and not await passwords.verify_password_async(found[0], (current or "")[:MAX_PASSWORD]):
            raise Refusal(ErrorCode.INVALID_CREDENTIALS, "The current password is wrong", ["currentPassword"])
        generation = await db.change_password(conn, user.id, hashed)
        assert ctx.settings.secret is not None, "the signing secret is set at start-up"
        token, expires = tokens.sign(
            ctx.settings.secret, user.id, ctx.settings.token_hours * 3600, generation=generation
        )
        return PasswordChanged(token, expires), Audited("User", user.id, {"firstSignIn": first_sign_in})

    return await run(ctx, "changePassword", body)
