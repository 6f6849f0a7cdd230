"""Fields read as their type's SQL declaration says, and typed resolvers for fields that
hand a rule's rows to strawberry.

`declared(description)` is a field with no resolver of its own: the ordinary path reads
it as the `compiled.declare(...)` beside the type declares it (resolvers/compiled/derive.py:
the row's attribute, or the target's rows through its SQL rule, batched), the compiled
path compiles the same declaration. A declared relation that keeps a resolver of its own
is listed with the reason (`own_resolvers`), so that `tests/test_derived.py` can hold
every declared relation to one or the other.

The rules of `resolvers/` answer rows (`HouseholdRow`), which strawberry completes as the
field's GraphQL type (`Household`): `of_rule` and `paged` pass a rule's answer on, typed
`Any` at that one boundary instead of a `type: ignore` per field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info

from resolvers.compiled import derive
from resolvers.context import Context
from schema.base import After, First

R = TypeVar("R")

# a declared field (GraphQL type name, field name) -> why its ordinary resolver is its own
OWN_RESOLVERS: dict[tuple[str, str], str] = {}


def _declared(root: Any, info: Info[Any, Any]) -> Any:
    raw = info._raw_info
    return derive.declared_reader(raw.parent_type.name, raw.field_name)(root, info.context)


def declared(description: str) -> Any:
    """A field read on the ordinary path as its type's SQL declaration says."""
    return strawberry.field(resolver=_declared, description=description)


def is_declared(resolver: object) -> bool:
    return resolver is _declared


def own_resolvers(type_name: str, reasons: dict[str, str]) -> None:
    """Declared fields of `type_name` (GraphQL names) whose ordinary resolver is written by
    hand, each with the reason its declaration cannot be read as it stands."""
    for field_name, reason in reasons.items():
        OWN_RESOLVERS[(type_name, field_name)] = reason


def of_rule(rule: Callable[[R, Context], Awaitable[object]]) -> Callable[[R, Info[Any, Any]], Any]:
    """The resolver of a field that is the rule's answer for the row."""

    def resolve(root: R, info: Info[Any, Any]) -> Any:
        return rule(root, info.context)

    return resolve


def paged(
    rule: Callable[[R, Context, int | None, str | None], Awaitable[object]],
) -> Callable[[R, Info[Any, Any], int | None, str | None], Any]:
    """The resolver of a connection that is the rule's page for the row."""

    def resolve(root: R, info: Info[Any, Any], first: First = None, after: After = None) -> Any:
        return rule(root, info.context, first, after)

    return resolve
