"""Inputs that once gave a 500 or INTERNAL_SERVER_ERROR: each now gets a coded refusal."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from resolvers import ids
from tests import builders
from tests.support import Api, contract_operations


def _coded(response: httpx.Response) -> list[str]:
    """The codes of a refusal that is a GraphQL-shaped JSON answer with no internal error."""
    assert response.status_code < 500, response.text
    body = response.json()
    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    assert "INTERNAL_SERVER_ERROR" not in codes, body
    return codes


@pytest.fixture
async def w(conn: asyncpg.Connection) -> builders.World:
    world = await builders.world(conn)
    await builders.service_categories(conn)
    return world


async def _post(api: Api, body: bytes | dict[str, Any], token: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if isinstance(body, dict):
        return await api.client.post("/graphql", json=body, headers=headers)
    return await api.client.post("/graphql", content=body, headers=headers)


@pytest.mark.parametrize("depth", [900, 5000, 50_000])
async def test_deeply_nested_json_variables(api: Api, w: builders.World, depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    body = b'{"query": "query($s: String) { viewer { id } }", "variables": {"s": ' + nested + b"}}"
    codes = _coded(await _post(api, body, api.token_for(w.users["admin"])))
    assert codes and set(codes) <= {"BAD_REQUEST", "BAD_USER_INPUT"}


async def test_invalid_utf8_body(api: Api) -> None:
    body = b'{"query": "{ viewer { id } }", "variables": {"s": "\xff\xfe"}}'
    assert _coded(await _post(api, body)) == ["BAD_REQUEST"]


@pytest.mark.parametrize("where", ["variable", "literal"])
async def test_integers_over_4300_digits(api: Api, w: builders.World, where: str) -> None:
    huge = "9" * 5000
    token = api.token_for(w.users["admin"])
    if where == "variable":
        body = b'{"query": "query($n: Int) { areas(first: $n) { totalCount } }", "variables": {"n": ' + huge.encode()
        body += b"}}"
        response = await _post(api, body, token)
    else:
        response = await _post(api, {"query": "{ areas(first: " + huge + ") { totalCount } }"}, token)
    codes = _coded(response)
    assert codes and set(codes) <= {"BAD_REQUEST", "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize("raw", ["Area:²", "Area:١٢", "Household:\u00b9", "Area:1\u0660"])
async def test_ids_with_non_ascii_digits_are_not_found(api: Api, w: builders.World, raw: str) -> None:
    import base64

    global_id = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    assert ids.decode(global_id) is None
    token = api.token_for(w.users["admin"])
    response = await _post(
        api, {"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": global_id}}, token
    )
    assert _coded(response) == [] and response.json()["data"] == {"node": None}


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
async def test_extreme_datetimes(api: Api, w: builders.World, at: str) -> None:
    token = api.token_for(w.users["staff"])
    listed = await _post(
        api,
        {"query": contract_operations()["Activities"], "variables": {"from": at, "to": at}},
        token,
    )
    assert _coded(listed)
    order = (
        await api.op(
            "PlaceOrder",
            {"householdId": ids.encode("Household", w.household), "title": "灯坏了", "category": "REPAIR"},
            token=api.token_for(w.users["resident"]),
        )
    )["data"]["placeOrder"]["order"]["id"]
    dispatched = await _post(
        api,
        {
            "query": contract_operations()["DispatchOrder"],
            "variables": {"orderId": order, "assigneeId": ids.encode("Person", w.people["cadre"]), "dueAt": at},
        },
        token,
    )
    assert _coded(dispatched)


async def test_lone_surrogate_in_operation_name(api: Api) -> None:
    body = b'{"query": "query A { __typename }", "operationName": "\\ud800"}'
    response = await _post(api, body)
    assert response.headers["content-type"].startswith("application/json")
    assert _coded(response)


def test_a_log_line_with_a_lone_surrogate_is_still_written() -> None:
    import json
    import logging

    from gongjian.logs import JsonFormatter

    record = logging.LogRecord("gongjian.graphql", logging.INFO, __file__, 1, "operation", None, None)
    record.fields = {"operation": "\ud800", "errors": ["BAD_REQUEST"]}
    line = JsonFormatter().format(record)
    assert json.loads(line)["operation"] == "\ud800"


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
async def test_extreme_dates(api: Api, w: builders.World, day: str) -> None:
    admin = api.token_for(w.users["admin"])
    area = ids.encode("County", w.county)
    for name, variables in [
        ("Compliance", {"areaId": area, "asOf": day}),
        ("MyPairings", {"asOf": day}),
    ]:
        who = admin if name == "Compliance" else api.token_for(w.users["cadre"])
        response = await _post(api, {"query": contract_operations()[name], "variables": variables}, who)
        assert set(_coded(response)) == {"GRAPHQL_VALIDATION_FAILED"}  # as every variable of the wrong form


async def test_searches_are_capped_at_100_characters(api: Api, w: builders.World) -> None:
    token = api.token_for(w.users["admin"])
    ops = contract_operations()
    at_cap = await _post(api, {"query": ops["Areas"], "variables": {"search": "滨" * 100}}, token)
    assert "errors" not in at_cap.json()
    for name, variables in [
        ("Areas", {"search": "滨" * 101}),
        ("Organisations", {"search": "局" * 60_000}),
        ("Compounds", {"communityId": ids.encode("Community", w.community), "search": "滨" * 101}),
    ]:
        response = await _post(api, {"query": ops[name], "variables": variables}, token)
        assert _coded(response) == ["BAD_USER_INPUT"], (name, response.json())
        assert response.json()["errors"][0]["extensions"]["maxLength"] == 100
    literal = await _post(api, {"query": '{ areas(filter: {search: "%s"}) { totalCount } }' % ("x" * 101)}, token)
    assert _coded(literal) == ["BAD_USER_INPUT"]


async def test_free_text_is_capped_at_10000_characters(api: Api, conn: asyncpg.Connection, w: builders.World) -> None:
    token = api.token_for(w.users["resident"])
    variables = {"householdId": ids.encode("Household", w.household), "title": "漏水", "category": "REPAIR"}
    too_long = await _post(
        api,
        {"query": contract_operations()["PlaceOrder"], "variables": {**variables, "description": "水" * 10_001}},
        token,
    )
    assert _coded(too_long) == ["BAD_USER_INPUT"]
    assert too_long.json()["errors"][0]["extensions"]["maxLength"] == 10_000
    assert await conn.fetchval("SELECT count(*) FROM service_orders WHERE county_id = $1", w.county) == 0


async def test_a_subscription_over_http_is_a_bad_request(api: Api, w: builders.World) -> None:
    variables = {"communityId": ids.encode("Community", w.community)}
    for token in (None, api.token_for(w.users["staff"])):
        response = await _post(api, {"query": contract_operations()["OrderEvents"], "variables": variables}, token)
        assert _coded(response) == ["BAD_REQUEST"]
