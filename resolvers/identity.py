"""Sign-in, the viewer, role grants with their scopes, partner API tokens and the audit log."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass

from db import accounts as accounts_db
from db import areas as areas_db
from db import audit as audit_db
from db import identity as db
from db.areas import AreaRow, OrganisationRow, PersonRow
from db.audit import AuditFilter, AuditRow
from db.identity import ApiTokenRow, GrantRow, UserRow
from db.pool import Conn
from gongjian import passwords, tokens
from resolvers import ids, nodes
from resolvers.access import viewer_key
from resolvers.context import Context, viewer_of
from resolvers.errors import ErrorCode, Refusal, UserError, bad_user_input, forbidden
from resolvers.loading import keyed
from resolvers.mutations import Audited, Outcome, run
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows
from resolvers.permissions import is_person, require
from resolvers.viewer import Role, Viewer

LOCKOUT_FAILURES = 5
LOCKOUT_MINUTES = 15
MAX_USERNAME = 64
MAX_PASSWORD = 1024
MAX_TOKEN_NAME = 100


# --- the viewer and users -----------------------------------------------------------------


def user_of(viewer: Viewer) -> UserRow:
    """The viewer as a user row: its effective grants (an API token's single UNIT_ADMIN)."""
    return UserRow(
        id=viewer.user_id,
        username=viewer.username,
        county_id=viewer.county_id,
        person_id=viewer.person_id,
        household_id=viewer.household_id,
        grants=tuple(
            GrantRow(id=g.id, role=g.role.value, area_id=g.area_id, organisation_id=g.organisation_id)
            for g in viewer.grants
        ),
        last_login_at=viewer.last_login_at,
    )


def viewer(ctx: Context) -> UserRow | None:
    return None if ctx.viewer is None else user_of(ctx.viewer)


user_by_id = keyed(db.users_by_id)


async def _user_nodes(ctx: Context, keys: list[int]) -> list[UserRow | None]:
    """A user account is visible to itself, and to whoever may list it (`users`): one SQL
    rule, `user_access`."""
    v = ctx.viewer
    if v is None:
        return [None for _ in keys]
    rows = await ctx.loader(user_by_id).load_many(keys)
    async with ctx.db.connection() as conn:
        seen = await accounts_db.visible_users(conn, viewer_key(v), [r.id for r in rows if r is not None])
    return [r if r is not None and r.id in seen else None for r in rows]


async def person_of(root: UserRow, ctx: Context) -> PersonRow | None:
    if root.person_id is None:
        return None
    from resolvers.areas import person_by_id

    return await ctx.loader(person_by_id).load(root.person_id)


@dataclass(frozen=True)
class RoleGrantValue:
    """A role in a scope, as the API shows it."""

    role: Role
    area_id: int | None
    organisation_id: int | None


@dataclass(frozen=True)
class ScopeValue:
    """The area or organisation a role is granted in."""

    type_name: str
    pk: int
    name: str


def roles_of(root: UserRow) -> list[RoleGrantValue]:
    return [RoleGrantValue(Role(g.role), g.area_id, g.organisation_id) for g in root.grants]


async def scope_of(root: RoleGrantValue, ctx: Context) -> ScopeValue:
    from resolvers.areas import AREA_TYPES, area_by_id, organisation_by_id

    if root.area_id is not None:
        area: AreaRow | None = await ctx.loader(area_by_id).load(root.area_id)
        assert area is not None, "a grant's area exists (foreign key)"
        return ScopeValue(AREA_TYPES[area.level], area.id, area.name)
    assert root.organisation_id is not None
    org: OrganisationRow | None = await ctx.loader(organisation_by_id).load(root.organisation_id)
    assert org is not None, "a grant's organisation exists (foreign key)"
    return ScopeValue("Organisation", org.id, org.name)


async def scope_area(root: ScopeValue, ctx: Context) -> AreaRow | None:
    if root.type_name == "Organisation":
        return None
    from resolvers.areas import area_by_id

    return await ctx.loader(area_by_id).load(root.pk)


async def scope_organisation(root: ScopeValue, ctx: Context) -> OrganisationRow | None:
    if root.type_name != "Organisation":
        return None
    from resolvers.areas import organisation_by_id

    return await ctx.loader(organisation_by_id).load(root.pk)


# --- login --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    token: str | None
    expires_at: datetime.datetime | None
    viewer: UserRow | None
    user_errors: list[UserError]


def _invalid() -> LoginResult:
    error = UserError(message="Unknown username or wrong password", code=ErrorCode.INVALID_CREDENTIALS)
    return LoginResult(None, None, None, [error])


async def _audit_login(ctx: Context, conn: Conn, user: db.Credentials, action: str) -> None:
    await audit_db.record(
        conn,
        county_id=user.county_id,
        user_id=user.id,
        api_token_id=None,
        action=action,
        target_type="User",
        target_id=user.id,
        request_id=ctx.request_id,
        detail={},
    )


PASSWORD_CHANGE_MINUTES = 15


def _password_change_required(ctx: Context, user_id: int, generation: int) -> LoginResult:
    """A first sign-in with the one-time password: a short token that only `changePassword` takes."""
    assert ctx.settings.secret is not None, "the signing secret is set at start-up"
    token, expires = tokens.sign(
        ctx.settings.secret,
        user_id,
        PASSWORD_CHANGE_MINUTES * 60,
        generation=generation,
        purpose=tokens.PASSWORD_CHANGE,
    )
    error = UserError(
        message="Choose a new password first: this token only changes it (changePassword)",
        code=ErrorCode.PASSWORD_CHANGE_REQUIRED,
    )
    return LoginResult(token, datetime.datetime.fromtimestamp(expires, tz=datetime.UTC), None, [error])


async def login(ctx: Context, username: str, password: str) -> LoginResult:
    """Check the password; count failures per username in PostgreSQL and lock out after
    LOCKOUT_FAILURES within LOCKOUT_MINUTES. An unknown username costs the same argon2
    check as a wrong password and gets the same answer.

    argon2 runs between two short transactions, holding no connection and no lock (a
    flood of sign-ins would otherwise starve the pool). The first transaction, under the
    username's lock, counts the recent failures and records this attempt as one; the
    second clears them if the password was right. So concurrent guesses still cannot get
    past the limit: each is counted before it is checked."""
    name = username.strip()
    if "\x00" in name or len(name) > MAX_USERNAME:  # no such username can exist: unknown, at equal cost
        await passwords.verify_password_async(None, password[:MAX_PASSWORD])
        return _invalid()
    async with ctx.db.transaction() as conn:
        await db.lock_username(conn, name)
        await db.forget_old_failures(conn, LOCKOUT_MINUTES)
        if await db.recent_failures(conn, name, LOCKOUT_MINUTES) >= LOCKOUT_FAILURES:
            return LoginResult(
                None,
                None,
                None,
                [
                    UserError(
                        message=f"Too many failed sign-ins: try again within {LOCKOUT_MINUTES} minutes",
                        code=ErrorCode.TOO_MANY_ATTEMPTS,
                    )
                ],
            )
        found = await db.credentials(conn, name)
        await db.record_failure(conn, name)  # until the password proves right
    good = await passwords.verify_password_async(found.password_hash if found else None, password[:MAX_PASSWORD])
    async with ctx.db.transaction() as conn:
        if not good or found is None or found.disabled or len(password) > MAX_PASSWORD:
            if found is not None:  # unknown names are counted above, not audited (no county sees them)
                await _audit_login(ctx, conn, found, "loginFailed")
            return _invalid()
        await db.clear_failures(conn, name)
        if found.must_change_password:
            await _audit_login(ctx, conn, found, "loginPasswordChangeRequired")
            return _password_change_required(ctx, found.id, found.token_generation)
        await _audit_login(ctx, conn, found, "login")
        await db.record_login(conn, found.id)
        user = (await db.users_by_id(conn, [found.id]))[found.id]
    # the payload's nested fields (viewer { person { household } }) resolve as the new user
    ctx.viewer = viewer_of(user)
    assert ctx.settings.secret is not None, "the signing secret is set at start-up"
    token, expires = tokens.sign(
        ctx.settings.secret, user.id, ctx.settings.token_hours * 3600, generation=found.token_generation
    )
    return LoginResult(token, datetime.datetime.fromtimestamp(expires, tz=datetime.UTC), user, [])


# --- API tokens ---------------------------------------------------------------------------


api_token_by_id = keyed(db.api_tokens_by_id)


async def visible_api_token_by_id(ctx: Context, keys: list[int]) -> list[ApiTokenRow | None]:
    """The tokens the viewer sees (the SQL rule `api_token_access`: COUNTY_ADMIN and the
    UNIT_ADMINs of the token's organisation)."""
    v = ctx.viewer
    if v is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.visible_api_tokens_by_id(conn, viewer_key(v), keys)
    return [found.get(k) for k in keys]


async def _api_token_nodes(ctx: Context, keys: list[int]) -> list[ApiTokenRow | None]:
    return await ctx.loader(visible_api_token_by_id).load_many(keys)


async def organisation_of_token(root: ApiTokenRow, ctx: Context) -> OrganisationRow | None:
    from resolvers.areas import organisation_by_id

    return await ctx.loader(organisation_by_id).load(root.organisation_id)


@dataclass(frozen=True)
class NewApiToken:
    token: str
    api_token: ApiTokenRow


def new_api_token_secret() -> str:
    return tokens.API_TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_api_token(ctx: Context, organisation_id: str, name: str) -> Outcome[NewApiToken]:
    v = ctx.signed_in

    async def body(conn: Conn) -> tuple[NewApiToken, Audited]:
        require(is_person(v), "An API token cannot create API tokens")
        pk = ids.decode_as(organisation_id, "Organisation")
        found = await areas_db.administered_organisation(conn, pk, viewer_key(v)) if pk is not None else None
        if found is None or found[0].county_id != v.county_id:
            raise Refusal(ErrorCode.NOT_FOUND, "No such organisation", "organisationId")
        org, administers = found
        require(
            administers,
            "Only the organisation's UNIT_ADMIN or a COUNTY_ADMIN may create its API tokens",
            "organisationId",
        )
        clean = name.strip()
        if not clean or len(clean) > MAX_TOKEN_NAME or "\x00" in clean:
            raise Refusal(ErrorCode.INVALID, f"A name of 1 to {MAX_TOKEN_NAME} characters is needed", "name")
        secret = new_api_token_secret()
        row = await db.insert_api_token(
            conn,
            county_id=org.county_id,
            organisation_id=org.id,
            name=clean,
            token_hash=tokens.hash_api_token(secret),
            created_by=v.user_id,
        )
        return NewApiToken(secret, row), Audited("ApiToken", row.id, {"organisationId": org.id, "name": clean})

    return await run(ctx, "createApiToken", body)


async def revoke_api_token(ctx: Context, api_token_id: str) -> Outcome[ApiTokenRow]:
    v = ctx.signed_in

    async def body(conn: Conn) -> tuple[ApiTokenRow, Audited]:
        require(is_person(v), "An API token cannot revoke API tokens")
        pk = ids.decode_as(api_token_id, "ApiToken")
        row = await db.api_token_for_update(conn, pk, viewer_key(v)) if pk is not None else None
        if row is None:
            raise Refusal(ErrorCode.NOT_FOUND, "No such API token", "apiTokenId")
        if row.revoked_at is not None:
            raise Refusal(ErrorCode.INVALID_STATE, "The API token is already revoked", "apiTokenId")
        revoked = await db.revoke_api_token(conn, row.id)
        assert revoked is not None
        return revoked, Audited("ApiToken", row.id, {"organisationId": row.organisation_id})

    return await run(ctx, "revokeApiToken", body)


async def api_tokens(ctx: Context, organisation_id: str, first: int | None, after: str | None) -> Page[ApiTokenRow]:
    """The organisation's tokens, newest first (the field's permission checks who asks)."""
    pk = ids.decode_as(organisation_id, "Organisation")
    assert pk is not None, "the permission admits only organisations the viewer administers"
    limit = checked_first(first)
    before = decode_id_cursor(after)
    async with ctx.db.connection() as conn:
        rows = await db.api_tokens_page(conn, viewer_key(ctx.signed_in), pk, before, limit + 1)

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.api_tokens_count(conn, viewer_key(ctx.signed_in), pk)

    return page_from_rows(rows, limit, lambda r: [r.id], count)


# --- the audit log ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditQuery:
    action: str | None = None
    user_id: str | None = None
    target_type: str | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    target_id: str | None = None


# entries about an area written before each level had its own type name
LEGACY_AREA_TARGET = "Area"


def target_filter(global_id: str | None) -> tuple[list[str] | None, int | None]:
    """The target types and id an object's history is recorded under."""
    if global_id is None:
        return None, None
    decoded = ids.decode(global_id)
    if decoded is None:
        raise bad_user_input("`targetId` is not an id this API gave out", argument="targetId")
    type_name, pk = decoded
    if type_name in ids.AREA_TYPES.values():
        return [type_name, LEGACY_AREA_TARGET], pk
    return [type_name], pk


async def audit_log(ctx: Context, query: AuditQuery, first: int | None, after: str | None) -> Page[AuditRow]:
    """Newest first, within the viewer's county; FORBIDDEN unless the viewer reads the audit
    log (`audit_reader`, asked by the statement that reads the page). An unknown `userId`
    matches nothing."""
    v = ctx.signed_in
    limit = checked_first(first)
    if any("\x00" in (text or "") for text in (query.action, query.target_type)):
        raise bad_user_input("The filter's text may not hold NUL characters", argument="filter")
    before = decode_id_cursor(after)
    user_pk: int | None = None
    if query.user_id is not None:
        user_pk = ids.decode_as(query.user_id, "User") or -1
    target_types, target_pk = target_filter(query.target_id)
    filt = AuditFilter(
        viewer=viewer_key(v),
        action=query.action,
        user_id=user_pk,
        target_type=query.target_type,
        since=query.since,
        until=query.until,
        target_types=target_types,
        target_id=target_pk,
    )
    async with ctx.db.connection() as conn:
        rows = await audit_db.page(conn, filt, before, limit + 1)
    if rows is None:  # the rule `audit_reader`
        raise forbidden()

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await audit_db.count(conn, filt)

    return page_from_rows(rows, limit, lambda r: [r.id], count)


async def visible_audit_entry_by_id(ctx: Context, keys: list[int]) -> list[AuditRow | None]:
    """The entries the viewer may read (the SQL rule `audit_access`: the county admin)."""
    v = ctx.viewer
    if v is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await audit_db.visible_by_id(conn, viewer_key(v), keys)
    return [found.get(k) for k in keys]


async def _audit_nodes(ctx: Context, keys: list[int]) -> list[AuditRow | None]:
    return await ctx.loader(visible_audit_entry_by_id).load_many(keys)


async def user_of_entry(root: AuditRow, ctx: Context) -> UserRow | None:
    """The acting account. Always visible with the entry: the audit log is read by its county's
    COUNTY_ADMIN alone (`audit_access`), who sees every account of the county (`user_access`),
    and an entry's actor is of its county."""
    if root.user_id is None:
        return None
    return await ctx.loader(user_by_id).load(root.user_id)


async def api_token_of_entry(root: AuditRow, ctx: Context) -> ApiTokenRow | None:
    """The acting API token: always visible with the entry, as its user (`api_token_access`
    admits the county's COUNTY_ADMIN)."""
    if root.api_token_id is None:
        return None
    return await ctx.loader(api_token_by_id).load(root.api_token_id)


async def target_of_entry(root: AuditRow, ctx: Context) -> str | None:
    """The global id `node()` resolves: an entry recorded against an `Area` names the area's
    own type (a Building's id, not an Area's)."""
    if root.target_type is None or root.target_id is None:
        return None
    if root.target_type == LEGACY_AREA_TARGET:
        from resolvers.areas import AREA_TYPES, area_by_id

        area = await ctx.loader(area_by_id).load(root.target_id)
        return None if area is None else ids.encode(AREA_TYPES[area.level], area.id)
    return ids.encode(root.target_type, root.target_id)


nodes.register("User", _user_nodes)
nodes.register("ApiToken", _api_token_nodes)
nodes.register("AuditEntry", _audit_nodes)
