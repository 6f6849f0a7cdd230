"""`orderEvents`: one listener per server process fans order events out to subscribers.

The hub lives on the app's state and is fed by the process's one listening connection
(the switchboard), which runs while a subscription or a WebSocket needs it. Each
subscriber has a bounded queue; when the listening connection drops (or a subscriber
falls too far behind) the subscriber is told with an error and its stream ends, so that
the client resubscribes instead of waiting for events that will never come."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import replace
from typing import Any

from graphql import GraphQLError

from db import events as db_events
from db import orders as orders_db
from db.notifications import NOTIFICATIONS
from db.orders import OrderEventRow, Party
from gongjian.config import Settings
from resolvers import db_faults, ids, metrics
from resolvers.access import viewer_key
from resolvers.areas import area_by_id
from resolvers.context import Context, token_from_connection_params, viewer_from_token
from resolvers.errors import forbidden, unauthenticated
from resolvers.orders import event_by_id, order_by_id

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
            channels=(db_events.ORDER_EVENTS, NOTIFICATIONS, db_events.ACCESS_CHANGED),
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


def switchboard_of(state: Any, settings: Settings) -> Switchboard | None:
    """The process's switchboard (one per app), created on first use; None without DATABASE_URL."""
    board: Switchboard | None = getattr(state, "switchboard", None)
    if board is None and settings.database_url is not None:
        board = Switchboard(settings.database_url)
        state.switchboard = board
    return board


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


def board_of(ctx: Context) -> tuple[Any, Switchboard]:
    """The app's state and the process's switchboard, for a subscription."""
    assert ctx.request is not None, "subscriptions run over a WebSocket"
    state = ctx.request.app.state
    board = switchboard_of(state, ctx.settings)
    if board is None:
        raise GraphQLError("Live events need DATABASE_URL", extensions={"code": "EVENTS_UNAVAILABLE"})
    return state, board


def hub_of(ctx: Context) -> Hub:
    """The process's order-event hub (one per app), created on first use."""
    state, board = board_of(ctx)
    hub: Hub | None = getattr(state, "order_events_hub", None)
    if hub is None:
        hub = Hub(board)
        state.order_events_hub = hub
    return hub


def _interrupted(signal: Signal) -> GraphQLError:
    if signal is Signal.OVERFLOW:
        message = "Too many events were not read in time; subscribe again"
    else:
        message = "The event stream was interrupted and events may have been missed; subscribe again"
    return GraphQLError(message, extensions={"code": "EVENTS_INTERRUPTED"})


async def _still_allowed(ctx: Context, order_id: int) -> None:
    """A subscription outlives its token: before each event the token of the connection
    is checked again, and the order's visibility rule (`order_parties`) with it, so an
    expired or revoked token, a disabled user or a lost grant ends the stream instead of
    feeding it on."""
    viewer = await viewer_from_token(ctx.db, ctx.settings, token_from_connection_params(ctx.connection_params))
    if viewer is None:
        raise unauthenticated()
    async with ctx.db.connection() as conn:
        parties = (await orders_db.order_parties(conn, [order_id], viewer_key(viewer))).get(order_id, frozenset())
    if Party.STAFF not in parties:
        raise forbidden("Only staff in scope may follow the community's orders")


async def order_events(ctx: Context, community_id: str) -> AsyncGenerator[OrderEventRow, None]:
    """Every transition of every order of the community, for staff in scope."""
    viewer = ctx.signed_in
    operation = ctx.for_operation()
    pk = ids.decode_as(community_id, "Community")
    community = await operation.loader(area_by_id).load(pk) if pk is not None else None
    if (
        community is None
        or community.level != "COMMUNITY"
        or community.county_id != viewer.county_id
        or not viewer.is_staff_for(community.path)
    ):
        raise forbidden("Only staff in scope may follow the community's orders")
    async with hub_of(ctx).subscription(community.id) as queue:
        while True:
            item = await queue.get()
            if isinstance(item, Signal):
                raise _interrupted(item)
            fresh = ctx.for_operation()  # each event sees the order as it is now
            try:
                event = await fresh.loader(event_by_id).load(int(item["event"]))
                order = await fresh.loader(order_by_id).load(int(item["order"]))
                if event is None or order is None:
                    continue
                await _still_allowed(ctx, order.id)
            except Exception as exc:
                if db_faults.classify(exc) is None:
                    raise
                # the database went away under the stream (as when the listener's did)
                raise _interrupted(Signal.LOST) from exc
            ctx.forget_loaded()
            metrics.NOTIFICATIONS_SENT.labels("order_event").inc()
            yield replace(event, order=order)
