"""`orderEvents`: who may follow a community's orders, checked again before each event.

The events come from the process's hub (`gongjian.events`, made by the app's lifespan),
fed by the process's one listening connection for every channel (the switchboard): a
bounded queue per subscriber, and an error that ends the stream when events may have been
missed, so that the client resubscribes."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import replace

from db import areas as areas_db
from db import orders as orders_db
from db.orders import OrderEventRow, Party
from gongjian import db_faults, metrics
from gongjian import events as live
from gongjian.tokens import token_from_connection_params
from resolvers import ids
from resolvers.access import viewer_key
from resolvers.context import Context, viewer_from_token
from resolvers.errors import forbidden, unauthenticated
from resolvers.orders import event_by_id, order_by_id


def hub_of(ctx: Context) -> live.Hub:
    """The process's hub of order events (made by the app's lifespan, `gongjian.events`)."""
    assert ctx.request is not None, "subscriptions run over a WebSocket"
    return live.order_events_hub(ctx.request.app.state)


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
    pk = ids.decode_as(community_id, "Community")
    async with ctx.db.connection() as conn:
        found = await areas_db.staffed_area(conn, pk, viewer_key(viewer)) if pk is not None else None
    if found is None or found[0].level != "COMMUNITY" or found[0].county_id != viewer.county_id or not found[1]:
        raise forbidden("Only staff in scope may follow the community's orders")
    community = found[0]
    async with hub_of(ctx).subscription(community.id) as queue:
        while True:
            item = await queue.get()
            if isinstance(item, live.Signal):
                raise live.interrupted(item)
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
                raise live.interrupted(live.Signal.LOST) from exc
            ctx.forget_loaded()
            metrics.NOTIFICATIONS_SENT.labels("order_event").inc()
            yield replace(event, order=order)
