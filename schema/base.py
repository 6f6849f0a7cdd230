"""The shared building blocks: Node, keyset connections, user errors."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext, Info

from resolvers import ids, observability
from resolvers.errors import ErrorCode as ErrorCodeValues
from resolvers.hooks import UnwindingRunner
from resolvers.pagination import Page
from resolvers.translation import DEFAULT, translate

T = TypeVar("T")

ErrorCode = strawberry.enum(ErrorCodeValues, description="Why a mutation was refused")


def _global_id(root: Any, info: Info[Any, Any]) -> strawberry.ID:
    return strawberry.ID(ids.encode(info._raw_info.parent_type.name, root.id))


@strawberry.interface(description="An object with an opaque global id, fetchable with `node(id)`")
class Node:
    id: strawberry.ID = strawberry.field(resolver=_global_id, description="Opaque global id")


@strawberry.type(description="Where a page of a connection stands")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="One item of a connection, with its cursor")
class Edge(Generic[T]):
    cursor: str
    node: T


async def _total_count(root: Page[Any]) -> int:
    return await root.total_count()


@strawberry.type(description="A page of a list, paged by opaque keyset cursors")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int = strawberry.field(resolver=_total_count, description="How many items the whole list has")


def _user_error_message(root: Any, info: Info[Any, Any]) -> str:
    return translate(root.message, getattr(info.context, "language", DEFAULT))


@strawberry.type(description="An expected failure of a mutation")
class UserError:
    field: list[str] | None = strawberry.field(description="Path of the input field at fault, if one is")
    message: str = strawberry.field(
        resolver=_user_error_message, description="What went wrong, in the request's language (Accept-Language)"
    )
    code: ErrorCode = strawberry.field(description="Why, the same in every language")  # type: ignore[valid-type]


def is_row(row_type: type, **equal: Any) -> Any:
    """An `is_type_of` for a GraphQL type declared over rows of `row_type` (optionally
    only those whose attributes equal the given values)."""

    def is_type_of(obj: Any, info: Any) -> bool:
        return isinstance(obj, row_type) and all(getattr(obj, k) == v for k, v in equal.items())

    return classmethod(lambda cls, obj, info: is_type_of(obj, info))


class Schema(strawberry.Schema):
    """strawberry's Schema whose errors are coded and masked (resolvers.observability)
    instead of logged one by one with their tracebacks."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        observability.process_errors(errors, execution_context)

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> UnwindingRunner:
        return UnwindingRunner(execution_context=execution_context, extensions=extensions)
