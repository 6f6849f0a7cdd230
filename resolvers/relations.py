"""What a relation declared in SQL (resolvers/compiled/declarations.py) reads on the
ordinary path: the rows of a type by id, through the type's SQL rule for the viewer, in the
request's batched DataLoaders.

Each type registers its rule's batch once (`register`); `node(id)` and every relation to
the type then read the same DataLoader, so a relation answers what node() answers for the
same viewer (null where the rule hides the row, or where an area is of another level) and
shares node()'s statement. A list relation whose rows point at their parent
(`{row}.column = {parent}.id`) reads the batch registered for that column
(`register_children`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resolvers import nodes
from resolvers.context import BatchFn, Context


@dataclass(frozen=True)
class RuleRows:
    """The rows of one GraphQL type: `visible` answers ids with what the type's SQL rule
    shows the viewer (None otherwise); areas only at `level` (a Community is no Building)."""

    visible: BatchFn[int, Any]
    level: str | None = None

    def keeps(self, row: Any) -> bool:
        return row is not None and (self.level is None or row.level == self.level)

    async def one(self, ctx: Context, key: int) -> Any:
        row = await ctx.loader(self.visible).load(key)
        return row if self.keeps(row) else None

    async def many(self, ctx: Context, keys: Sequence[int]) -> list[Any]:
        rows = await ctx.loader(self.visible).load_many(list(keys))
        return [row if self.keeps(row) else None for row in rows]


def rule_nodes(visible: BatchFn[int, Any], level: str | None = None) -> nodes.NodeLoader:
    """`node(id)` of a type: the rows its SQL rule shows the viewer (`visible`), areas only at
    `level` (the id of a Community names no Building)."""
    return RuleRows(visible, level).many


_by_type: dict[str, RuleRows] = {}
_children: dict[tuple[str, str, str], BatchFn[int, list[Any]]] = {}


def register(type_name: str, visible: BatchFn[int, Any], level: str | None = None, *, node: bool = True) -> None:
    """The rows of `type_name` are read through `visible`; also `node(id)`'s loader unless
    `node` is false (an interface such as Area is no node type of its own)."""
    _by_type[type_name] = RuleRows(visible, level)
    if node:
        nodes.register(type_name, rule_nodes(visible, level))


def register_children(type_name: str, column: str, batch: BatchFn[int, list[Any]], condition: str = "") -> None:
    """`batch` answers, per parent id, the rows of `type_name` whose `column` is that id (as
    the type's rule shows them to the viewer), in id order; of those, the rows `condition`
    holds for, where one is given (the SQL a declared relation asks besides the rule, e.g.
    `{row}.until IS NULL`)."""
    _children[(type_name, column, condition)] = batch


def rows_of(type_name: str) -> RuleRows:
    return _by_type[type_name]


def children_of(type_name: str, column: str, condition: str = "") -> BatchFn[int, list[Any]]:
    return _children[(type_name, column, condition)]


def readable(type_name: str) -> bool:
    return type_name in _by_type


def readable_children(type_name: str, column: str, condition: str = "") -> bool:
    return (type_name, column, condition) in _children
