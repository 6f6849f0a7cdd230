"""The one way the app reaches PostgreSQL.

`Database` hands out connections; every statement goes through `Conn`, which counts
statements per request (the log line and the N+1 tests read the count). Tests swap in
`SingleConnectionDatabase`, which hands every caller the one connection of the test,
inside a transaction that is rolled back afterwards.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

import asyncpg

from db import tracing

T = TypeVar("T")


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


async def _to_the_end(work: Awaitable[T]) -> T:
    """Await a statement on the shared connection of the tests; a caller cancelled
    meanwhile (graphql-core cancels a field's siblings when it fails) lets the statement
    finish first. Cancelling it would make asyncpg cancel it on the server, which aborts
    the test's one transaction for every later statement; on a pool the statement has a
    connection of its own, which asyncpg resets."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: its error, if any, goes with the cancelled caller
        raise


class Conn:
    """A connection in use: the statement methods of asyncpg, counted."""

    def __init__(self, raw: asyncpg.Connection, lock: asyncio.Lock | None = None) -> None:
        self.raw = raw
        self._lock = lock

    async def _run(self, query: str, work: Awaitable[T]) -> T:
        _count()
        with tracing.statement(query):
            if self._lock is None:
                return await work
            try:
                await self._lock.acquire()
            except BaseException:  # cancelled while waiting: the statement never starts
                if asyncio.iscoroutine(work):
                    work.close()  # (else "coroutine was never awaited")
                raise
            try:
                return await _to_the_end(work)
            finally:
                self._lock.release()

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return await self._run(query, self.raw.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        return await self._run(query, self.raw.fetchrow(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run(query, self.raw.fetchval(query, *args))

    async def execute(self, query: str, *args: Any) -> str:
        return await self._run(query, self.raw.execute(query, *args))

    async def executemany(self, query: str, args: Sequence[Sequence[Any]]) -> None:
        await self._run(query, self.raw.executemany(query, args))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A transaction, or a savepoint when one is already open."""
        async with self.raw.transaction():
            yield self


class PoolExhausted(Exception):
    """No connection of the pool came free within the acquire timeout."""


class Database(Protocol):
    def connection(self) -> Any:
        """An async context manager giving a `Conn` (autocommit per statement)."""

    def transaction(self) -> Any:
        """An async context manager giving a `Conn` inside one transaction."""

    async def read_row(self, query: str, *args: Any) -> asyncpg.Record | None:
        """A compiled read's one statement, its row: on a read-only session that keeps
        generic plans."""


@dataclass
class PoolDatabase:
    pool: asyncpg.Pool
    acquire_timeout: float | None = None  # seconds to wait for a free connection; None: forever
    waiting: int = 0  # callers waiting for a connection (the metrics read it)
    # the compiled reads' pool (`create_pool(generic_plans=True)`); None: they share `pool`
    reads: asyncpg.Pool | None = None

    @asynccontextmanager
    async def _acquired(self, pool: asyncpg.Pool | None = None) -> AsyncIterator[Any]:  # a proxy, used as a Connection
        pool = pool or self.pool
        self.waiting += 1
        try:
            raw = await pool.acquire(timeout=self.acquire_timeout)
        except TimeoutError:
            raise PoolExhausted(f"no database connection came free within {self.acquire_timeout} s") from None
        finally:
            self.waiting -= 1
        try:
            yield raw
        finally:
            await pool.release(raw)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self._acquired() as raw:
            yield Conn(raw)

    async def read_row(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self._acquired(self.reads) as raw:
            return await Conn(raw).fetchrow(query, *args)

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

    async def read_row(self, query: str, *args: Any) -> asyncpg.Record | None:
        return await Conn(self.raw, self.lock).fetchrow(query, *args)

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


@dataclass(frozen=True)
class Timeouts:
    """Limits PostgreSQL enforces on each session of the pool, in milliseconds (0: none)."""

    statement_ms: int = 0
    lock_ms: int = 0
    idle_in_transaction_ms: int = 0

    def server_settings(self) -> dict[str, str]:
        return {
            "statement_timeout": str(self.statement_ms),
            "lock_timeout": str(self.lock_ms),
            "idle_in_transaction_session_timeout": str(self.idle_in_transaction_ms),
        }


# Every statement is planned for its actual parameters. PostgreSQL would otherwise switch a
# prepared statement to a generic plan after five runs when that looks no costlier, and
# for the lists and counts whose filters are optional (`$7 IS NULL OR ...`) and whose
# scope may be a household or a whole county, that plan can be a thousand times slower
# (`serviceOrders { totalCount }`: 20 ms, then 6 s from the sixth call). Planning costs
# well under a millisecond per statement here.
SESSION_SETTINGS: Final = {"application_name": "gongjian", "plan_cache_mode": "force_custom_plan"}

# The compiled reads (resolvers/compiled) run on sessions of their own that keep one generic
# plan per statement: their parameters are the viewer, ids, `first` and cursors, for which
# one plan serves every call, and planning a compiled statement (its rules inlined) cost
# more than running it (BuildingHouseholds: 3.8 ms a call planned for its parameters, 2.2 ms
# with its generic plan, of which execution 1.3 ms). They only read (their audit rows are
# written by the caller, on the ordinary pool): the sessions refuse any write. They name
# themselves `gongjian-reads` in pg_stat_activity.
READS_SETTINGS: Final = {
    **SESSION_SETTINGS,
    "application_name": "gongjian-reads",
    "plan_cache_mode": "force_generic_plan",
    "default_transaction_read_only": "on",
}
COMPILED_STATEMENT_MAX: Final = 256 * 1024  # bytes of a statement the compiled reads' sessions keep prepared

# The county's time zone, read by the SQL `county_date()` and `county_today()` (the county's
# calendar: when a post is active, when a finding is published, the day of an order's number,
# the sweeps' reminders). A session that does not set it (migrations, the demo, tests) gets
# Asia/Shanghai.
TIME_ZONE_SETTING: Final = "gongjian.time_zone"


def _session_settings(time_zone: str | None, base: dict[str, str] = SESSION_SETTINGS) -> dict[str, str]:
    return {**base, **({TIME_ZONE_SETTING: time_zone} if time_zone else {})}


async def _keep_session(raw: asyncpg.Connection) -> None:
    """A connection back in the pool keeps its session: asyncpg still rolls back a
    transaction left open and drops listeners, but skips its default reset query
    (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`), one more round trip
    after every use, for session state this app never leaves on a pool connection: its
    settings are the session's own from the start (`SESSION_SETTINGS`, `Timeouts`) or
    `SET LOCAL`, its advisory locks are transaction-level (`pg_advisory_xact_lock`), its
    cursors live in transactions, and LISTEN has a connection of its own (db/events.py)."""


async def create_pool(
    dsn: str,
    *,
    min_size: int,
    max_size: int,
    timeout: float = 10.0,
    timeouts: Timeouts | None = None,
    time_zone: str | None = None,
    generic_plans: bool = False,
) -> asyncpg.Pool:
    """The pool; `timeouts` sets the sessions' limits (none by default: migrations, the
    demo and bulk imports run as long as they need), `time_zone` the county's;
    `generic_plans`: the sessions of the compiled reads (`READS_SETTINGS`)."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        init=_init_connection,
        reset=_keep_session,
        # asyncpg keeps a statement prepared (and PostgreSQL its generic plan) only up to this
        # size: a compiled statement of many fields is longer than the default 15 KiB, and
        # was prepared and planned again on every request (a nodes() over 22 types: 71 ms a
        # call, 30 ms prepared once)
        max_cacheable_statement_size=COMPILED_STATEMENT_MAX if generic_plans else 15 * 1024,  # asyncpg's default
        server_settings={
            **_session_settings(time_zone, READS_SETTINGS if generic_plans else SESSION_SETTINGS),
            **(timeouts or Timeouts()).server_settings(),
        },
    )
    assert pool is not None
    return pool


async def connect(dsn: str, timeout: float = 10.0, time_zone: str | None = None) -> asyncpg.Connection:
    raw = await asyncpg.connect(dsn, timeout=timeout, server_settings=_session_settings(time_zone))
    await _init_connection(raw)
    return raw
