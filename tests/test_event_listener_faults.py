"""One order-event listener per process after any sequence of faults: a run of the
listener that outlives its cancellation (asyncio.wait_for before Python 3.12 can swallow
one, also inside asyncpg.connect) must neither deliver events nor keep a connection."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from db.events import Listener, connect_listener

CHANNEL = "listener_faults"


async def _listening(pool: asyncpg.Pool) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gongjian-events'"
            " AND datname = current_database()"
        )
    )


async def test_a_run_that_swallowed_its_cancellation_neither_delivers_nor_stays(committed_db: dict[str, Any]) -> None:
    pool = committed_db["pool"]
    gate = asyncio.Event()
    calls = 0

    async def connect() -> asyncpg.Connection:
        nonlocal calls
        calls += 1
        if calls == 1:  # the first run is cancelled while connecting, and the cancellation is lost
            try:
                await gate.wait()
            except asyncio.CancelledError:
                await gate.wait()
        return await connect_listener(committed_db["url"])

    received: list[dict[str, Any]] = []
    lost: list[None] = []
    listener = Listener(connect, lambda _channel, e: received.append(e), lambda: lost.append(None), channels=[CHANNEL])
    listener.start()
    await asyncio.sleep(0.05)  # the first run waits in connect
    listener.stop()
    listener.start()
    await asyncio.wait_for(listener.connected.wait(), timeout=10)
    gate.set()  # the first run's connection now arrives
    try:
        for _ in range(500):  # until the first run has connected and let go again
            await asyncio.sleep(0.01)
            if calls == 2 and await _listening(pool) == 1:
                break
        assert await _listening(pool) == 1
        await pool.execute(f"SELECT pg_notify('{CHANNEL}', '{{\"n\": 1}}')")
        await pool.execute(f"SELECT pg_notify('{CHANNEL}', '{{\"n\": 2}}')")
        for _ in range(200):
            if len(received) >= 2:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # a duplicate would arrive by now
        assert received == [{"n": 1}, {"n": 2}] and lost == []
    finally:
        listener.stop()


async def test_repeated_terminations_leave_one_listener(committed_db: dict[str, Any]) -> None:
    pool = committed_db["pool"]
    received: list[dict[str, Any]] = []
    lost: list[None] = []
    listener = Listener(
        lambda: connect_listener(committed_db["url"]),
        lambda _channel, e: received.append(e),
        lambda: lost.append(None),
        channels=[CHANNEL],
        max_backoff=0.2,
    )
    listener.start()
    try:
        for round_ in range(5):
            await asyncio.wait_for(listener.connected.wait(), timeout=10)
            backend = listener.backend_pid
            assert await pool.fetchval("SELECT pg_terminate_backend($1)", backend)
            for _ in range(500):
                await asyncio.sleep(0.01)
                if listener.connected.is_set() and listener.backend_pid != backend:
                    break
            if round_ % 2:  # the last subscriber leaves and a new one comes, as the hub does
                listener.stop()
                listener.start()
        await asyncio.wait_for(listener.connected.wait(), timeout=10)
        for _ in range(500):
            if await _listening(pool) == 1:
                break
            await asyncio.sleep(0.01)
        assert await _listening(pool) == 1
        await pool.execute(f"SELECT pg_notify('{CHANNEL}', '{{\"n\": 7}}')")
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert received == [{"n": 7}]
    finally:
        listener.stop()
