"""Live events: the process's ONE listening connection (the switchboard) fans the
database's notifications out to the subscribers and the sockets of this process.

The app's lifespan makes the switchboard and the hubs (`install`) and stops the listener at
shutdown; the switchboard listens on every channel (order events, notifications, access
changes) while anything needs it (a subscription, an open WebSocket: `gongjian.socket_watch`)
and stops with the last. Each subscriber has a bounded queue; when the listening connection
drops (or a subscriber falls too far behind) the subscriber is told with an error and its
stream ends, so that the client resubscribes instead of waiting for events that will never
come. Who may follow what is decided by the subscriptions themselves (`resolvers.events`,
`resolvers.notifications`)."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
from collections.abc import AsyncIterator, Callable
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


class Switchboard:
    """The process's ONE listening connection, for every channel (order events, notifications,
    access changes), shared by the hubs and the socket watch. It listens while anything
    needs it (a subscription, an open WebSocket) and stops with the last."""

    def __init__(self, url: str) -> None:
        self.listener = db_events.Listener(
            functools.partial(db_events.connect_listener, url),
            self._on_event,
            self._on_lost,
            channels=(db_events.ORDER_EVENTS, notifications_db.NOTIFICATIONS, db_events.ACCESS_CHANGED),
            on_connected=self._on_connected,
        )
        self._routes: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._lost: list[Callable[[], None]] = []
        self._connected: list[Callable[[], None]] = []
        self._users = 0

    def route(
        self,
        channel: str,
        on_event: Callable[[dict[str, Any]], None],
        on_lost: Callable[[], None],
        on_connected: Callable[[], None] | None = None,
    ) -> None:
        self._routes[channel] = on_event
        self._lost.append(on_lost)
        if on_connected is not None:
            self._connected.append(on_connected)

    def _on_event(self, channel: str, event: dict[str, Any]) -> None:
        handler = self._routes.get(channel)
        if handler is not None:
            handler(event)

    def _on_lost(self) -> None:
        for handler in self._lost:
            handler()

    def _on_connected(self) -> None:
        for handler in self._connected:
            handler()

    def retain(self) -> None:
        self._users += 1
        self.listener.start()

    def release(self) -> None:
        self._users -= 1
        if self._users <= 0:
            self._users = 0
            self.listener.stop()


class Hub:
    """One channel's subscribers, keyed (here by community), fed by the switchboard."""

    channel = db_events.ORDER_EVENTS

    def __init__(self, board: Switchboard) -> None:
        self.board = board
        self.listener = board.listener
        self._subscribers: dict[int, set[asyncio.Queue[Item]]] = {}
        board.route(self.channel, self._on_event, self._on_lost)

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
    async def subscription(self, key: int) -> AsyncIterator[asyncio.Queue[Item]]:
        """A queue of the key's events, from the moment the listener is connected."""
        queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._subscribers.setdefault(key, set()).add(queue)
        self.board.retain()
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
            subscribers = self._subscribers.get(key, set())
            subscribers.discard(queue)
            if not subscribers:
                self._subscribers.pop(key, None)
            self.board.release()


class InboxHub(Hub):
    """The order events' hub on the `notifications` channel, keyed by user."""

    channel = notifications_db.NOTIFICATIONS

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
    """Make the process's switchboard and hubs (the app's lifespan does, and `create_app` for
    tests that skip it); without a database URL there are none and subscriptions say so."""
    if database_url is None:
        return
    if getattr(state, "switchboard", None) is None:
        state.switchboard = Switchboard(database_url)
    if getattr(state, "order_events_hub", None) is None:
        state.order_events_hub = Hub(state.switchboard)
    if getattr(state, "notifications_hub", None) is None:
        state.notifications_hub = InboxHub(state.switchboard)


def switchboard(state: State) -> Switchboard | None:
    """The process's switchboard; None without DATABASE_URL."""
    board: Switchboard | None = getattr(state, "switchboard", None)
    return board


def stop(state: State) -> None:
    """Stop the switchboard's listener (at shutdown): its connection closes as it unwinds."""
    board = switchboard(state)
    if board is not None:
        board.listener.stop()


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
