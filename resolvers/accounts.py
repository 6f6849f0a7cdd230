"""User and role management for admin tooling: who may list, create, grant, revoke, disable.

- COUNTY_ADMIN manages every account of the county and grants any role in it;
- COMMUNITY_STAFF manage the accounts of people living in their scope and grant RESIDENT on
  areas in their scope (the only role they could grant themselves: BUILDING_HEAD follows
  the building's responsible person, see `assignResponsible`, and is never granted by hand);
- nobody grants a role or scope they could not grant themselves (FORBIDDEN), nobody changes
  their own account (FORBIDDEN), and a staff member cannot touch an account holding more than
  they could grant (a county admin who lives in their community, say).

Who may see which accounts is one SQL rule (`db/accounts.py`, VISIBLE_USER); who manages
which are the SQL rules of 0027_accounts_and_attachments.sql, run by the statement that reads
(and locks) the account a mutation changes. Every change is
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
from db.areas import AreaRow, OrganisationRow, like_pattern
from db.identity import UserRow
from db.pool import Conn
from gongjian import passwords, tokens
from gongjian.tokens import bearer, secrets_of
from resolvers import ids
from resolvers.access import viewer_key
from resolvers.context import Context, viewer_of
from resolvers.errors import ErrorCode, Refusal, bad_user_input, forbidden, unauthenticated
from resolvers.mutations import Audited, Outcome, run
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows
from resolvers.viewer import Role, Viewer

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
ORGANISATION_ROLES = frozenset({Role.UNIT_ADMIN, Role.CADRE})
# the level a role's area scope must have (RESIDENT: any area holding the person's household)
SCOPE_LEVELS = {Role.COUNTY_ADMIN: "COUNTY", Role.COMMUNITY_STAFF: "COMMUNITY"}


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
        viewer=viewer_key(viewer),
        pattern=like_pattern(text) if text else None,
        role=role,
    )
    async with ctx.db.connection() as conn:
        rows = await db.users_page(conn, scope, after_id, limit + 1)
    if rows is None:  # the rule `account_manager`
        raise forbidden()

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.users_count(conn, scope)

    return page_from_rows(rows, limit, lambda r: [r.id], count)


# --- rules ---------------------------------------------------------------------------------
# Who manages which account is SQL (0027_accounts_and_attachments.sql): `account_manager`,
# `creates_account_for`, `manages_account` and `may_grant`, each answered by the statement that
# reads the mutation's target. Python refuses in the order the checks always ran.

NOT_A_MANAGER = "Only the county admin and community staff manage accounts"
STAFF_CREATE = "Staff create accounts for people living in their scope"


@dataclass(frozen=True)
class Scope:
    area: AreaRow | None
    organisation: OrganisationRow | None
    grants: bool  # the viewer grants the role there (`may_grant`)
    home: bool  # an area where the account's person lives

    @property
    def area_id(self) -> int | None:
        return self.area.id if self.area else None

    @property
    def organisation_id(self) -> int | None:
        return self.organisation.id if self.organisation else None


async def _scope(conn: Conn, viewer: Viewer, role: Role, scope_id: str, person_id: int | None) -> Scope:
    """The role's scope, in the viewer's county: an organisation for UNIT_ADMIN and CADRE,
    an area of the right level for the others (NOT_FOUND / INVALID on ["scopeId"])."""
    decoded = ids.decode(scope_id)
    if decoded is None:
        raise Refusal(ErrorCode.NOT_FOUND, "No such area or organisation", ["scopeId"])
    type_name, pk = decoded
    if role in ORGANISATION_ROLES:
        org = (
            await db.grantable_organisation(conn, pk, role.value, viewer_key(viewer))
            if type_name == "Organisation"
            else None
        )
        if org is None:
            raise Refusal(ErrorCode.NOT_FOUND, f"{role.value} is granted in an organisation of the county", ["scopeId"])
        return Scope(None, org[0], org[1], False)
    area = (
        await db.grantable_area(conn, pk, role.value, person_id, viewer_key(viewer))
        if type_name in ids.AREA_TYPES.values()
        else None
    )
    if area is None:
        raise Refusal(ErrorCode.NOT_FOUND, f"{role.value} is granted in an area of the county", ["scopeId"])
    level = SCOPE_LEVELS.get(role)
    if level is not None and area[0].level != level:
        raise Refusal(ErrorCode.INVALID, f"{role.value} is granted in a {level.lower()}", ["scopeId"])
    return Scope(area[0], None, area[1], area[2])


def _may_grant(role: Role, scope: Scope) -> None:
    """BUILDING_HEAD is never granted by hand; otherwise the rule `may_grant`."""
    if role is Role.BUILDING_HEAD:
        raise Refusal(
            ErrorCode.INVALID,
            "BUILDING_HEAD follows the building's responsible person: assign the building's head instead",
            ["role"],
        )
    if not scope.grants:
        raise Refusal(ErrorCode.FORBIDDEN, "Staff grant RESIDENT on areas in their scope only", ["role"])


def _fits(role: Role, scope: Scope, person_id: int | None) -> None:
    """A RESIDENT lives inside the scope; a CADRE is a person."""
    if role is Role.RESIDENT and not scope.home:
        raise Refusal(ErrorCode.INVALID, "RESIDENT is granted where the account's person lives", ["scopeId"])
    if role is Role.CADRE and person_id is None:
        raise Refusal(ErrorCode.INVALID, "A CADRE account belongs to a person", ["role"])


async def _managed(conn: Conn, viewer: Viewer, user_id: str) -> db.ManagedUser:
    """The account the mutation changes, locked, under the rule `manages_account`."""
    pk = ids.decode_as(user_id, "User")
    user = await db.managed_user(conn, pk, viewer_key(viewer))
    if not user.manager:
        raise Refusal(ErrorCode.FORBIDDEN, NOT_A_MANAGER)
    if user.id is None:
        raise Refusal(ErrorCode.NOT_FOUND, "No such user", ["userId"])
    if not user.manages:
        if user.own:
            message = "Nobody changes their own account's roles"
        elif not user.lives_in_scope:
            message = "Staff manage the accounts of people living in their scope"
        else:
            message = "This account holds roles beyond what staff grant"
        raise Refusal(ErrorCode.FORBIDDEN, message, ["userId"])
    return user


async def _changed(conn: Conn, user_id: int) -> UserRow:
    changed = await db.user_with_grants(conn, user_id)
    assert changed is not None
    return changed


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
        pk = ids.decode_as(person_id, "Person") if person_id is not None else None
        given = await db.account_for(conn, pk, viewer_key(viewer))
        if not given.manager:
            raise Refusal(ErrorCode.FORBIDDEN, NOT_A_MANAGER)
        if not USERNAME.match(name):
            raise Refusal(ErrorCode.INVALID, "A username has 2 to 64 letters, digits or . _ @ -", ["username"])
        if person_id is not None and given.person_id is None:
            raise Refusal(ErrorCode.NOT_FOUND, "No such person", ["personId"])
        if not given.creates:
            raise Refusal(ErrorCode.FORBIDDEN, STAFF_CREATE, ["personId"])
        person = given.person_id
        scope = await _scope(conn, viewer, role, scope_id, person)
        _may_grant(role, scope)
        _fits(role, scope, person)
        try:
            async with conn.transaction():
                user_id = await db.insert_account(conn, viewer.county_id, name, hashed, person)
        except asyncpg.UniqueViolationError as clash:
            if clash.constraint_name == "users_unique_person":
                raise Refusal(ErrorCode.ALREADY_EXISTS, "This person already has an account", ["personId"]) from None
            raise Refusal(ErrorCode.ALREADY_EXISTS, "This username is taken", ["username"]) from None
        await db.insert_grant(conn, viewer.county_id, user_id, role.value, scope.area_id, scope.organisation_id)
        user = await _changed(conn, user_id)
        detail = {"username": name, **_scope_detail(role, scope)}
        return NewUser(user, initial), Audited("User", user_id, detail)

    return await run(ctx, "createUser", body)


async def grant_role(ctx: Context, user_id: str, role: Role, scope_id: str) -> Outcome[UserRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[UserRow, Audited]:
        user = await _managed(conn, viewer, user_id)
        assert user.id is not None
        scope = await _scope(conn, viewer, role, scope_id, user.person_id)
        _may_grant(role, scope)
        _fits(role, scope, user.person_id)
        try:
            async with conn.transaction():
                await db.insert_grant(conn, viewer.county_id, user.id, role.value, scope.area_id, scope.organisation_id)
        except asyncpg.UniqueViolationError:
            raise Refusal(ErrorCode.ALREADY_EXISTS, "The user already holds this role there", ["role"]) from None
        return await _changed(conn, user.id), Audited("User", user.id, _scope_detail(role, scope))

    return await run(ctx, "grantRole", body)


async def revoke_role(ctx: Context, user_id: str, role: Role, scope_id: str) -> Outcome[UserRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[UserRow, Audited]:
        user = await _managed(conn, viewer, user_id)
        assert user.id is not None
        scope = await _scope(conn, viewer, role, scope_id, user.person_id)
        _may_grant(role, scope)
        if not await db.delete_grant(conn, user.id, role.value, scope.area_id, scope.organisation_id):
            raise Refusal(ErrorCode.NOT_FOUND, "The user does not hold this role there", ["role"])
        return await _changed(conn, user.id), Audited("User", user.id, _scope_detail(role, scope))

    return await run(ctx, "revokeRole", body)


async def disable_user(ctx: Context, user_id: str) -> Outcome[UserRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[UserRow, Audited]:
        user = await _managed(conn, viewer, user_id)
        assert user.id is not None
        if not await db.disable_user(conn, user.id):
            raise Refusal(ErrorCode.INVALID_STATE, "This account is already disabled", ["userId"])
        return await _changed(conn, user.id), Audited("User", user.id, {"username": user.username})

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
    # argon2 checks the current password before the transaction (it takes tens of
    # milliseconds: no connection or row lock is held meanwhile); the transaction then
    # requires the stored hash to be still the one checked
    verified: str | None = None
    if not first_sign_in:
        async with ctx.db.connection() as conn:
            known = await db.credentials_of(conn, account.id)
        if known is not None and await passwords.verify_password_async(known[0], (current or "")[:MAX_PASSWORD]):
            verified = known[0]

    async def body(conn: Conn) -> tuple[PasswordChanged, Audited]:
        user = await db.lock_user(conn, account.id)
        found = await db.credentials_of(conn, account.id)
        if user is None or found is None or found[1]:
            raise Refusal(ErrorCode.INVALID_CREDENTIALS, "This account cannot sign in")
        if not first_sign_in and found[0] != verified:  # wrong, or changed since it was checked
            raise Refusal(ErrorCode.INVALID_CREDENTIALS, "The current password is wrong", ["currentPassword"])
        generation = await db.change_password(conn, user.id, hashed)
        assert ctx.settings.secret is not None, "the signing secret is set at start-up"
        token, expires = tokens.sign(
            ctx.settings.secret, user.id, ctx.settings.token_hours * 3600, generation=generation
        )
        return PasswordChanged(token, expires), Audited("User", user.id, {"firstSignIn": first_sign_in})

    return await run(ctx, "changePassword", body)
