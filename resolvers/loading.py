"""DataLoader batch functions made from a `db` look-up: one statement per batch, answers
in key order (CONVENTIONS 4)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import TypeVar

from db.access import ViewerKey
from db.pool import Conn
from resolvers.access import viewer_key
from resolvers.context import BatchFn, Context

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def keyed(fetch: Callable[[Conn, list[K]], Awaitable[Mapping[K, V]]]) -> BatchFn[K, V | None]:
    """One value (or None) per key, from a look-up answering {key: value}."""

    async def batch(ctx: Context, keys: list[K]) -> list[V | None]:
        async with ctx.db.connection() as conn:
            found = await fetch(conn, keys)
        return [found.get(k) for k in keys]

    batch.__name__ = batch.__qualname__ = f"keyed_{fetch.__name__}"
    return batch


def grouped(fetch: Callable[[Conn, list[K]], Awaitable[Mapping[K, list[V]]]]) -> BatchFn[K, list[V]]:
    """A list (empty when none) per key, from a look-up answering {key: [values]}."""

    async def batch(ctx: Context, keys: list[K]) -> list[list[V]]:
        async with ctx.db.connection() as conn:
            found = await fetch(conn, keys)
        return [found.get(k, []) for k in keys]

    batch.__name__ = batch.__qualname__ = f"grouped_{fetch.__name__}"
    return batch


def visible_keyed(fetch: Callable[[Conn, ViewerKey, list[K]], Awaitable[Mapping[K, V]]]) -> BatchFn[K, V | None]:
    """One value (or None) per key, from a look-up that applies the type's SQL rule for the
    viewer (None where it hides the row, and for no viewer)."""

    async def batch(ctx: Context, keys: list[K]) -> list[V | None]:
        if ctx.viewer is None:
            return [None for _ in keys]
        async with ctx.db.connection() as conn:
            found = await fetch(conn, viewer_key(ctx.viewer), keys)
        return [found.get(k) for k in keys]

    batch.__name__ = batch.__qualname__ = f"visible_keyed_{fetch.__name__}"
    return batch


def visible_grouped(
    fetch: Callable[[Conn, ViewerKey, list[K]], Awaitable[Mapping[K, list[V]]]],
) -> BatchFn[K, list[V]]:
    """A list per key of what the viewer sees (the type's SQL rule): empty for no viewer."""

    async def batch(ctx: Context, keys: list[K]) -> list[list[V]]:
        if ctx.viewer is None:
            return [[] for _ in keys]
        async with ctx.db.connection() as conn:
            found = await fetch(conn, viewer_key(ctx.viewer), keys)
        return [found.get(k, []) for k in keys]

    batch.__name__ = batch.__qualname__ = f"visible_grouped_{fetch.__name__}"
    return batch
