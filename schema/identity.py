"""Users, their roles with scopes, sign-in, partner API tokens and the audit log."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from db.areas import AreaRow, OrganisationRow, PersonRow
from db.audit import AuditRow
from db.identity import ApiTokenRow, UserRow
from resolvers import identity as r
from resolvers import ids, rules
from resolvers.compiled import declarations as compiled
from resolvers.compiled import planner as compiled_planner
from resolvers.identity import RoleGrantValue, ScopeValue
from resolvers.mutations import Outcome
from resolvers.notifications import Inbox
from resolvers.pagination import Page
from resolvers.permissions import administers_organisation_in, described, guarded
from resolvers.viewer import Role as RoleValues
from schema.areas import Area, Organisation, Person
from schema.base import FILTER, INPUT, After, Connection, First, Node, UserError, UserErrorRows, describe_values, is_row
from schema.notifications import NotificationConnection, notifications_of

# strawberry.enum registers the viewer's own enum (and returns it): the alias is a type
Role = RoleValues
strawberry.enum(
    Role,
    description="A role a user holds in a scope (an area, or an organisation for UNIT_ADMIN and CADRE)",
)


describe_values(
    Role,
    {
        "COUNTY_ADMIN": "Administrator of the county",
        "COMMUNITY_STAFF": "Staff of a community (社区工作人员)",
        "BUILDING_HEAD": "Head of a building (楼栋长)",
        "CADRE": "Party member cadre of a unit (党员干部)",
        "RESIDENT": "Resident of a household",
        "UNIT_ADMIN": "Administrator of a unit (单位管理员)",
    },
)


def _scope_id(root: ScopeValue) -> strawberry.ID:
    from resolvers import ids

    return strawberry.ID(ids.encode(root.type_name, root.pk))


async def _scope_area(root: ScopeValue, info: Info[Any, Any]) -> AreaRow | None:
    return await r.scope_area(root, info.context)


async def _scope_organisation(root: ScopeValue, info: Info[Any, Any]) -> OrganisationRow | None:
    return await r.scope_organisation(root, info.context)


@strawberry.type(
    description="The area or organisation a role is granted in: its global id (usable with `node`) and name"
)
class Scope:
    id: strawberry.ID = strawberry.field(resolver=_scope_id, description="Global id of the area or organisation")
    name: str = strawberry.field(description="Name of the area or organisation")
    type_name: str = strawberry.field(description="`Organisation` or the area's type (County, Community, Building ...)")
    area: AreaRow | None = strawberry.field(
        resolver=_scope_area, graphql_type=Area | None, description="The area, when the scope is one"
    )
    organisation: OrganisationRow | None = strawberry.field(
        resolver=_scope_organisation,
        graphql_type=Organisation | None,
        description="The organisation, when the scope is one",
    )


async def _scope(root: RoleGrantValue, info: Info[Any, Any]) -> ScopeValue:
    return await r.scope_of(root, info.context)


@strawberry.type(
    description="A role in a scope. RESIDENT is granted in the building of the resident's household; "
    "COUNTY_ADMIN in the county; COMMUNITY_STAFF in a community; BUILDING_HEAD in a building; "
    "CADRE and UNIT_ADMIN in an organisation (the unit)"
)
class RoleGrant:
    role: Role = strawberry.field(description="The role")
    scope: ScopeValue = strawberry.field(resolver=_scope, graphql_type=Scope, description="Where the role applies")


async def _person(root: UserRow, info: Info[Any, Any]) -> PersonRow | None:
    return await r.person_of(root, info.context)


def _roles(root: UserRow) -> list[RoleGrantValue]:
    return r.roles_of(root)


@strawberry.type(
    description="A user account. Visible to the user and to COUNTY_ADMIN of its county (staff list those of people "
    "living in their scope with `users`)"
)
class User(Node):
    is_type_of = is_row(UserRow)
    username: str = strawberry.field(description="Sign-in name")
    person: PersonRow | None = strawberry.field(
        resolver=_person, graphql_type=Person | None, description="The person the account belongs to"
    )
    roles: list[RoleGrantValue] = strawberry.field(
        resolver=_roles, graphql_type=list[RoleGrant], description="Role grants with their scopes"
    )
    disabled: bool = strawberry.field(description="A disabled account cannot sign in; its tokens are refused")
    last_login_at: datetime.datetime | None = strawberry.field(description="When it last signed in")
    notifications: Inbox | None = strawberry.field(
        resolver=notifications_of,
        graphql_type=NotificationConnection | None,
        description=described(
            "The user's inbox, newest first (`unreadOnly` narrows it); null for anyone the rule does not let read it",
            rules.NOTIFICATION_ACCESS,
        ),
    )


async def _token_organisation(root: ApiTokenRow, info: Info[Any, Any]) -> OrganisationRow | None:
    return await r.organisation_of_token(root, info.context)


@strawberry.type(
    description="A partner unit's API token for machine-to-machine access. It acts as UNIT_ADMIN of its "
    "organisation and nothing more; the secret is shown once, when created. Visible to that "
    "organisation's UNIT_ADMIN and to COUNTY_ADMIN"
)
class ApiToken(Node):
    is_type_of = is_row(ApiTokenRow)
    name: str = strawberry.field(description="What the token is for")
    created_at: datetime.datetime = strawberry.field(description="When it was created")
    last_used_at: datetime.datetime | None = strawberry.field(description="When a request last used it")
    revoked_at: datetime.datetime | None = strawberry.field(description="When it was revoked")
    revoked: bool = strawberry.field(
        resolver=lambda root: root.revoked_at is not None, description="Revoked tokens are refused"
    )
    organisation: OrganisationRow | None = strawberry.field(
        resolver=_token_organisation, graphql_type=Organisation | None, description="The unit it acts for"
    )


async def _entry_user(root: AuditRow, info: Info[Any, Any]) -> UserRow | None:
    return await r.user_of_entry(root, info.context)


async def _entry_token(root: AuditRow, info: Info[Any, Any]) -> ApiTokenRow | None:
    return await r.api_token_of_entry(root, info.context)


async def _entry_target(root: AuditRow, info: Info[Any, Any]) -> strawberry.ID | None:
    target = await r.target_of_entry(root, info.context)
    return None if target is None else strawberry.ID(target)


@strawberry.type(description="One row of the append-only audit log: who did or read what, when")
class AuditEntry(Node):
    is_type_of = is_row(AuditRow)
    at: datetime.datetime = strawberry.field(description="When")
    action: str = strawberry.field(description="The mutation or read, e.g. `createApiToken`, `login`")
    target_type: str | None = strawberry.field(description="Type of the object acted on")
    target_id: strawberry.ID | None = strawberry.field(
        resolver=_entry_target, description="Global id of the object acted on, as `node(id)` resolves it"
    )
    request_id: str | None = strawberry.field(description="The request id the log lines carry")
    detail: JSON = strawberry.field(description="What else the action recorded")
    user: UserRow | None = strawberry.field(
        resolver=_entry_user, graphql_type=User | None, description="Who acted (null for the system)"
    )
    api_token: ApiTokenRow | None = strawberry.field(
        resolver=_entry_token, graphql_type=ApiToken | None, description="The API token used, if any"
    )


@strawberry.input(description="Narrows the audit log; every given field must match")
class AuditLogFilter:
    action: str | None = strawberry.field(default=None, description="Exact action name")
    user_id: strawberry.ID | None = strawberry.field(default=None, description="The acting user")
    target_type: str | None = strawberry.field(default=None, description="Type of the object acted on")
    target_id: strawberry.ID | None = strawberry.field(
        default=None, description="One object's history: the global id of the object acted on"
    )
    from_: datetime.datetime | None = strawberry.field(default=None, name="from", description="At or after")
    to: datetime.datetime | None = strawberry.field(default=None, description="At or before")


# --- root fields --------------------------------------------------------------------------


def _viewer(info: Info[Any, Any]) -> UserRow | None:
    return r.viewer(info.context)


async def _audit_log(
    info: Info[Any, Any],
    filter: Annotated[AuditLogFilter | None, FILTER] = None,
    first: First = None,
    after: After = None,
) -> Page[AuditRow]:
    f = filter or AuditLogFilter()
    query = r.AuditQuery(
        action=f.action,
        user_id=f.user_id,
        target_type=f.target_type,
        since=f.from_,
        until=f.to,
        target_id=f.target_id,
    )
    return await r.audit_log(info.context, query, first, after)


async def _api_tokens(
    info: Info[Any, Any],
    organisation_id: Annotated[strawberry.ID, strawberry.argument(description="The unit whose tokens to list")],
    first: First = None,
    after: After = None,
) -> Page[ApiTokenRow]:
    return await r.api_tokens(info.context, organisation_id, first, after)


@strawberry.type
class IdentityQuery:
    viewer: UserRow | None = strawberry.field(
        resolver=_viewer,
        graphql_type=User | None,
        description=described("The signed-in user (or API token's identity); null when not signed in", rules.ANYONE),
    )
    audit_log: Page[AuditRow] = guarded(
        resolver=_audit_log,
        graphql_type=Connection[AuditEntry],
        description="The audit log of the viewer's county, newest first",
        rules=[rules.AUDIT_READER, rules.AUDIT_ACCESS],
    )
    api_tokens: Page[ApiTokenRow] = guarded(
        resolver=_api_tokens,
        graphql_type=Connection[ApiToken],
        description="An organisation's API tokens, newest first, with when each was last used",
        rules=[rules.API_TOKEN_ACCESS],
        permissions=[administers_organisation_in("organisationId")],
    )


@strawberry.input(description="Username and password")
class LoginInput:
    username: str = strawberry.field(description="Sign-in name (case does not matter)")
    password: str = strawberry.field(description="The account's password")


@strawberry.type(description="A bearer token for `Authorization: Bearer <token>`, or why there is none")
class LoginPayload:
    token: str | None = strawberry.field(description="Signed bearer token")
    expires_at: datetime.datetime | None = strawberry.field(description="When the token stops working")
    viewer: UserRow | None = strawberry.field(graphql_type=User | None, description="Who signed in")
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError],
        description="INVALID_CREDENTIALS (unknown user or wrong password, alike) or TOO_MANY_ATTEMPTS",
    )


@strawberry.input(description="A new API token for an organisation")
class CreateApiTokenInput:
    organisation_id: strawberry.ID = strawberry.field(description="The unit the token acts for")
    name: str = strawberry.field(description="What the token is for (1 to 100 characters)")


@strawberry.type(description="The new API token; its secret is shown here once")
class CreateApiTokenPayload:
    token: str | None = strawberry.field(description="The secret, starting `gjt_`: store it now, it is not shown again")
    api_token: ApiTokenRow | None = strawberry.field(graphql_type=ApiToken | None, description="The new token")
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError], description="NOT_FOUND, FORBIDDEN or INVALID (name)"
    )


@strawberry.input(description="The API token to revoke")
class RevokeApiTokenInput:
    api_token_id: strawberry.ID = strawberry.field(description="The API token")


@strawberry.type(description="The revoked API token")
class RevokeApiTokenPayload:
    api_token: ApiTokenRow | None = strawberry.field(graphql_type=ApiToken | None, description="The revoked token")
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError],
        description="NOT_FOUND (unknown or not visible), FORBIDDEN, INVALID_STATE (already revoked)",
    )


async def _login(info: Info[Any, Any], input: Annotated[LoginInput, INPUT]) -> LoginPayload:
    result = await r.login(info.context, input.username, input.password)
    return LoginPayload(
        token=result.token,
        expires_at=result.expires_at,
        viewer=result.viewer,
        user_errors=result.user_errors,
    )


async def _create_api_token(
    info: Info[Any, Any], input: Annotated[CreateApiTokenInput, INPUT]
) -> CreateApiTokenPayload:
    outcome: Outcome[r.NewApiToken] = await r.create_api_token(info.context, input.organisation_id, input.name)
    made = outcome.value
    return CreateApiTokenPayload(
        token=made.token if made else None,
        api_token=made.api_token if made else None,
        user_errors=outcome.user_errors,
    )


async def _revoke_api_token(
    info: Info[Any, Any], input: Annotated[RevokeApiTokenInput, INPUT]
) -> RevokeApiTokenPayload:
    outcome = await r.revoke_api_token(info.context, input.api_token_id)
    return RevokeApiTokenPayload(api_token=outcome.value, user_errors=outcome.user_errors)


_TOKEN_RULE = "COUNTY_ADMIN, or UNIT_ADMIN of the token's organisation (not an API token)"  # noqa: S105 - prose


@strawberry.type
class IdentityMutation:
    login: LoginPayload = strawberry.mutation(
        resolver=_login,
        description=described(
            "Sign in (no token needed). After 5 failures in 15 minutes for one username, "
            "TOO_MANY_ATTEMPTS until the window passes",
            rules.ANYONE,
        ),
    )
    create_api_token: CreateApiTokenPayload = guarded(
        resolver=_create_api_token,
        description="A partner unit's API token; refused with FORBIDDEN otherwise",
        rules=[rules.ADMINISTERS_ORGANISATION, rules.IS_PERSON],
        mutation=True,
    )
    revoke_api_token: RevokeApiTokenPayload = guarded(
        resolver=_revoke_api_token,
        description="Revoke an API token: requests with it are refused from now on",
        rules=[rules.API_TOKEN_ACCESS, rules.IS_PERSON],
        mutation=True,
    )


ALL_TYPES: list[Any] = [User, ApiToken, AuditEntry]


# --- the compiled read path: the types' SQL, declared once (resolvers/compiled) -------------

# the GraphQL type of an area `ar` (as the interface Area tells them apart)
_AREA_TYPE = compiled.INTERFACES["Area"].type_name.replace("{row}", "ar")

compiled.declare(
    "User",
    compiled.Source(
        "users",
        "EXISTS (SELECT 1 FROM {viewer_from} w WHERE user_access({row}, w) IS NOT NULL)",
        {
            "id": compiled.GlobalId(),
            "username": compiled.Column("{row}.username"),
            "disabled": compiled.Column("{row}.disabled"),
            "lastLoginAt": compiled.Column(compiled.date_time("{row}.last_login_at")),
            "person": compiled.Relation("Person", "one", "{row}.id = {parent}.person_id"),
            # db/identity.py USER_WITH_GRANTS: in the order granted
            "roles": compiled.Relation("RoleGrant", "list", "{row}.user_id = {parent}.id"),
        },
    ),
)
# a grant and its scope are the same row of role_grants (a scope is no node: never node(id))
compiled.declare(
    "RoleGrant",
    compiled.Source(
        "role_grants",
        "false",
        {
            "role": compiled.Column("{row}.role"),
            "scope": compiled.Relation("Scope", "one", "{row}.id = {parent}.id"),
        },
    ),
)
_SCOPE_TYPE = (
    "(CASE WHEN {row}.area_id IS NULL THEN 'Organisation' ELSE (SELECT "  # noqa: S608 - constant text
    + _AREA_TYPE
    + " FROM areas ar WHERE ar.id = {row}.area_id) END)"
)
compiled.declare(
    "Scope",
    compiled.Source(
        "role_grants",
        "true",
        {
            "id": compiled.Column(
                compiled.base64url(_SCOPE_TYPE + " || ':' || coalesce({row}.area_id, {row}.organisation_id)")
            ),
            "name": compiled.Column(
                "coalesce((SELECT ar.name FROM areas ar WHERE ar.id = {row}.area_id), "
                "(SELECT o.name FROM organisations o WHERE o.id = {row}.organisation_id))"
            ),
            "typeName": compiled.Column(_SCOPE_TYPE),
        },
    ),
)

# resolvers/identity.py `target_of_entry`: an entry recorded against an `Area` names the area's own type
_TARGET_ID = (
    "(CASE WHEN {row}.target_type IS NULL OR {row}.target_id IS NULL THEN NULL "  # noqa: S608 - constant text
    f"WHEN {{row}}.target_type = '{r.LEGACY_AREA_TARGET}' THEN (SELECT "
    + compiled.base64url(f"{_AREA_TYPE} || ':' || ar.id")
    + " FROM areas ar WHERE ar.id = {row}.target_id) "
    "ELSE " + compiled.base64url("{row}.target_type || ':' || {row}.target_id") + " END)"
)
# the county admin reads the county's entries (`audit_access`, 0029)
_AUDIT_VISIBLE = "EXISTS (SELECT 1 FROM {viewer_from} w WHERE audit_access({row}, w))"

compiled.declare(
    "AuditEntry",
    compiled.Source(
        "audit_log",
        _AUDIT_VISIBLE,
        {
            "id": compiled.GlobalId(),
            "at": compiled.Column(compiled.date_time("{row}.at")),
            "action": compiled.Column("{row}.action"),
            "targetType": compiled.Column("{row}.target_type"),
            "targetId": compiled.Column(_TARGET_ID),
            "requestId": compiled.Column("{row}.request_id"),
            "detail": compiled.Column("{row}.detail"),
            "user": compiled.Relation("User", "one", "{row}.id = {parent}.user_id"),
        },
    ),
)

# db/audit.py _WHERE
_AUDIT_WHERE = (
    _AUDIT_VISIBLE + " AND ({arg_action} IS NULL OR {row}.action = {arg_action}) "
    "AND ({arg_user} IS NULL OR {row}.user_id = {arg_user}) "
    "AND ({arg_target_type} IS NULL OR {row}.target_type = {arg_target_type}) "
    "AND ({arg_since} IS NULL OR {row}.at >= {arg_since}) AND ({arg_until} IS NULL OR {row}.at <= {arg_until}) "
    "AND ({arg_target_types} IS NULL OR ({row}.target_type = ANY({arg_target_types}) "
    "AND {row}.target_id = {arg_target}))"
)


def _audit_arguments(given: Any) -> dict[str, Any]:
    """The filter as resolvers/identity.py `audit_log` reads it (its refusals: the ordinary path's)."""
    f = compiled_planner.filter_of(given)
    if any("\x00" in (f.get(name) or "") for name in ("action", "targetType")):
        raise compiled_planner.Fallback("filter")
    user_id = f.get("userId")
    target_types, target = r.target_filter(f.get("targetId"))
    return {
        "action": f.get("action"),
        "user": None if user_id is None else ids.decode_as(user_id, "User") or -1,
        "target_type": f.get("targetType"),
        "since": f.get("from"),
        "until": f.get("to"),
        "target_types": target_types,
        "target": target,
    }


compiled.declare_root(
    "auditLog",
    compiled.RootConnection(
        "AuditEntry",
        "audit_log",
        _AUDIT_WHERE,
        (
            ("action", "text"),
            ("user", "bigint"),
            ("target_type", "text"),
            ("since", "timestamptz"),
            ("until", "timestamptz"),
            ("target_types", "text[]"),
            ("target", "bigint"),
        ),
        _audit_arguments,
        descending=True,
        rule="audit_reader({viewer})",
    ),
)
