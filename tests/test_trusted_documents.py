"""Trusted documents: registered operations sent by their sha256 hash; optionally only those."""

from __future__ import annotations

import json
from dataclasses import replace

import asyncpg
import pytest
from graphql import parse, validate

from gongjian.config import Settings
from resolvers import trusted_documents
from schema.root import build
from tests.probes import probe_api, probe_client
from tests.support import CONTRACT, REPO, Api, contract_operations
from tests.test_contract import PENDING

__all__ = ["probe_api"]


def _registered(name: str) -> tuple[str, str]:
    manifest = json.loads((REPO / "schema" / "trusted_documents.json").read_text(encoding="utf-8"))
    operation = next(o for o in manifest["operations"] if o["name"] == name)
    return operation["id"], operation["body"]


def test_manifest_is_up_to_date_with_the_contract() -> None:
    committed = (REPO / "schema" / "trusted_documents.json").read_text(encoding="utf-8")
    schema = build()._schema
    fresh = trusted_documents.dumps(trusted_documents.manifest_from_contract(CONTRACT.glob("*.graphql"), schema))
    assert committed == fresh, "schema/trusted_documents.json is stale: run `gongjian trusted-documents <contract>`"
    manifest = json.loads(committed)
    assert manifest["format"] == "apollo-persisted-query-manifest" and len(manifest["operations"]) >= 40
    for operation in manifest["operations"]:
        assert operation["id"] == trusted_documents.document_id(operation["body"])
        assert not validate(schema, parse(operation["body"])), operation["name"]
    # every contract operation is registered but those still being built
    names = {operation["name"] for operation in manifest["operations"]}
    assert names == set(contract_operations()) - PENDING


@pytest.mark.parametrize("name", ["Viewer", "Areas", "PlaceOrder"])
async def test_registered_document_by_hash_answers_as_its_text(probe_api: Api, name: str) -> None:
    document_id, body = _registered(name)
    by_hash = await probe_api.client.post(
        "/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_id}}}
    )
    by_text = await probe_api.client.post("/graphql", json={"query": body})
    assert by_hash.status_code == by_text.status_code == 200
    assert by_hash.json() == by_text.json()


async def test_hash_over_get(probe_api: Api) -> None:
    document_id, _ = _registered("Viewer")
    extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": document_id}})
    response = await probe_api.client.get("/graphql", params={"extensions": extensions})
    assert response.status_code == 200
    assert "PERSISTED_QUERY_NOT_FOUND" not in response.text


@pytest.mark.parametrize(
    ("persisted", "code"),
    [
        ({"version": 1, "sha256Hash": "0" * 64}, "PERSISTED_QUERY_NOT_FOUND"),
        ({"version": 2, "sha256Hash": "0" * 64}, "BAD_REQUEST"),
        ({"version": 1}, "BAD_REQUEST"),
        ("nope", "BAD_REQUEST"),
    ],
)
async def test_unknown_or_malformed_hash_is_refused(probe_api: Api, persisted: object, code: str) -> None:
    response = await probe_api.client.post("/graphql", json={"extensions": {"persistedQuery": persisted}})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == code


async def test_text_that_does_not_match_its_hash_is_refused(probe_api: Api) -> None:
    document_id, _ = _registered("Viewer")
    response = await probe_api.client.post(
        "/graphql",
        json={"query": "{ __typename }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_id}}},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_trusted_documents_only(conn: asyncpg.Connection, settings: Settings) -> None:
    async for api in probe_client(conn, replace(settings, trusted_documents_only=True)):
        refused = await api.post("{ __typename }")
        assert refused["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
        assert refused["data"] is None
        document_id, body = _registered("Viewer")
        by_hash = await api.client.post(
            "/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_id}}}
        )
        by_text = await api.client.post("/graphql", json={"query": body})
        for response in (by_hash, by_text):
            codes = [e["extensions"]["code"] for e in response.json().get("errors", [])]
            assert "TRUSTED_DOCUMENT_REQUIRED" not in codes


async def test_any_document_is_accepted_by_default(probe_api: Api) -> None:
    assert (await probe_api.post("{ __typename }"))["data"] == {"__typename": "Query"}


async def test_query_text_with_a_lone_surrogate_is_refused_not_a_500(
    probe_api: Api, conn: asyncpg.Connection, settings: Settings
) -> None:
    """Half a surrogate pair (JSON `\\ud800`) has no UTF-8 form: hashing such a text must
    not fail, it simply matches no registered document."""
    document_id, _ = _registered("Viewer")
    query = "{ __typename # \ud800\n }"
    headers = {"content-type": "application/json"}
    # json.dumps escapes the lone surrogate as `\ud800`, as a client's JSON would
    persisted = {"version": 1, "sha256Hash": document_id}
    with_hash = json.dumps({"query": query, "extensions": {"persistedQuery": persisted}})
    response = await probe_api.client.post("/graphql", content=with_hash.encode(), headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    async for api in probe_client(conn, replace(settings, trusted_documents_only=True)):
        alone = await api.client.post("/graphql", content=json.dumps({"query": query}).encode(), headers=headers)
        assert alone.status_code == 200, alone.text
        assert alone.json()["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
