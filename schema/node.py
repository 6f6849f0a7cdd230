"""The `node` and `nodes` root fields."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import nodes, rules
from resolvers.permissions import SignedIn, described
from schema.base import Node


async def _node(
    info: Info[Any, Any], id: Annotated[strawberry.ID, strawberry.argument(description="A global id")]
) -> object:
    """A row of any Node type, or None."""
    return (await nodes.resolve_nodes(info.context, [id]))[0]


async def _nodes(
    info: Info[Any, Any],
    ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global ids; answers in their order")],
) -> list[object]:
    if len(ids) > nodes.MAX_IDS:
        from resolvers.errors import bad_user_input

        raise bad_user_input("`ids` may hold at most 100 ids", argument="ids")  # nodes.MAX_IDS
    return await nodes.resolve_nodes(info.context, list(ids))


@strawberry.type
class NodeQuery:
    node: object = strawberry.field(
        resolver=_node,
        graphql_type=Node | None,
        permission_classes=[SignedIn],
        description=described("Any object by its global id; null when unknown or not visible", rules.NODE_RULES),
    )
    nodes: list[object] = strawberry.field(
        resolver=_nodes,
        graphql_type=list[Node | None],
        permission_classes=[SignedIn],
        description=described("Objects by global id, in order; null where unknown or not visible", rules.NODE_RULES),
    )
