"""User and role management for admin tooling, and changing one's password."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db.areas import like_pattern
from db.identity import UserRow
from resolvers import accounts as r
from resolvers import rules
from resolvers.compiled import declarations as compiled
from resolvers.compiled import planner as compiled_planner
from resolvers.mutations import Outcome
from resolvers.pagination import Page
from resolvers.permissions import SignedIn, described
from resolvers.viewer import Role as RoleValues
from schema.base import FILTER, After, Connection, First, UserError, UserErrorRows
from schema.identity import Role, User

MUTATION_INPUT = strawberry.argument(description="The mutation's one input")
RULES = (
    " COUNTY_ADMIN for the whole county; staff grant RESIDENT on areas in their scope and manage the accounts "
    "of people living there. Nobody grants a role or scope they could not grant themselves, nor changes their "
    "own account (FORBIDDEN); BUILDING_HEAD follows the building's responsible person (INVALID by hand). Audited"
)


@strawberry.input(description="Narrows `users`; every given field must match")
class UserFilter:
    search: str | None = strawberry.field(default=None, description="Substring of the username or the person's name")
    role: Role | None = strawberry.field(default=None, description="Only users holding this role")


async def _users(
    info: Info[Any, Any],
    filter: Annotated[UserFilter | None, FILTER] = None,
    first: First = None,
    after: After = None,
) -> Page[UserRow]:
    f = filter or UserFilter()
    role = f.role.value if f.role is not None else None
    return await r.user_list(info.context, f.search, role, first, after)


@strawberry.type
class AccountsQuery:
    users: Page[UserRow] = strawberry.field(
        resolver=_users,
        graphql_type=Connection[User],
        permission_classes=[SignedIn],
        description=described(
            "User accounts, oldest first: the county's for COUNTY_ADMIN, those of people living in their "
            "scope for staff; anyone else gets a FORBIDDEN GraphQL error",
            rules.ACCOUNT_MANAGER,
            rules.USER_ACCESS,
        ),
    )


@strawberry.input(description="A new account with one role")
class CreateUserInput:
    username: str = strawberry.field(description="2 to 64 letters, digits or . _ @ -; unique")
    person_id: strawberry.ID | None = strawberry.field(default=None, description="The person the account is for")
    role: Role = strawberry.field(description="Its first role")
    scope_id: strawberry.ID = strawberry.field(
        description="An organisation for UNIT_ADMIN and CADRE; the county for COUNTY_ADMIN, a community for "
        "COMMUNITY_STAFF, an area holding the person's household for RESIDENT"
    )


@strawberry.input(description="A role in a scope, for one account")
class RoleInput:
    user_id: strawberry.ID = strawberry.field(description="The account")
    role: Role = strawberry.field(description="The role")
    scope_id: strawberry.ID = strawberry.field(description="The area or organisation")


@strawberry.input(description="The account to disable")
class DisableUserInput:
    user_id: strawberry.ID = strawberry.field(description="The account")


@strawberry.input(description="A new password")
class ChangePasswordInput:
    current_password: str | None = strawberry.field(
        default=None, description="The current password; not needed with the token of a first sign-in"
    )
    new_password: str = strawberry.field(description="At least 8 characters")


@strawberry.type(description="The new account and its one-time password")
class CreateUserPayload:
    user: UserRow | None = strawberry.field(graphql_type=User | None, description="The account")
    initial_password: str | None = strawberry.field(
        description="Shown once: the first sign-in with it answers PASSWORD_CHANGE_REQUIRED until it is changed"
    )
    user_errors: UserErrorRows = strawberry.field(graphql_type=list[UserError], description="Why it was refused")


@strawberry.type(description="The account as it is now")
class UserPayload:
    user: UserRow | None = strawberry.field(graphql_type=User | None, description="The account")
    user_errors: UserErrorRows = strawberry.field(graphql_type=list[UserError], description="Why it was refused")


@strawberry.type(description="An ordinary bearer token after the change")
class ChangePasswordPayload:
    token: str | None = strawberry.field(description="Signed bearer token")
    expires_at: datetime.datetime | None = strawberry.field(description="When the token stops working")
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError], description="INVALID (newPassword) or INVALID_CREDENTIALS"
    )


def _role(value: Any) -> RoleValues:
    """The input's role (strawberry hands over the Python enum's member)."""
    return RoleValues(value)


def _user_payload(outcome: Outcome[UserRow]) -> UserPayload:
    return UserPayload(user=outcome.value, user_errors=outcome.user_errors)


async def _create_user(info: Info[Any, Any], input: Annotated[CreateUserInput, MUTATION_INPUT]) -> CreateUserPayload:
    outcome = await r.create_user(info.context, input.username, input.person_id, _role(input.role), input.scope_id)
    made = outcome.value
    return CreateUserPayload(
        user=made.user if made else None,
        initial_password=made.initial_password if made else None,
        user_errors=outcome.user_errors,
    )


async def _grant_role(info: Info[Any, Any], input: Annotated[RoleInput, MUTATION_INPUT]) -> UserPayload:
    return _user_payload(await r.grant_role(info.context, input.user_id, _role(input.role), input.scope_id))


async def _revoke_role(info: Info[Any, Any], input: Annotated[RoleInput, MUTATION_INPUT]) -> UserPayload:
    return _user_payload(await r.revoke_role(info.context, input.user_id, _role(input.role), input.scope_id))


async def _disable_user(info: Info[Any, Any], input: Annotated[DisableUserInput, MUTATION_INPUT]) -> UserPayload:
    return _user_payload(await r.disable_user(info.context, input.user_id))


async def _change_password(
    info: Info[Any, Any], input: Annotated[ChangePasswordInput, MUTATION_INPUT]
) -> ChangePasswordPayload:
    outcome = await r.change_password(info.context, input.current_password, input.new_password)
    done = outcome.value
    return ChangePasswordPayload(
        token=done.token if done else None,
        expires_at=datetime.datetime.fromtimestamp(done.expires_at, tz=datetime.UTC) if done else None,
        user_errors=outcome.user_errors,
    )


@strawberry.type
class AccountsMutation:
    create_user: CreateUserPayload = strawberry.mutation(
        resolver=_create_user,
        permission_classes=[SignedIn],
        description=described(
            "Create an account with one role and a one-time password; a taken username or a person who "
            "already has an account: ALREADY_EXISTS." + RULES,
            rules.CREATES_ACCOUNT,
            rules.GRANTS_ROLE,
        ),
    )
    grant_role: UserPayload = strawberry.mutation(
        resolver=_grant_role,
        permission_classes=[SignedIn],
        description=described(
            "Grant a role in a scope; held already: ALREADY_EXISTS." + RULES,
            rules.MANAGES_ACCOUNTS,
            rules.GRANTS_ROLE,
        ),
    )
    revoke_role: UserPayload = strawberry.mutation(
        resolver=_revoke_role,
        permission_classes=[SignedIn],
        description=described(
            "Revoke a role in a scope, from the next request on (open subscriptions included); not held: "
            "NOT_FOUND." + RULES,
            rules.MANAGES_ACCOUNTS,
            rules.GRANTS_ROLE,
        ),
    )
    disable_user: UserPayload = strawberry.mutation(
        resolver=_disable_user,
        permission_classes=[SignedIn],
        description=described(
            "Disable an account: its tokens stop working on the next request (open subscriptions "
            "included) and it cannot sign in; already disabled: INVALID_STATE." + RULES,
            rules.MANAGES_ACCOUNTS,
        ),
    )
    change_password: ChangePasswordPayload = strawberry.mutation(
        resolver=_change_password,
        description=described(
            "Change one's password: with the token of a first sign-in (PASSWORD_CHANGE_REQUIRED), or with "
            "an ordinary token and the current password. Needs no other sign-in; answers an ordinary token",
            rules.IS_PERSON,
        ),
    )


# --- the compiled read path: `users`, declared beside its field (resolvers/compiled) --------

# db/accounts.py _USERS_WHERE: every account `user_access` grants but the viewer's own
_USERS_WHERE = (
    "EXISTS (SELECT 1 FROM {viewer_from} w WHERE user_access({row}, w) <> 'SELF') "
    "AND ({arg_pattern} IS NULL OR {row}.username ILIKE {arg_pattern} "
    "OR EXISTS (SELECT 1 FROM persons pn WHERE pn.id = {row}.person_id AND pn.name ILIKE {arg_pattern})) "
    "AND ({arg_role} IS NULL OR EXISTS (SELECT 1 FROM role_grants rg WHERE rg.user_id = {row}.id "
    "AND rg.role = {arg_role}))"
)


def _user_arguments(given: Any) -> dict[str, Any]:
    """The filter as resolvers/accounts.py `user_list` reads it (its refusals: the ordinary path's)."""
    f = compiled_planner.filter_of(given)
    text = (f.get("search") or "").strip()
    if len(text) > 100 or "\x00" in text:
        raise compiled_planner.Fallback("search")
    role = f.get("role")
    return {"pattern": like_pattern(text) if text else None, "role": role.value if role is not None else None}


compiled.declare_root(
    "users",
    compiled.RootConnection(
        "User",
        "users",
        _USERS_WHERE,
        (("pattern", "text"), ("role", "text")),
        _user_arguments,
        rule="account_manager({viewer})",
    ),
)
