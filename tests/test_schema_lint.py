"""Schema lint: every public type, field, argument, enum value and input field has a
description (what graphql-schema-linter and @graphql-eslint's recommended rules ask)."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    is_specified_scalar_type,
)

from schema.root import build


def undescribed(schema: GraphQLSchema) -> list[str]:
    """Schema coordinates (`Type.field(argument)`) that have no description."""
    missing: list[str] = []
    for name, named in schema.type_map.items():
        if name.startswith("__") or is_specified_scalar_type(named):
            continue
        if not named.description:
            missing.append(name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [f"{name}.{field_name}({a})" for a, arg in field.args.items() if not arg.description]
        elif isinstance(named, GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, field in named.fields.items() if not field.description]
        elif isinstance(named, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in named.values.items() if not value.description]
    return missing


def test_every_public_part_of_the_schema_has_a_description() -> None:
    missing = undescribed(build()._schema)
    assert missing == [], f"{len(missing)} without a description, e.g. {missing[:10]}"


def test_the_lint_finds_what_is_missing() -> None:
    from graphql import build_schema

    schema = build_schema('"A query" type Query { "Described" ok(bare: Int): Int bareField: Int }')
    assert undescribed(schema) == ["Query.ok(bare)", "Query.bareField"]
