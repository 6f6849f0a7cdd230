"""Permission classes declared on fields (CONVENTIONS 5), and the rules mutations check.

Root queries declare who may call them with `permission_classes`; `guarded(...)` also
writes the requirement into the field's SDL description, as Saleor's PermissionsField
does. A query refused by a permission is a GraphQL error (`UNAUTHENTICATED` without a
valid token, `FORBIDDEN` otherwise). Mutations report refusals as `userErrors`: their
bodies call `require(rule(...))` with the named rules below, and their descriptions state
the rule with `described(...)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import strawberry
from strawberry.permission import BasePermission
from strawberry.types import Info

from db import areas as areas_db
from resolvers import ids
from resolvers.access import viewer_key
from resolvers.errors import ErrorCode, Refusal
from resolvers.rules import Rule
from resolvers.viewer import Viewer


class Requirement(BasePermission):
    """A permission class that can say in words what it requires (for the SDL)."""

    requirement: ClassVar[str] = ""


class SignedIn(Requirement):
    """Anything but `login` and `viewer` needs a valid token."""

    requirement = "a signed-in user"
    message = "Sign in first: this needs a valid bearer token"
    error_extensions: ClassVar[dict[str, Any]] = {"code": "UNAUTHENTICATED"}  # type: ignore[misc]

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        return info.context.viewer is not None


class _Forbidding(Requirement):
    message = "You may not see or do this"
    error_extensions: ClassVar[dict[str, Any]] = {"code": "FORBIDDEN"}  # type: ignore[misc]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _argument(kwargs: dict[str, Any], path: str) -> Any:
    """The argument at a dotted GraphQL path (`input.areaId`); strawberry hands permissions
    the resolver's Python names (`input.area_id`), so both spellings are looked up."""
    value: Any = kwargs
    for part in path.split("."):
        if value is None:
            return None
        if isinstance(value, dict):
            value = value.get(part, value.get(_snake(part)))
        else:
            value = getattr(value, part, getattr(value, _snake(part), None))
    return value


def administers_organisation_in(argument: str) -> type[Requirement]:
    """The organisation named by the global id in `argument` is one the viewer administers:
    COUNTY_ADMIN of its county, or its UNIT_ADMIN (a partner's API token included), as the
    rule `administers_organisation` (0023_may_act.sql) says. Put it after SignedIn."""

    class AdministersOrganisation(_Forbidding):
        requirement = f"COUNTY_ADMIN, or UNIT_ADMIN of the organisation `{argument}`"

        async def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
            viewer: Viewer | None = info.context.viewer
            raw = _argument(kwargs, argument)
            pk = ids.decode_as(str(raw), "Organisation") if raw is not None else None
            if viewer is None or pk is None:
                return False
            async with info.context.db.connection() as conn:
                found = await areas_db.administered_organisation(conn, pk, viewer_key(viewer))
            return found is not None and found[1]

    AdministersOrganisation.__name__ = AdministersOrganisation.__qualname__ = (
        f"AdministersOrganisation_{argument.replace('.', '_')}"
    )
    return AdministersOrganisation


def described(description: str, *requirements: type[Requirement] | Rule | str) -> str:
    """`description` followed by who may use the field, for the SDL: the words of the rules
    (resolvers/rules.py) the field runs, each naming its rule."""
    texts = [r if isinstance(r, str) else r.text() if isinstance(r, Rule) else r.requirement for r in requirements]
    texts = [t for t in texts if t and t != SignedIn.requirement] or [SignedIn.requirement]
    return f"{description}\n\nRequires: {'; '.join(texts)}."


def guarded(
    *,
    resolver: Callable[..., Any],
    description: str,
    permissions: Sequence[type[Requirement]] = (),
    rules: Sequence[Rule | str] = (),
    mutation: bool = False,
    graphql_type: Any | None = None,
) -> Any:
    """A root field behind SignedIn and `permissions`, with the requirement in its SDL.
    `rules` describe what a mutation's body checks itself (refused as userErrors).
    `graphql_type` as strawberry's: the field's GraphQL type where the resolver answers rows."""
    classes: list[type[BasePermission]] = [SignedIn, *permissions]
    make = strawberry.mutation if mutation else strawberry.field
    text = described(description, *permissions, *rules)
    return make(resolver=resolver, description=text, permission_classes=classes, graphql_type=graphql_type)


# --- rules for mutation bodies (refusals become userErrors) ------------------------------


def require(allowed: bool, message: str = "You may not do this", field: str | list[str] | None = None) -> None:
    """Refuse the mutation with FORBIDDEN unless `allowed`."""
    if not allowed:
        raise Refusal(ErrorCode.FORBIDDEN, message, field)


def is_person(viewer: Viewer) -> bool:
    """A user signed in with a password (not a partner unit's API token)."""
    return viewer.api_token_id is None
