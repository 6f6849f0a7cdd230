"""Every bad request gets a clear GraphQL-shaped JSON error: never a 500, never plain text."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from gongjian.config import Settings
from tests.probes import probe_api, probe_client
from tests.support import Api

__all__ = ["probe_api"]


def _only_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"errors"} and len(body["errors"]) == 1
    assert body["errors"][0]["extensions"]["code"] == code
    return str(body["errors"][0]["message"])


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"query": "{ __typename }"', "application/json", 400, "BAD_REQUEST"),  # malformed JSON
        (b"[]", "application/json", 400, "BAD_REQUEST"),  # not an object (no batching)
        (b'"{ __typename }"', "application/json", 400, "BAD_REQUEST"),
        (b"42", "application/json", 400, "BAD_REQUEST"),
        (b"null", "application/json", 400, "BAD_REQUEST"),
        (b"{}", "application/json", 400, "BAD_REQUEST"),  # no query
        (b'{"query": 42}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ __typename }", "variables": [1]}', "application/json", 400, "BAD_REQUEST"),
        (b"{ __typename }", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"query=%7B__typename%7D", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"\xff\xfe", "application/json", 400, "BAD_REQUEST"),  # not UTF-8
    ],
)
async def test_bad_bodies_get_json_errors(
    probe_api: Api, body: bytes, content_type: str, status: int, code: str
) -> None:
    response = await probe_api.client.post("/graphql", content=body, headers={"content-type": content_type})
    _only_error(response, status, code)


async def test_refused_requests_are_logged(probe_api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gongjian")
    await probe_api.client.post(
        "/graphql", content=b"{bad", headers={"content-type": "application/json", "x-request-id": "bad-1"}
    )
    refused = [r for r in caplog.records if r.getMessage() == "request refused"]
    assert len(refused) == 1 and refused[0].fields == {  # type: ignore[attr-defined]
        "request_id": "bad-1",
        "status": 400,
        "reason": "Unable to parse request body as JSON",
    }


async def test_mutation_over_get_is_refused(probe_api: Api) -> None:
    response = await probe_api.client.get("/graphql", params={"query": "mutation { x }"})
    message = _only_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in message and response.headers["allow"] == "GET, POST"


async def test_query_over_get_works(probe_api: Api) -> None:
    response = await probe_api.client.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}


async def test_bad_variables_over_get(probe_api: Api) -> None:
    response = await probe_api.client.get("/graphql", params={"query": "{ __typename }", "variables": "{nope"})
    _only_error(response, 400, "BAD_REQUEST")


async def test_other_methods_are_refused(probe_api: Api) -> None:
    _only_error(await probe_api.client.put("/graphql", json={"query": "{ __typename }"}), 405, "METHOD_NOT_ALLOWED")


async def test_syntax_error_and_unknown_field(probe_api: Api) -> None:
    syntax = await probe_api.post("{ probes { ")
    assert syntax["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    unknown = await probe_api.post("{ probez }")
    assert unknown["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Did you mean" in unknown["errors"][0]["message"]  # introspection is on by default


async def test_no_suggestions_when_introspection_is_off(conn: asyncpg.Connection, settings: Settings) -> None:
    async for api in probe_client(conn, replace(settings, introspection=False)):
        unknown = await api.post("{ probez }")
        assert unknown["errors"][0]["message"] == "Cannot query field 'probez' on type 'Query'."
        enum = await api.post("query($l: AreaLevel) { __typename }", {"l": "COUNTYY"})
        assert "Did you mean" not in enum["errors"][0]["message"]
        refused = await api.post("{ __schema { queryType { name } } }")
        assert refused["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection" in refused["errors"][0]["message"].lower()
        assert (await api.post("{ __typename }"))["data"] == {"__typename": "Query"}


async def test_introspection_on_by_default(probe_api: Api) -> None:
    result = await probe_api.post("{ __schema { queryType { name } } }")
    assert result == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize("field", ["boom", "brokenSql"])
async def test_unexpected_errors_are_masked_and_logged_with_request_id(
    probe_api: Api, caplog: pytest.LogCaptureFixture, field: str
) -> None:
    caplog.set_level(logging.INFO, logger="gongjian.graphql")
    response = await probe_api.client.post(
        "/graphql",
        json={"query": "query Probe { n: " + field + " }"},
        headers={"x-request-id": "req-42", "accept-language": "en"},
    )
    assert response.status_code == 200 and response.headers["x-request-id"] == "req-42"
    error = response.json()["errors"][0]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}
    assert "hunter2" not in response.text and "no_such_table" not in response.text
    logged = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert len(logged) == 1 and logged[0].fields["request_id"] == "req-42"  # type: ignore[attr-defined]
    from gongjian.logs import JsonFormatter

    line = JsonFormatter().format(logged[0])
    assert '"request_id":"req-42"' in line and "Traceback" in line


async def test_request_ids_are_generated_when_absent(probe_api: Api) -> None:
    response = await probe_api.client.post("/graphql", json={"query": "{ boom }"})
    request_id = response.json()["errors"][0]["extensions"]["requestId"]
    assert len(request_id) == 32 and response.headers["x-request-id"] == request_id


async def test_one_json_log_line_per_operation(probe_api: Api, caplog: pytest.LogCaptureFixture) -> None:
    import orjson

    from gongjian.logs import JsonFormatter

    caplog.set_level(logging.INFO, logger="gongjian.graphql")
    await probe_api.client.post(
        "/graphql",
        json={"query": "query Rows { probes(first: 2) { totalCount edges { node { n } } } }", "operationName": "Rows"},
        headers={"x-request-id": "line-1"},
    )
    lines = [r for r in caplog.records if r.getMessage() == "operation"]
    assert len(lines) == 1
    line = orjson.loads(JsonFormatter().format(lines[0]))
    assert line["request_id"] == "line-1" and line["operation"] == "Rows"
    assert line["sql_statements"] == 1 and line["errors"] == []  # totalCount is known: one statement
    assert isinstance(line["duration_ms"], float) and line["level"] == "INFO"


async def test_expected_errors_leave_no_traceback(probe_api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = await probe_api.post("{ probes(first: 101) { totalCount } }")
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert not [r for r in caplog.records if r.exc_info]


async def test_graphiql_and_introspection_switches_from_environment() -> None:
    from gongjian import config

    settings = config.load({"GONGJIAN_INTROSPECTION": "false", "GONGJIAN_GRAPHIQL": "off"})
    assert not settings.introspection and not settings.graphiql
    assert config.load({}).introspection and config.load({}).graphiql


async def test_cors_for_allowed_origins_only(probe_api: Api) -> None:
    """The test settings allow http://localhost:5173 (GONGJIAN_ALLOWED_ORIGINS)."""
    preflight = {"access-control-request-method": "POST", "access-control-request-headers": "authorization"}
    allowed = await probe_api.client.options("/graphql", headers={"origin": "http://localhost:5173", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    other = await probe_api.client.options("/graphql", headers={"origin": "https://evil.example", **preflight})
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    assert other.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    answer = await probe_api.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": "http://localhost:5173"}
    )
    assert answer.headers["access-control-allow-origin"] == "http://localhost:5173"


async def test_database_down_gives_json_503_with_retry_after(
    template_url: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A real pool, closed: every statement fails as when the database goes away."""
    import httpx

    from db.pool import PoolDatabase, create_pool
    from gongjian.app import create_app
    from tests.conftest import TEST_SECRET

    pool = await create_pool(template_url, min_size=0, max_size=1)
    await pool.close()
    app = create_app(settings, db=PoolDatabase(pool))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        token = Api(client=client, secret=TEST_SECRET).token_for(1)
        response = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"authorization": f"Bearer {token}", "x-request-id": "down-1"},
        )
        assert response.status_code == 503 and response.headers["retry-after"] == "2"
        # the session token's account is looked up as the operation starts to run: `data` is null
        assert response.json() == {
            "data": None,
            "errors": [
                {
                    "message": "The service cannot reach its database right now: try again",
                    "extensions": {"code": "SERVICE_UNAVAILABLE", "retryAfter": 2},
                }
            ],
        }
        faults = [r for r in caplog.records if getattr(r, "fields", {}).get("request_id") == "down-1"]
        assert [r.fields["code"] for r in faults if r.getMessage() == "database fault"] == ["SERVICE_UNAVAILABLE"]  # type: ignore[attr-defined]
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json() == {"status": "unavailable"}
