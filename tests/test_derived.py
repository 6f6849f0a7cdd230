"""Declared once (issue 13): the ordinary resolvers of the types in schema/areas.py,
schema/orders.py, schema/duallist.py and schema/pairings.py are read from the same SQL
declaration as the compiled path (resolvers/compiled/derive.py, schema/derived.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg
import httpx
import pytest
import strawberry
from graphql import is_interface_type
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from db.pool import SingleConnectionDatabase
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids, orders, relations
from resolvers.compiled import derive
from resolvers.compiled.declarations import SOURCES, Column, Field, GlobalId, Relation, Source
from schema import derived, root
from schema.areas import Household
from tests import builders as b
from tests import test_compiled
from tests.conftest import TEST_SECRET
from tests.support import Api
from tests.test_authorization_matrix import gid
from tests.test_compiled import Both

both = test_compiled.both  # the fixture of the two apps, one with compiled reads off

# the declared types of the four modules whose ordinary resolvers are derived
AREAS = (
    *ids.AREA_TYPES.values(),
    "Household",
    "Person",
    "Organisation",
    "Post",
    "Adoption",
)  # schema/areas.py, adoptions.py
TYPES = (*AREAS, "ServiceOrder", "OrderEvent", "Resource", "Need", "Exchange", "Registration")


NOTHING = Source("none", "false", {})


def _fields() -> dict[tuple[str, str], StrawberryField]:
    """Every field of the schema's object types, by (type name, GraphQL field name)."""
    schema: Any = root.build()
    found = {}
    for type_name, graphql_type in schema._schema.type_map.items():
        for field_name, graphql_field in getattr(graphql_type, "fields", {}).items():
            field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if isinstance(field, StrawberryField):
                found[(type_name, field_name)] = field
    return found


def _is_declared(field: StrawberryField) -> bool:
    return field.base_resolver is not None and derived.is_declared(field.base_resolver.wrapped_func)


def test_every_declared_relation_is_read_from_its_declaration_or_excepted_with_a_reason() -> None:
    fields = _fields()
    undecided = []
    for type_name in TYPES:
        for field_name, declared in SOURCES[type_name].fields.items():
            if not isinstance(declared, Relation):
                continue
            key = (type_name, field_name)
            if _is_declared(fields[key]):
                assert derive.reader(declared) is not None, key
            elif not derived.OWN_RESOLVERS.get(key):
                undecided.append(key)
    assert undecided == [], "declared relations neither derived nor excepted with a reason"
    # an exception is for a field that keeps its own resolver
    stale = [
        key
        for key in derived.OWN_RESOLVERS
        if _is_declared(fields[key]) or key[1] not in SOURCES.get(key[0], NOTHING).fields
    ]
    assert stale == []


def test_every_field_read_from_its_declaration_has_one_the_ordinary_path_can_read() -> None:
    """Anywhere in the schema: a `declared()` field without a readable declaration would
    fail on its first request; here it fails at once."""
    declared = [key for key, field in _fields().items() if _is_declared(field)]
    assert len(declared) >= 20
    schema: Any = root.build()
    for type_name, field_name in declared:
        graphql_type = schema._schema.get_type(type_name)
        # an interface's field (e.g. Area.parent) is read as each of its types declares it
        concrete = (
            schema._schema.get_possible_types(graphql_type) if is_interface_type(graphql_type) else [graphql_type]
        )
        for t in concrete:
            assert derive.declared_reader(t.name, field_name) is not None, (t.name, field_name)


def test_the_derived_relations_cover_most_of_the_declared_relations() -> None:
    fields = _fields()
    relations_ = [(t, f) for t in TYPES for f, declared in SOURCES[t].fields.items() if isinstance(declared, Relation)]
    derived_ = [key for key in relations_ if _is_declared(fields[key])]
    assert len(derived_) * 2 > len(relations_), (len(derived_), len(relations_))


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (Column("{row}.to_status"), derive.Attribute("to_status")),
        (Column("{row}.phone", masked_by="phone"), None),
        (Column("({row}.quantity - {row}.fulfilled)"), None),
        (GlobalId(), None),
        (Relation("Household", "one", "{row}.id = {parent}.household_id"), derive.ByKey("Household", "household_id")),
        (Relation("Household", "one", "{row}.id = {parent}.household_id", guard="household"), None),
        (Relation("Household", "one", "{row}.id = {parent}.household_id AND {row}.label = 'x'"), None),
        (Relation("NoSuchType", "one", "{row}.id = {parent}.household_id"), None),
        (
            Relation("District", "one", "{row}.id = ANY({parent}.path) AND {row}.level = 'DISTRICT'"),
            derive.Ancestor("District", "path", "DISTRICT"),
        ),
        # the level must be the target's own
        (Relation("District", "one", "{row}.id = ANY({parent}.path) AND {row}.level = 'TOWN'"), None),
        (Relation("OrderEvent", "list", "{row}.order_id = {parent}.id"), derive.Children("OrderEvent", "order_id")),
        (Relation("OrderEvent", "list", "{row}.actor_person_id = {parent}.id"), None),  # no batch for that column
        (Relation("Exchange", "connection", "{row}.need_id = {parent}.id"), None),
    ],
)
def test_the_shapes_read_from_a_declaration(declared: Field, expected: derive.Derivation | None) -> None:
    assert derive.derivation(declared) == expected


