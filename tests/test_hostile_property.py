"""Property: whatever a client sends (random JSON bodies; random values for every variable of
every served contract operation, ids of every kind and none, any account), the answer is a
GraphQL-shaped JSON body with coded errors only: never a 5xx, never INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import base64
import json
from typing import Any

import asyncpg
import pytest
from graphql import ListTypeNode, NamedTypeNode, NonNullTypeNode, OperationDefinitionNode, TypeNode, parse
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from gongjian.config import Settings
from resolvers import ids
from tests import builders
from tests.conftest import TEST_SECRET
from tests.support import Api, contract_operations
from tests.test_contract import PENDING

OPERATIONS = {name: text for name, text in contract_operations().items() if name not in PENDING}
TYPE_NAMES = [
    "County",
    "Town",
    "Community",
    "District",
    "Compound",
    "Building",
    "Unit",
    "Household",
    "Person",
    "Organisation",
    "User",
    "Resource",
    "Need",
    "Exchange",
    "ServiceOrder",
    "Activity",
    "Pairing",
    "Area",
]


@pytest.fixture
def settings() -> Settings:
    """No rate limits: each example should reach the resolvers, not RATE_LIMITED."""
    return Settings(
        secret=TEST_SECRET, rate_mutations_per_account=0, rate_mutations_per_address=0, rate_logins_per_address=0
    )


def _named(node: TypeNode) -> tuple[str, bool]:
    """The named type of a variable and whether it is a list."""
    listed = False
    while not isinstance(node, NamedTypeNode):
        listed = listed or isinstance(node, ListTypeNode)
        assert isinstance(node, ListTypeNode | NonNullTypeNode)
        node = node.type
    return node.name.value, listed


def _variables(text: str) -> list[tuple[str, str, bool]]:
    [definition] = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
    return [(v.variable.name.value, *_named(v.type)) for v in definition.variable_definitions or ()]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
raw_ids = st.one_of(
    st.builds(lambda t, pk: ids.encode(t, pk), st.sampled_from(TYPE_NAMES), st.integers(-5, 2**63)),
    st.builds(
        lambda t, pk: base64.urlsafe_b64encode(f"{t}:{pk}".encode()).decode().rstrip("="),
        st.text(max_size=12),
        st.text(max_size=8),
    ),
    st.text(max_size=30),
)
SCALARS: dict[str, Any] = {
    "ID": raw_ids,
    "String": st.text(max_size=40),
    "Int": st.one_of(st.integers(-(2**40), 2**40), st.integers(0, 100)),
    "Float": st.floats(allow_nan=False, allow_infinity=False),
    "Boolean": st.booleans(),
    "Date": st.one_of(st.dates().map(str), st.text(max_size=12)),
    "DateTime": st.one_of(st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()), st.text(max_size=30)),
}


def _value(type_name: str, listed: bool, known_ids: list[str]) -> Any:
    base = SCALARS.get(type_name, st.text(max_size=12))  # enums and others: any text
    if type_name == "ID" and known_ids:
        base = st.one_of(st.sampled_from(known_ids), base)
    base = st.one_of(base, json_values)  # and sometimes a value of the wrong shape
    return st.lists(base, max_size=3) if listed else base


@st.composite
def requests(draw: st.DrawFn, known_ids: list[str]) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(OPERATIONS)))
    variables = {}
    for variable, type_name, listed in _variables(OPERATIONS[name]):
        if draw(st.booleans()) or draw(st.integers(0, 3)) > 0:
            variables[variable] = draw(_value(type_name, listed, known_ids))
    return name, variables


def _only_coded(status: int, body: Any) -> None:
    assert status < 500, body
    assert isinstance(body, dict) and ("data" in body or "errors" in body), body
    for error in body.get("errors", []):
        code = error["extensions"]["code"]
        assert code and code != "INTERNAL_SERVER_ERROR", body


@pytest.fixture
async def world(conn: asyncpg.Connection) -> tuple[builders.World, list[str]]:
    w = await builders.world(conn)
    await builders.service_categories(conn)
    resource = await builders.resource(conn, w.unit, [w.community])
    need = await builders.need(conn, w.community)
    order = await builders.service_order(conn, w)
    known = [
        ids.encode("County", w.county),
        ids.encode("Community", w.community),
        ids.encode("Compound", w.compound),
        ids.encode("Building", w.building),
        ids.encode("Household", w.household),
        ids.encode("Person", w.people["cadre"]),
        ids.encode("Organisation", w.unit),
        ids.encode("Resource", resource),
        ids.encode("Need", need),
        ids.encode("ServiceOrder", order),
    ]
    return w, known


@examples(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data(), who=st.sampled_from([None, "admin", "staff", "head", "cadre", "resident", "unit"]))
async def test_random_variables_for_every_operation_get_only_coded_errors(
    api: Api, world: tuple[builders.World, list[str]], data: st.DataObject, who: str | None
) -> None:
    w, known = world
    name, variables = data.draw(requests(known))
    headers = {"authorization": f"Bearer {api.token_for(w.users[who])}"} if who else {}
    response = await api.client.post(
        "/graphql", json={"query": OPERATIONS[name], "variables": variables}, headers=headers
    )
    _only_coded(response.status_code, response.json())


@examples(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    body=st.one_of(
        json_values,
        st.dictionaries(st.sampled_from(["query", "variables", "operationName", "extensions"]), json_values),
    )
)
async def test_random_json_bodies_get_only_coded_errors(api: Api, body: Any) -> None:
    response = await api.client.post("/graphql", content=json.dumps(body), headers={"content-type": "application/json"})
    _only_coded(response.status_code, response.json())
