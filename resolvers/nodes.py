"""`node(id)` and `nodes(ids)`: every type with an id registers how to load it, with the
same visibility rule as wherever else the type is reached. Unknown, malformed or
not-visible ids give None, never an error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from resolvers import ids
from resolvers.context import Context

MAX_IDS = 100  # ids one `nodes` request may name

NodeLoader = Callable[[Context, list[int]], Awaitable[list[Any]]]

_loaders: dict[str, NodeLoader] = {}


def register(type_name: str, loader: NodeLoader) -> None:
    """`loader` answers primary keys in order with the visible object or None."""
    _loaders[type_name] = loader


def registered() -> list[str]:
    return sorted(_loaders)


async def resolve_nodes(ctx: Context, global_ids: list[str]) -> list[Any]:
    decoded = [ids.decode(g) for g in global_ids]
    by_type: dict[str, list[int]] = {}
    for item in decoded:
        if item is not None and item[0] in _loaders:
            by_type.setdefault(item[0], []).append(item[1])
    found: dict[tuple[str, int], Any] = {}
    for type_name, keys in by_type.items():
        unique = list(dict.fromkeys(keys))
        for key, obj in zip(unique, await _loaders[type_name](ctx, unique), strict=True):
            found[(type_name, key)] = obj
    return [found.get(item) if item is not None else None for item in decoded]