def test_a_declared_target_is_read_through_the_rule_node_reads() -> None:
    """The relation and node(id) share the type's rule loader (one statement per batch)."""
    assert relations.rows_of("Building").level == "BUILDING"
    assert relations.rows_of("Area").level is None
    assert relations.rows_of("Need").visible is relations.rows_of("Need").visible


NEED_AREA = "query Derived($id: ID!) {{ node(id: $id) {{ ... on Need {{ {alias}: area {{ __typename id }} }} }} }}"


async def test_a_relation_declared_once_serves_both_paths(both: Both, monkeypatch: pytest.MonkeyPatch) -> None:
    """Change only the declaration of `Need.area` (here: to the need's community) and both
    the compiled and the ordinary path answer from it, identically."""
    w = await b.world(both.conn)
    need = await b.need(both.conn, w.building)
    token = both.compiled.token_for(w.users["admin"])
    variables = {"id": gid("Need", need)}

    query = NEED_AREA.format(alias="area")
    assert await both.same(query, variables, token) == "compiled"
    answer = await both.ordinary.post(query, variables, token=token)
    assert answer["data"]["node"]["area"] == {"__typename": "Building", "id": gid("Building", w.building)}

    source = SOURCES["Need"]
    community = Relation("Area", "one", "{row}.id = {parent}.community_id")
    monkeypatch.setitem(SOURCES, "Need", dataclasses.replace(source, fields={**source.fields, "area": community}))
    query = NEED_AREA.format(alias="redeclared")  # a text of its own: no plan of the first declaration
    assert await both.same(query, variables, token) == "compiled"
    answer = await both.ordinary.post(query, variables, token=token)
    assert answer["data"]["node"]["redeclared"] == {"__typename": "Community", "id": gid("Community", w.community)}


async def _order_probe(info: Info[Any, Any], id: int) -> Any:
    return await info.context.loader(orders.order_by_id).load(id)


@strawberry.type(description="A test-only type over the rows of service orders")
class OrderProbe:
    number: str = strawberry.field(description="The order's number")
    home: Household | None = derived.declared("Its household: a field added by its declaration alone")


@strawberry.type
class OrderProbeQuery:
    order_probe: OrderProbe | None = strawberry.field(resolver=_order_probe, description="An order by its key")


async def test_a_field_added_by_its_declaration_is_read_by_the_ordinary_path(
    conn: asyncpg.Connection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new type and relation: one declaration and one typed line, no resolver; the
    relation reads its target through the target's rule (null where node() is null)."""
    home = Relation("Household", "one", "{row}.id = {parent}.household_id")
    monkeypatch.setitem(SOURCES, "OrderProbe", Source("service_order_rows", "false", {"home": home}))
    w, far = await b.world(conn), await b.world(conn)
    order = await b.service_order(conn, w)
    app = create_app(settings, db=SingleConnectionDatabase(conn), extra_queries=[OrderProbeQuery])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        api = Api(client=client, secret=TEST_SECRET)
        query = "query($id: Int!) { orderProbe(id: $id) { number home { id label } } }"
        mine = await api.ok(query, {"id": order}, token=api.token_for(w.users["resident"]))
        theirs = await api.ok(query, {"id": order}, token=api.token_for(far.users["admin"]))
        node = await api.ok(
            "query($id: ID!) { node(id: $id) { id } }",
            {"id": gid("Household", w.household)},
            token=api.token_for(far.users["admin"]),
        )
    assert mine["orderProbe"]["home"] == {"id": gid("Household", w.household), "label": "1单元101"}
    assert theirs["orderProbe"]["home"] is None and node["node"] is None
