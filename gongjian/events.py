"""Live events: one listener per server process fans the database's notifications out to
the subscribers of this process.

The app's lifespan makes the hubs (`install`) and stops their listeners at shutdown; a hub
connects its listener when its first subscriber arrives and disconnects when the last one
leaves. Each subscriber has a bounded queue; when the listening connection drops (or a
subscriber falls too far behind) the subscriber is told with an error and its stream ends,
so that the client resubscribes instead of waiting for events that will never come. Who
may follow what is decided by the subscriptions themselves (`resolvers.events`,
`resolvers.notifications`)."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
from collections.abc import AsyncIterator
from typing import Any

from graphql import GraphQLError
from starlette.datastructures import State

from db import events as db_events
from db import notifications as notifications_db

QUEUE_SIZE = 1000
CONNECT_TIMEOUT = 10.0


class Signal(enum.Enum):
    LOST = "LOST"  # the listening connection dropped: events may have been missed
    OVERFLOW = "OVERFLOW"  # the subscriber fell more than QUEUE_SIZE events behind


Item = dict[str, Any] | Signal


class Hub:
    def __init__(self, url: str) -> None:
        self.listener = db_events.Listener(
            functools.partial(db_events.connect_listener, url), self._on_event, self._on_lost
        )
        self._subscribers: dict[int, set[asyncio.Queue[Item]]] = {}

    def _offer(self, queue: asyncio.Queue[Item], item: Item) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(Signal.OVERFLOW)

    def _on_event(self, event: dict[str, Any]) -> None:
        community = event.get("community")
        for queue in self._subscribers.get(community, ()) if isinstance(community, int) else ():
            self._offer(queue, event)

    def _on_lost(self) -> None:
        for queues in self._subscribers.values():
            for queue in queues:
                self._offer(queue, Signal.LOST)

    @contextlib.asynccontextmanager
    async def subscription(self, community_id: int) -> AsyncIterator[asyncio.Queue[Item]]:
        """A queue of the community's events, from the moment the listener is connected."""
        queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._subscribers.setdefault(community_id, set()).add(queue)
        self.listener.start()
        try:
            try:
                await asyncio.wait_for(self.listener.connected.wait(), timeout=CONNECT_TIMEOUT)
            except TimeoutError:
                raise GraphQLError(
                    "Live events are unavailable right now; try again later",
                    extensions={"code": "EVENTS_UNAVAILABLE"},
                ) from None
            yield queue
        finally:
            subscribers = self._subscribers.get(community_id, set())
            subscribers.discard(queue)
            if not subscribers:
                self._subscribers.pop(community_id, None)
            if not self._subscribers:
                self.listener.stop()


class InboxHub(Hub):
    """The order events' hub on the `notifications` channel, keyed by user."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.listener = db_events.Listener(
            functools.partial(db_events.connect_listener, url),
            self._on_event,
            self._on_lost,
            channel=notifications_db.NOTIFICATIONS,
        )

    def _on_event(self, event: dict[str, Any]) -> None:
        user = event.get("user")
        for queue in self._subscribers.get(user, ()) if isinstance(user, int) else ():
            self._offer(queue, event)


def interrupted(signal: Signal) -> GraphQLError:
    if signal is Signal.OVERFLOW:
        message = "Too many events were not read in time; subscribe again"
    else:
        message = "The event stream was interrupted and events may have been missed; subscribe again"
    return GraphQLError(message, extensions={"code": "EVENTS_INTERRUPTED"})


def install(state: State, database_url: str | None) -> None:
    """Make the process's hubs (the app's lifespan does, and `create_app` for tests that
    skip it); without a database URL there are none and subscriptions say so."""
    if database_url is None:
        return
    if getattr(state, "order_events_hub", None) is None:
        state.order_events_hub = Hub(database_url)
    if getattr(state, "notifications_hub", None) is None:
        state.notifications_hub = InboxHub(database_url)


def stop(state: State) -> None:
    """Stop the hubs' listeners (at shutdown): their connections close as they unwind."""
    for name in ("order_events_hub", "notifications_hub"):
        hub: Hub | None = getattr(state, name, None)
        if hub is not None:
            hub.listener.stop()


def _unavailable() -> GraphQLError:
    return GraphQLError("Live events need DATABASE_URL", extensions={"code": "EVENTS_UNAVAILABLE"})


def order_events_hub(state: State) -> Hub:
    hub: Hub | None = getattr(state, "order_events_hub", None)
    if hub is None:
        raise _unavailable()
    return hub


def notifications_hub(state: State) -> InboxHub:
    hub: InboxHub | None = getattr(state, "notifications_hub", None)
    if hub is None:
        raise _unavailable()
    return hub
