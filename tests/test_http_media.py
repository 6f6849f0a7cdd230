"""GraphQL over HTTP: application/graphql-response+json with the specification's status
codes, application/json as before, and GETs that run whatever the client accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gongjian import media
from tests.probes import probe_api
from tests.support import REPO, Api

__all__ = ["probe_api"]

NEW = {"accept": "application/graphql-response+json, application/json;q=0.9"}
BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"}


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, media.JSON),
        ("*/*", media.JSON),
        ("application/json", media.JSON),
        ("application/graphql-response+json", media.GRAPHQL_RESPONSE),
        ("application/graphql-response+json, application/json;q=0.9", media.GRAPHQL_RESPONSE),
        ("application/json, application/graphql-response+json;q=0.5", media.JSON),
        ("application/*", media.GRAPHQL_RESPONSE),
        ("application/graphql-response+json;q=0, */*", media.JSON),
        ("text/plain", media.JSON),
    ],
)
def test_negotiation(accept: str | None, chosen: str) -> None:
    assert media.negotiate(accept) == chosen


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{ __typename "}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": "query Q($n: Int) { probes(first: $n) { totalCount } }", "variables": {"n": "x"}},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}, "PERSISTED_QUERY_NOT_FOUND"),
        (
            {
                "query": "{ probes(first: 100) { edges { node { children(first: 100) { edges { node {"
                " children(first: 100) { totalCount } } } } } } } }"
            },
            "QUERY_TOO_COSTLY",
        ),
    ],
)
async def test_request_errors_are_400_without_data_in_the_new_media_type(
    probe_api: Api, body: dict[str, Any], code: str | None
) -> None:
    new = await probe_api.client.post("/graphql", json=body, headers=NEW)
    assert new.status_code == 400, new.text
    assert new.headers["content-type"] == media.GRAPHQL_RESPONSE
    result = new.json()
    assert "data" not in result and result["errors"]
    if code is not None:
        assert result["errors"][0]["extensions"]["code"] == code
    # application/json keeps 200 with `data: null`, as every client so far expects
    old = await probe_api.client.post("/graphql", json=body)
    assert old.status_code == 200 and old.headers["content-type"] == media.JSON
    assert old.json()["data"] is None and old.json()["errors"] == result["errors"]


async def test_executed_operations_are_200_in_the_new_media_type(probe_api: Api) -> None:
    ok = await probe_api.client.post("/graphql", json={"query": "{ __typename }"}, headers=NEW)
    assert ok.status_code == 200 and ok.headers["content-type"] == media.GRAPHQL_RESPONSE
    assert ok.json() == {"data": {"__typename": "Query"}}
    # a field error: execution started, so 200 with the data entry (null here)
    failed = await probe_api.client.post("/graphql", json={"query": "{ boom }"}, headers=NEW)
    assert failed.status_code == 200 and "data" in failed.json()
    assert failed.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


@pytest.mark.parametrize("name", [{"a": 1}, ["a"], 7])
async def test_an_operation_name_that_is_not_a_string_is_400(probe_api: Api, name: object) -> None:
    response = await probe_api.client.post("/graphql", json={"query": "query a { __typename }", "operationName": name})
    assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_malformed_requests_are_400_in_the_media_type_asked_for(probe_api: Api) -> None:
    headers = {**NEW, "content-type": "application/json"}
    response = await probe_api.client.post("/graphql", content=b"{not json", headers=headers)
    assert response.status_code == 400 and response.headers["content-type"] == media.GRAPHQL_RESPONSE
    assert "data" not in response.json() and response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def _viewer_hash() -> str:
    manifest = json.loads((REPO / "schema" / "trusted_documents.json").read_text(encoding="utf-8"))
    return str(next(o["id"] for o in manifest["operations"] if o["name"] == "Viewer"))


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/graphql-response+json"])
async def test_a_hash_over_get_runs_for_any_accept_but_a_browsers(probe_api: Api, accept: str | None) -> None:
    extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": _viewer_hash()}})
    headers = {"accept": accept} if accept is not None else {}
    client = probe_api.client
    if accept is None:  # httpx sends */* unless told otherwise
        client.headers.pop("accept", None)
    response = await client.get("/graphql", params={"extensions": extensions}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"viewer": None}}


async def test_graphiql_only_for_a_browsers_page_request(probe_api: Api) -> None:
    page = await probe_api.client.get("/graphql", headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # curl's default: no page but a coded error saying what is missing
    curl = await probe_api.client.get("/graphql", headers={"accept": "*/*"})
    assert curl.status_code == 400 and curl.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # a browser following a link with a query runs it
    linked = await probe_api.client.get("/graphql", params={"query": "{ __typename }"}, headers=BROWSER)
    assert linked.json() == {"data": {"__typename": "Query"}}
