"""Two real `gongjian serve` processes on one database: an order event produced by a
request on instance B reaches a subscriber connected to instance A."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from httpx_ws import aconnect_ws

from gongjian import tokens
from resolvers import ids
from tests import builders
from tests.conftest import TEST_SECRET
from tests.support import contract_operations

GONGJIAN = Path(sys.executable).parent / "gongjian"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serve(database_url: str, tmp: Path) -> AsyncIterator[str]:
    """A `gongjian serve` process; its base URL once /readyz answers."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GONGJIAN_SECRET": TEST_SECRET,
        "GONGJIAN_DATA_DIR": str(tmp),
        "GONGJIAN_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        str(GONGJIAN),
        "serve",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                assert process.returncode is None, "gongjian serve exited"
                try:
                    if (await client.get(f"{base}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("gongjian serve did not become ready")
        yield base
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _post(client: httpx.AsyncClient, base: str, op: str, variables: dict[str, Any], token: str) -> Any:
    response = await client.post(
        f"{base}/graphql",
        json={"query": contract_operations()[op], "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    result = response.json()
    assert "errors" not in result, result
    payload = next(iter(result["data"].values()))
    assert payload["userErrors"] == [], payload
    return payload["order"]


@pytest.mark.e2e
async def test_an_event_from_instance_b_reaches_a_subscriber_on_instance_a(
    committed_db: dict[str, Any], tmp_path: Path
) -> None:
    pool: asyncpg.Pool = committed_db["pool"]
    async with pool.acquire() as conn:
        w = await builders.world(conn)  # type: ignore[arg-type]
        await builders.service_categories(conn)  # type: ignore[arg-type]
    staff = tokens.sign(TEST_SECRET, w.users["staff"], 3600)[0]
    resident = tokens.sign(TEST_SECRET, w.users["resident"], 3600)[0]
    place = {"householdId": ids.encode("Household", w.household), "title": "楼道灯坏了", "category": "REPAIR"}
    async with (
        serve(committed_db["url"], tmp_path / "a") as a,
        serve(committed_db["url"], tmp_path / "b") as b,
        httpx.AsyncClient(timeout=10) as client,
    ):
        connecting: Any = aconnect_ws(f"{a}/graphql", client, subprotocols=["graphql-transport-ws"])
        async with connecting as ws:
            await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {staff}"}})
            assert await ws.receive_json(timeout=10) == {"type": "connection_ack"}
            await ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": contract_operations()["OrderEvents"],
                        "variables": {"communityId": ids.encode("Community", w.community)},
                    },
                }
            )
            # Instance A registers the subscriber before its listener LISTENs; once the
            # listener has, every later commit reaches the subscriber.
            for _ in range(300):
                listening = await pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'gongjian-events' AND query LIKE 'LISTEN%' AND state = 'idle'"
                )
                if listening:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("instance A never listened")
            order = await _post(client, b, "PlaceOrder", place, resident)
            message = await ws.receive_json(timeout=10)
            assert message["type"] == "next", message
            event = message["payload"]["data"]["orderEvents"]
            assert event["action"] == "PLACED"
            assert event["order"] == {"id": order["id"], "number": order["number"], "status": "SUBMITTED"}
            cadre = ids.encode("Person", w.people["cadre"])
            await _post(client, b, "DispatchOrder", {"orderId": order["id"], "assigneeId": cadre}, staff)
            message = await ws.receive_json(timeout=10)
            assert message["payload"]["data"]["orderEvents"]["action"] == "DISPATCHED"
            assert message["payload"]["data"]["orderEvents"]["order"]["status"] == "DISPATCHED"
            await ws.send_json({"id": "1", "type": "complete"})
