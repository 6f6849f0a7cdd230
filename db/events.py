"""The notification channels: order transitions, new notifications and access changes
`pg_notify` inside their transaction (so a payload is delivered exactly when its
transaction commits, to every server instance), and each server process holds ONE
listening connection, LISTENing on every channel, that hands the payloads on.

A dropped listening connection is noticed (termination callback, plus a periodic probe
for half-open sockets), reported with `on_lost` so that subscribers are told rather than
silently starved, and re-established with exponential backoff."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import asyncpg
import orjson

ORDER_EVENTS: Final = "order_events"
# {"user": id} when a user's tokens or grants may have ended (migration 0020), {"token": id}
# when an API token was revoked: open WebSockets of theirs are checked again
ACCESS_CHANGED: Final = "access_changed"

log = logging.getLogger("gongjian.events")

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class Listener:
    """LISTENs on its channels over one dedicated connection, reconnecting when it drops.
    `on_event(channel, payload)` gets each payload; `on_lost()` a dropped connection (events
    may have been missed); `on_connected()` each (re-)established one."""

    def __init__(
        self,
        connect: Connect,
        on_event: Callable[[str, dict[str, Any]], None],
        on_lost: Callable[[], None],
        *,
        channels: Sequence[str] = (ORDER_EVENTS,),
        on_connected: Callable[[], None] | None = None,
        probe_seconds: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        self._connect = connect
        self._on_event = on_event
        self._on_lost = on_lost
        self._on_connected = on_connected
        self.channels = tuple(channels)
        self.probe_seconds = probe_seconds
        self.max_backoff = max_backoff
        self.connected = asyncio.Event()
        self.backend_pid: int | None = None
        self._task: asyncio.Task[None] | None = None
        # Which run is the current one. A cancelled run can outlive stop(): a cancellation
        # that lands as an inner wait completes is swallowed (asyncio.wait_for before 3.12,
        # also inside asyncpg.connect). Such a stale run then delivers nothing, reports
        # nothing, and closes its connection as soon as it looks: one listener per process.
        self._run_id = 0

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._run_id += 1
            self._task = asyncio.get_running_loop().create_task(self._run(self._run_id), name="events-listener")

    def stop(self) -> None:
        """Stop listening; the task closes its connection as it unwinds."""
        self._run_id += 1
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.connected.clear()
        self.backend_pid = None

    def _stale(self, run_id: int) -> bool:
        return run_id != self._run_id

    def _deliver(self, run_id: int, connection: Any, pid: int, channel: str, payload: object) -> None:
        if self._stale(run_id):
            return
        try:
            event = orjson.loads(payload if isinstance(payload, (str, bytes)) else str(payload))
        except orjson.JSONDecodeError:
            log.warning("ignored a malformed event", extra={"fields": {"payload": str(payload)[:200]}})
            return
        if isinstance(event, dict):
            self._on_event(channel, event)

    async def _run(self, run_id: int) -> None:
        backoff = 0.1
        while not self._stale(run_id):
            conn: asyncpg.Connection | None = None
            lost = asyncio.Event()
            try:
                conn = await self._connect()
                if self._stale(run_id):  # stopped (or replaced) while connecting
                    conn.terminate()
                    return
                conn.add_termination_listener(_setter(lost))
                for channel in self.channels:
                    await conn.add_listener(channel, functools.partial(self._deliver, run_id))
                if self._stale(run_id):
                    conn.terminate()
                    return
                self.backend_pid = conn.get_server_pid()
                self.connected.set()
                backoff = 0.1
                log.info("listening for events", extra={"fields": {"backend": self.backend_pid}})
                if self._on_connected is not None:
                    self._on_connected()
                while not lost.is_set() and not self._stale(run_id):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), timeout=self.probe_seconds)
                    if not lost.is_set():
                        # a probe: a half-open socket shows up here, not in the callback
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=self.probe_seconds)
            except asyncio.CancelledError:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=1))
                raise
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("event listener failed", extra={"fields": {"reason": type(exc).__name__}})
            except Exception:  # anything else must not end the loop: subscribers would starve silently
                log.exception("event listener failed unexpectedly")
            if self._stale(run_id):
                if conn is not None and not conn.is_closed():
                    conn.terminate()
                return
            was_connected = self.connected.is_set()
            self.connected.clear()
            self.backend_pid = None
            if conn is not None and not conn.is_closed():
                conn.terminate()
            if was_connected:
                self._on_lost()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)


def _setter(event: asyncio.Event) -> Callable[[Any], None]:
    def set_event(_connection: Any) -> None:
        event.set()

    return set_event


async def connect_listener(url: str) -> asyncpg.Connection:
    """The dedicated listening connection (named so that operators can find it)."""
    return await asyncpg.connect(url, timeout=10, server_settings={"application_name": "gongjian-events"})
