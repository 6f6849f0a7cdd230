"""Rate limits on mutations and sign-ins, per account and per address, counted in
PostgreSQL so that every server instance shares them."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg
import httpx
import pytest

from db.pool import PoolDatabase, SingleConnectionDatabase
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids
from tests import builders
from tests.conftest import TEST_SECRET
from tests.support import Api, contract_operations

LIMITED = Settings(
    secret=TEST_SECRET,
    rate_mutations_per_account=2,
    rate_mutations_per_address=5,
    rate_logins_per_address=3,
)


def _client(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def _place(client: httpx.AsyncClient, token: str, w: builders.World) -> httpx.Response:
    variables = {"householdId": ids.encode("Household", w.household), "title": "路灯坏了", "category": "REPAIR"}
    return await client.post(
        "/graphql",
        json={"query": contract_operations()["PlaceOrder"], "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )


def _limited(response: httpx.Response) -> int:
    """The retry time of a RATE_LIMITED answer (and checks the answer's shape)."""
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    retry_after = int(error["extensions"]["retryAfter"])
    assert 1 <= retry_after <= LIMITED.rate_window_seconds
    assert response.headers["retry-after"] == str(retry_after)
    return retry_after


@pytest.fixture
async def world(conn: asyncpg.Connection) -> builders.World:
    w = await builders.world(conn)
    await builders.service_categories(conn)
    return w


@pytest.fixture
async def app(conn: asyncpg.Connection) -> Any:
    return create_app(LIMITED, db=SingleConnectionDatabase(conn))


async def _orders(conn: asyncpg.Connection, w: builders.World) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM service_orders WHERE county_id = $1", w.county))


async def test_one_account_is_refused_after_its_mutations_per_window(
    app: Any, conn: asyncpg.Connection, world: builders.World
) -> None:
    api = Api(client=_client(app, "10.0.0.1"), secret=TEST_SECRET)
    resident, neighbour = api.token_for(world.users["resident"]), api.token_for(world.users["neighbour"])
    async with api.client as client:
        for _ in range(2):
            placed = await _place(client, resident, world)
            assert placed.status_code == 200 and placed.json()["data"]["placeOrder"]["userErrors"] == []
        _limited(await _place(client, resident, world))
        assert await _orders(conn, world) == 2  # the refused one created nothing
        # another account from the same address still may
        other = await _place(client, neighbour, world)
        assert other.status_code == 200 and "errors" not in other.json()
        # once the window has passed, the account may again
        await conn.execute("UPDATE rate_limits SET window_start = window_start - interval '1 minute'")
        again = await _place(client, resident, world)
        assert again.status_code == 200 and again.json()["data"]["placeOrder"]["userErrors"] == []


async def test_one_address_is_refused_after_its_mutations_per_window(
    app: Any, conn: asyncpg.Connection, world: builders.World
) -> None:
    busy, quiet = _client(app, "10.0.0.2"), _client(app, "10.0.0.3")
    api = Api(client=busy, secret=TEST_SECRET)
    tokens = [api.token_for(world.users[who]) for who in ("resident", "neighbour", "head", "staff", "admin", "unit")]
    async with busy, quiet:
        answers = [await _place(busy, token, world) for token in tokens]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        _limited(answers[-1])
        assert (await _place(quiet, tokens[-1], world)).status_code == 200


async def test_sign_ins_from_one_address_are_limited_whatever_the_username(
    app: Any, conn: asyncpg.Connection, world: builders.World
) -> None:
    names = await builders.with_passwords(conn, world)
    login = contract_operations()["Login"]
    async with _client(app, "10.0.0.4") as client:
        codes = []
        for key in ("admin", "staff", "head", "cadre"):
            variables = {"username": names[key], "password": builders.SAMPLE_PASSWORD}
            response = await client.post("/graphql", json={"query": login, "variables": variables})
            codes.append(response.status_code)
        assert codes == [200, 200, 200, 429]
        _limited(response)


async def test_instances_share_the_counts(committed_db: dict[str, Any]) -> None:
    pool = committed_db["pool"]
    async with pool.acquire() as raw:
        w = await builders.world(raw)
        await builders.service_categories(raw)
    one = create_app(LIMITED, db=PoolDatabase(pool))
    two = create_app(dataclasses.replace(LIMITED), db=PoolDatabase(pool))
    token = Api(client=httpx.AsyncClient(), secret=TEST_SECRET).token_for(w.users["resident"])
    async with _client(one, "10.0.0.5") as first, _client(two, "10.0.0.6") as second:
        assert (await _place(first, token, w)).status_code == 200
        assert (await _place(second, token, w)).status_code == 200
        _limited(await _place(first, token, w))
        _limited(await _place(second, token, w))
