"""The one way the app reaches PostgreSQL.

`Database` hands out connections; every statement goes through `Conn`, which counts
statements per request (the log line and the N+1 tests read the count). Tests swap in
`SingleConnectionDatabase`, which hands every caller the one connection of the test,
inside a transaction that is rolled back afterwards.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg

from db import tracing


@dataclass
class StatementCounter:
    count: int = 0


_counter: contextvars.ContextVar[StatementCounter | None] = contextvars.ContextVar(
    "gongjian_statement_counter", default=None
)


def start_counting() -> StatementCounter:
    """Count the statements run from this task (and the tasks it starts) onwards."""
    counter = StatementCounter()
    _counter.set(counter)
    return counter


def _count() -> None:
    counter = _counter.get()
    if counter is not None:
        counter.count += 1


class Conn:
    """A connection in use: the statement methods of asyncpg, counted."""

    def __init__(self, raw: asyncpg.Connection, lock: asyncio.Lock | None = None) -> None:
        self.raw = raw
        self._lock = lock

    @asynccontextmanager
    async def _turn(self, query: str) -> AsyncIterator[None]:
        _count()
        with tracing.statement(query):
            if self._lock is None:
                yield
            else:
                async with self._lock:
                    yield

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self._turn(query):
            return await self.raw.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self._turn(query):
            return await self.raw.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self._turn(query):
            return await self.raw.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        async with self._turn(query):
            return await self.raw.execute(query, *args)

    async def executemany(self, query: str, args: Sequence[Sequence[Any]]) -> None:
        async with self._turn(query):
            await self.raw.executemany(query, args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A transaction, or a savepoint when one is already open."""
        async with self.raw.transaction():
            yield self


class Database(Protocol):
    def connection(self) -> Any:
        """An async context manager giving a `Conn` (autocommit per statement)."""

    def transaction(self) -> Any:
        """An async context manager giving a `Conn` inside one transaction."""


@dataclass
class PoolDatabase:
    pool: asyncpg.Pool
    waiting: int = 0  # callers waiting for a connection (the metrics read it)

    @asynccontextmanager
    async def _acquired(self) -> AsyncIterator[Any]:  # the pool's proxy, used as a Connection
        self.waiting += 1
        try:
            raw = await self.pool.acquire()
        finally:
            self.waiting -= 1
        try:
            yield raw
        finally:
            await self.pool.release(raw)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self._acquired() as raw:
            yield Conn(raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with self._acquired() as raw, raw.transaction():
            yield Conn(raw)


@dataclass
class SingleConnectionDatabase:
    """Hands out one connection to every caller, one statement at a time (tests)."""

    raw: asyncpg.Connection
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        yield Conn(self.raw, self.lock)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with self.lock:
            transaction = self.raw.transaction()
            await transaction.start()
        try:
            yield Conn(self.raw, self.lock)
        except BaseException:
            async with self.lock:
                await transaction.rollback()
            raise
        else:
            async with self.lock:
                await transaction.commit()


async def _init_connection(raw: asyncpg.Connection) -> None:
    await raw.set_type_codec("jsonb", encoder=_json_dumps, decoder=_json_loads, schema="pg_catalog")


def _json_dumps(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _json_loads(value: str) -> Any:
    import orjson

    return orjson.loads(value)


async def create_pool(dsn: str, *, min_size: int, max_size: int, timeout: float = 10.0) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        init=_init_connection,
        server_settings={"application_name": "gongjian"},
    )
    assert pool is not None
    return pool


async def connect(dsn: str, timeout: float = 10.0) -> asyncpg.Connection:
    raw = await asyncpg.connect(dsn, timeout=timeout, server_settings={"application_name": "gongjian"})
    await _init_connection(raw)
    return raw
