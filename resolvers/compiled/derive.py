"""The ordinary path read from the same declaration as the compiled one.

A declared field (`declarations.py`) whose SQL has one of the shapes below is read on the
ordinary path without a resolver of its own: the row's attribute, or the target's rows
through the target's SQL rule and the request's DataLoaders (`resolvers/relations.py`),
so both paths answer from one declaration, and a relation is null exactly where node()
of its target is. Anything else (masked columns, computed SQL, guarded relations, keyset
connections) keeps a resolver written beside its type, or is listed there as an exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from resolvers import relations
from resolvers.compiled.declarations import SOURCES, Column, Field, Relation
from resolvers.context import Context


@dataclass(frozen=True)
class Attribute:
    """`Column("{row}.name")` (not masked): the row's attribute `name`."""

    name: str


@dataclass(frozen=True)
class ByKey:
    """`Relation(target, "one", "{row}.id = {parent}.column")`: the target row whose id the
    parent holds (null when the column is null or the target's rule hides the row)."""

    target: str
    column: str


@dataclass(frozen=True)
class Ancestor:
    """`Relation(target, "one", "{row}.id = ANY({parent}.column) AND {row}.level = 'LEVEL'")`:
    the area of that level on the parent's path."""

    target: str
    column: str
    level: str


@dataclass(frozen=True)
class Children:
    """`Relation(target, "list", "{row}.column = {parent}.id")`, or that `AND` the target's
    rule (its `node_filter`), optionally with a condition between (`AND {row}.until IS NULL
    AND` the rule): the target rows pointing at the parent, as the batch registered for that
    column (and condition) reads them (through the target's rule, if it has one)."""

    target: str
    column: str
    condition: str = ""


Derivation = Attribute | ByKey | Ancestor | Children

_NAME = r"([a-z_][a-z0-9_]*)"
_ATTRIBUTE = re.compile(r"\{row\}\." + _NAME)
_BY_KEY = re.compile(r"\{row\}\.id = \{parent\}\." + _NAME)
_ANCESTOR = re.compile(r"\{row\}\.id = ANY\(\{parent\}\." + _NAME + r"\) AND \{row\}\.level = '([A-Z]+)'")
_CHILDREN = re.compile(r"\{row\}\." + _NAME + r" = \{parent\}\.id(?: AND (.+))?")


def derivation(declared: Field) -> Derivation | None:
    """How the ordinary path reads a declared field, or None where the SQL says more than
    these shapes (its resolver stays written by hand)."""
    if isinstance(declared, Column):
        found = _ATTRIBUTE.fullmatch(declared.sql)
        return Attribute(found[1]) if found and declared.masked_by is None else None
    if not isinstance(declared, Relation) or declared.guard is not None:
        return None
    if declared.kind == "one":
        if found := _BY_KEY.fullmatch(declared.where):
            return ByKey(declared.target, found[1]) if relations.readable(declared.target) else None
        if found := _ANCESTOR.fullmatch(declared.where):
            ancestor = Ancestor(declared.target, found[1], found[2])
            readable = relations.readable(declared.target)
            return ancestor if readable and relations.rows_of(declared.target).level == found[2] else None
    if declared.kind == "list" and (found := _CHILDREN.fullmatch(declared.where)):
        condition = _besides_rule(declared.target, found[2])
        return (
            Children(declared.target, found[1], condition)
            if condition is not None and relations.readable_children(declared.target, found[1], condition)
            else None
        )
    return None


def _besides_rule(target: str, rest: str | None) -> str | None:
    """What a list relation asks of its rows besides `{row}.column = {parent}.id`: "" for
    nothing or the target's rule alone, the condition before `AND` the rule; None when the
    rule is not what it ends with."""
    rule = SOURCES[target].node_filter
    if rest is None or rest == rule:
        return ""
    if rest.endswith(f" AND {rule}"):
        return rest.removesuffix(f" AND {rule}")
    return None


# the value of a field for a row: the value itself, or an awaitable of it (graphql-core awaits it)
Reader = Callable[[Any, Context], Any]


def _attribute(name: str) -> Reader:
    def read(root: Any, ctx: Context) -> Any:
        return getattr(root, name)

    return read


def _by_key(target: str, column: str) -> Reader:
    rows = relations.rows_of(target)

    def read(root: Any, ctx: Context) -> Any:
        key = getattr(root, column)
        return None if key is None else rows.one(ctx, key)

    return read


def _ancestor(target: str, column: str) -> Reader:
    rows = relations.rows_of(target)

    async def read(root: Any, ctx: Context) -> Any:
        return next((row for row in await rows.many(ctx, getattr(root, column)) if row is not None), None)

    return read


def _children(target: str, column: str, condition: str) -> Reader:
    batch = relations.children_of(target, column, condition)

    def read(root: Any, ctx: Context) -> Any:
        return ctx.loader(batch).load(root.id)

    return read


@cache
def reader(declared: Field) -> Reader | None:
    """The ordinary path's reader of a declared field (None: not derivable)."""
    match derivation(declared):
        case Attribute(name):
            return _attribute(name)
        case ByKey(target, column):
            return _by_key(target, column)
        case Ancestor(target, column, _):
            return _ancestor(target, column)
        case Children(target, column, condition):
            return _children(target, column, condition)
        case None:
            return None


def declared_reader(type_name: str, field_name: str) -> Reader:
    """The reader of the field `field_name` (GraphQL name) as `type_name` declares it."""
    found = reader(SOURCES[type_name].fields[field_name])
    if found is None:
        raise LookupError(f"{type_name}.{field_name}: its declaration has no ordinary reading")
    return found
