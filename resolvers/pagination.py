"""Keyset pagination: opaque cursors over a sort key, `first` checked, `totalCount` lazy."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson

from resolvers.errors import bad_user_input

T = TypeVar("T")

DEFAULT_FIRST = 20
MAX_FIRST = 100


def checked_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_FIRST
    if first < 0 or first > MAX_FIRST:
        raise bad_user_input(f"`first` must be between 0 and {MAX_FIRST}, got {first}", argument="first")
    return first


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The sort key a cursor stands for; a malformed cursor is the client's error."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, UnicodeError, ValueError, orjson.JSONDecodeError):
        raise bad_user_input("`after` is not a cursor this API gave out", argument="after") from None
    if not isinstance(key, list) or not key:
        raise bad_user_input("`after` is not a cursor this API gave out", argument="after")
    return key


def id_after(after: str | None) -> int | None:
    """The id of a cursor over a list paged by id alone (None without a cursor)."""
    key = decode_cursor(after)
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], int) or isinstance(key[0], bool):
        raise bad_user_input("`after` is not a cursor this API gave out", argument="after")
    return key[0]


@dataclass(frozen=True)
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = False
    start_cursor: str | None = None


@dataclass(frozen=True)
class Edge(Generic[T]):
    cursor: str
    node: T


async def _no_count() -> int:
    raise AssertionError("totalCount was not given for this connection")


@dataclass
class Page(Generic[T]):
    """What a connection field returns; `count` runs only when `totalCount` is selected."""

    edges: list[Edge[T]]
    page_info: PageInfo
    count: Callable[[], Awaitable[int]] = field(default=_no_count)
    _total: int | None = None

    async def total_count(self) -> int:
        if self._total is None:
            self._total = await self.count()
        return self._total


def page_from_rows(
    rows: Sequence[T],
    first: int,
    key: Callable[[T], Sequence[Any]],
    count: Callable[[], Awaitable[int]],
) -> Page[T]:
    """Build a page from up to `first + 1` rows fetched after the cursor's key."""
    visible = list(rows[:first])
    edges = [Edge(cursor=encode_cursor(key(row)), node=row) for row in visible]
    return Page(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > first,
            end_cursor=edges[-1].cursor if edges else None,
            start_cursor=edges[0].cursor if edges else None,
        ),
        count=count,
    )


def page_of_known_total(rows: Sequence[T], first: int, key: Callable[[T], Sequence[Any]], total: int) -> Page[T]:
    async def count() -> int:
        return total

    return page_from_rows(rows, first, key, count)
