"""Cheaper per-field execution, applied to the built schema (issue 13, the ordinary path).

strawberry wraps every field that has a resolver in the same chain: a strawberry `Info`,
argument conversion, the field-extension chain (empty for most fields) and, for async
resolvers, one more coroutine around the resolver's own. graphql-core then calls each
object type's `is_type_of` on every object it completes. Most of that is per row returned.

`streamline` replaces, on the graphql-core schema strawberry built:

- the resolver of each field that has no field extensions (no `permission_classes`), no
  exception handlers and only scalar or enum arguments, by a direct call of the Python
  resolver (arguments renamed, root and a strawberry `Info` passed as it asks for them);
  fields with no resolver read the attribute directly; `Node.id` encodes without `Info`;
- the `is_type_of` of the types declared over rows (`base.is_row`) by one `resolve_type`
  per interface that looks the row's class up in a table (and, for areas, the level).
  Nothing else asks which type a row is: a field of a concrete type gets that type's rows.

Fields with permission classes, input-object or list arguments, subscriptions and anything
strawberry treats specially keep strawberry's own resolver, so answers and errors stay as
they were (the whole suite runs over the streamlined schema).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLAbstractType, GraphQLInterfaceType, GraphQLObjectType
from graphql import GraphQLResolveInfo as RawInfo
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.scalar import ScalarDefinition, ScalarWrapper

from resolvers import ids

BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
Resolver = Callable[..., Any]
GraphQLResolveInfo = RawInfo[Any]


def _node_id(root: Any, info: GraphQLResolveInfo) -> str:
    return ids.encode(info.parent_type.name, root.id)


def _attribute(name: str) -> Resolver:
    def resolve(root: Any, info: GraphQLResolveInfo, **_: Any) -> Any:
        return getattr(root, name)

    return resolve


def _plain_argument(argument_type: Any, scalars: Any) -> bool:
    """An argument strawberry passes through unchanged: a scalar (but GlobalID) or an
    enum, optional or not."""
    if isinstance(argument_type, StrawberryMaybe):
        return False
    if isinstance(argument_type, StrawberryOptional):
        argument_type = argument_type.of_type
    if isinstance(argument_type, LazyType):
        argument_type = argument_type.resolve_type()
    if isinstance(argument_type, StrawberryEnumDefinition) or hasattr(argument_type, "__strawberry_definition__"):
        return isinstance(getattr(argument_type, "__strawberry_definition__", argument_type), StrawberryEnumDefinition)
    if argument_type is strawberry.relay.GlobalID:
        return False
    try:
        definition = scalars.get(argument_type)
    except TypeError:  # unhashable: a list or another wrapper
        return False
    return isinstance(definition, ScalarDefinition | ScalarWrapper)


def _direct(field: StrawberryField, schema: strawberry.Schema) -> Resolver | None:
    """A resolver calling `field`'s Python resolver as strawberry would, or None where the
    field needs strawberry's own chain."""
    resolver = field.base_resolver
    if resolver is None or field.extensions or field.is_subscription:
        return None
    if resolver.self_parameter is not None:
        return None
    converter = schema.schema_converter
    if converter._get_field_exception_handlers(field):
        return None
    scalars = converter.scalar_registry
    renames: dict[str, str] = {}
    for argument in field.arguments:
        if not _plain_argument(argument.type, scalars):
            return None
        assert argument.python_name
        renames[schema.config.name_converter.from_argument(argument)] = argument.python_name
    function = resolver.wrapped_func
    if not callable(function) or inspect.isasyncgenfunction(function):
        return None
    root_name = (resolver.root_parameter or resolver.parent_parameter or _NoParameter).name
    info_name = (resolver.info_parameter or _NoParameter).name
    info_class = schema.config.info_class

    def resolve(root: Any, info: GraphQLResolveInfo, **arguments: Any) -> Any:
        kwargs = {renames[k]: v for k, v in arguments.items()} if arguments else {}
        if root_name:
            kwargs[root_name] = root
        if info_name:
            kwargs[info_name] = info_class(_raw_info=info, _field=field)
        return function(**kwargs)  # an awaitable result is awaited by graphql-core

    return resolve


class _NoParameter:
    name = ""


def _row_table(schema: strawberry.Schema) -> dict[type, tuple[str | None, dict[Any, str]]]:
    """Row class -> (the attribute that tells the types apart or None, value -> type name)."""
    table: dict[type, tuple[str | None, dict[Any, str]]] = {}
    for name, graphql_type in schema._schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.is_type_of is None:
            continue
        row = getattr(graphql_type.is_type_of, "row", None)
        if row is None:
            continue
        row_type, equal = row
        if not equal:
            table[row_type] = (None, {None: name})
            continue
        ((attribute, value),) = equal.items()
        table.setdefault(row_type, (attribute, {}))[1][value] = name
    return table


def streamline(schema: strawberry.Schema) -> strawberry.Schema:
    """Swap in the direct resolvers and the table type resolution (see the module)."""
    table = _row_table(schema)
    graphql_schema = schema._schema
    subscription = graphql_schema.subscription_type
    plain_getattr = schema.config.default_resolver is getattr
    for graphql_type in graphql_schema.type_map.values():
        if isinstance(graphql_type, GraphQLObjectType) and not graphql_type.name.startswith("__"):
            if getattr(graphql_type.is_type_of, "row", None) is not None:
                graphql_type.is_type_of = None
            if graphql_type is subscription:
                continue
            for graphql_field in graphql_type.fields.values():
                field = (graphql_field.extensions or {}).get(BACKREF)
                if not isinstance(field, StrawberryField):
                    continue
                if field.base_resolver is not None and field.base_resolver.wrapped_func is _global_id_resolver():
                    graphql_field.resolve = _node_id
                elif field.is_basic_field and plain_getattr and not field.extensions:
                    graphql_field.resolve = _attribute(field.python_name)
                else:
                    direct = _direct(field, schema)
                    if direct is not None:
                        graphql_field.resolve = direct
        elif isinstance(graphql_type, GraphQLInterfaceType) and graphql_type.resolve_type is not None:
            graphql_type.resolve_type = _by_table(table, graphql_type.resolve_type)
    return schema


def _global_id_resolver() -> Any:
    from schema.base import _global_id

    return _global_id


def _by_table(
    table: dict[type, tuple[str | None, dict[Any, str]]], fallback: Callable[..., Any]
) -> Callable[[Any, GraphQLResolveInfo, GraphQLAbstractType], Any]:
    def resolve_type(obj: Any, info: GraphQLResolveInfo, abstract_type: GraphQLAbstractType) -> Any:
        known = table.get(type(obj))
        if known is not None:
            attribute, names = known
            name = names.get(None if attribute is None else getattr(obj, attribute))
            if name is not None:
                return name
        return fallback(obj, info, abstract_type)

    return resolve_type
