"""`orderEvents`: one listener per server process fans order events out to subscribers.

The hub lives on the app's state, is started by the first subscriber and stopped when the
last one leaves. Each subscriber has a bounded queue; when the listening connection drops
(or a subscriber falls too far behind) the subscriber is told with an error and its
stream ends, so that the client resubscribes instead of waiting for events that will
never come."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import Any

from graphql import GraphQLError

from db import events as db_events
from db import orders as orders_db
from db.orders import OrderEventRow, Party
from gongjian import db_faults, metrics
from resolvers import ids
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


def hub_of(ctx: Context) -> Hub:
    """The process's hub (one per app), created on first use."""
    assert ctx.request is not None, "subscriptions run over a WebSocket"
    state = ctx.request.app.state
    hub: Hub | None = getattr(state, "order_events_hub", None)
    if hub is None:
        if ctx.settings.database_url is None:
            raise GraphQLError("Live events need DATABASE_URL", extensions={"code": "EVENTS_UNAVAILABLE"})
        hub = Hub(ctx.settings.database_url)
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
