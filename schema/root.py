"""The root types and the Schema object, assembled from one mixin per domain."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension

from schema import areas, duallist
from schema.node import NodeQuery

QUERIES: list[type] = [NodeQuery, areas.AreasQuery, duallist.DualListQuery]
MUTATIONS: list[type] = [areas.AreasMutation, duallist.DualListMutation]
SUBSCRIPTIONS: list[type] = []


def _merge(name: str, parts: Sequence[type]) -> type | None:
    if not parts:
        return None
    return strawberry.type(type(name, tuple(parts), {}))


def build(
    extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    query = _merge("Query", QUERIES)
    assert query is not None
    return strawberry.Schema(
        query=query,
        types=[*areas.ALL_TYPES, *duallist.ALL_TYPES],
        mutation=_merge("Mutation", MUTATIONS),
        subscription=_merge("Subscription", SUBSCRIPTIONS),
        extensions=list(extensions),
    )


def sdl() -> str:
    schema: Any = build()
    return str(schema.as_str()) + "\n"
