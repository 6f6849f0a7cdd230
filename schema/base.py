"""The shared building blocks: Node, keyset connections, user errors."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext, Info

from gongjian import observability
from gongjian.hooks import UnwindingRunner
from gongjian.translation import DEFAULT, translate
from resolvers import errors, ids
from resolvers.errors import ErrorCode as ErrorCodeValues
from resolvers.pagination import Page

T = TypeVar("T")

# strawberry.enum registers the rules' own enum (and returns it): the alias is a type
ErrorCode = ErrorCodeValues
strawberry.enum(ErrorCode, description="Why a mutation was refused")

# the arguments every list and mutation shares
First = Annotated[int | None, strawberry.argument(description="Page size: 20 by default, at most 100")]
After = Annotated[str | None, strawberry.argument(description="Cursor of the last item of the previous page")]
INPUT = strawberry.argument(description="The mutation's one input")
FILTER = strawberry.argument(description="Which items to list; fields left out do not narrow the list")


def describe_values(enum_type: Any, descriptions: dict[str, str]) -> None:
    """Give the values of a strawberry enum their descriptions (the enum's Python values
    stay plain, as the resolvers compare them)."""
    for value in enum_type.__strawberry_definition__.values:
        value.description = descriptions.get(value.name, value.description)


describe_values(
    ErrorCode,
    {
        "NOT_FOUND": "The object does not exist, or the viewer may not see it",
        "FORBIDDEN": "The viewer may not do this",
        "INVALID": "An input value is not acceptable (`field` says which)",
        "INVALID_STATE": "The object is not in a state that allows this (e.g. already closed)",
        "ALREADY_EXISTS": "The same thing exists already",
        "INSUFFICIENT_QUANTITY": "The resource has less remaining than asked for",
        "EXCEEDS_NEED": "The quantity is more than the need still lacks",
        "FULL": "No places are left",
        "INVALID_CREDENTIALS": "Unknown username or wrong password",
        "TOO_MANY_ATTEMPTS": "Too many failed sign-ins for this username: wait, then try again",
        "PASSWORD_CHANGE_REQUIRED": "The one-time password of a new account: change it (changePassword) first",
    },
)


def _global_id(root: Any, info: Info[Any, Any]) -> strawberry.ID:
    return strawberry.ID(ids.encode(info._raw_info.parent_type.name, root.id))


@strawberry.interface(description="An object with an opaque global id, fetchable with `node(id)`")
class Node:
    id: strawberry.ID = strawberry.field(resolver=_global_id, description="Opaque global id")


@strawberry.type(description="Where a page of a connection stands")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether items follow this page (ask with `after: endCursor`)")
    has_previous_page: bool = strawberry.field(description="Always false: lists are paged forward only")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item of this page")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item: pass it as `after` for the next page"
    )


@strawberry.type(description="One item of a connection, with its cursor")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque cursor of this item, for `after`")
    node: T = strawberry.field(description="The item")


async def _total_count(root: Page[Any]) -> int:
    return await root.total_count()


@strawberry.type(description="A page of a list, paged by opaque keyset cursors")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, in the list's order")
    page_info: PageInfo = strawberry.field(description="Where this page stands in the list")
    total_count: int = strawberry.field(resolver=_total_count, description="How many items the whole list has")


def _user_error_message(root: Any, info: Info[Any, Any]) -> str:
    return translate(root.message, getattr(info.context, "language", DEFAULT))


@strawberry.type(description="An expected failure of a mutation")
class UserError:
    field: list[str] | None = strawberry.field(description="Path of the input field at fault, if one is")
    message: str = strawberry.field(
        resolver=_user_error_message, description="What went wrong, in the request's language (Accept-Language)"
    )
    code: ErrorCode = strawberry.field(description="Why, the same in every language")


# what a payload's `userErrors` holds: the rules' errors (resolvers.errors), which strawberry
# completes as `UserError`; such a field says so with `graphql_type=list[UserError]`
UserErrorRows = list[errors.UserError]


class _RowCheck:
    """The `is_type_of` of a GraphQL type declared over rows; `row` (the row class and the
    attribute values told apart) is read by schema.streamline, through the bound method."""

    __slots__ = ("row",)

    def __init__(self, row_type: type, equal: dict[str, Any]) -> None:
        self.row = (row_type, equal)

    def __call__(self, cls: type, obj: Any, info: Any) -> bool:
        row_type, equal = self.row
        return isinstance(obj, row_type) and all(getattr(obj, k) == v for k, v in equal.items())


def is_row(row_type: type, **equal: Any) -> Any:
    """An `is_type_of` for a GraphQL type declared over rows of `row_type` (optionally
    only those whose attributes equal the given values)."""
    return classmethod(_RowCheck(row_type, equal))


class Schema(strawberry.Schema):
    """strawberry's Schema whose errors are coded and masked (gongjian.observability)
    instead of logged one by one with their tracebacks."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        observability.process_errors(errors, execution_context)

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> UnwindingRunner:
        return UnwindingRunner(execution_context=execution_context, extensions=extensions)
