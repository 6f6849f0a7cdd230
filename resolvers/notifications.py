"""Notifications: each user's inbox, marking read and the live `notifications` subscription.

A notification stores its kind and parameters; its title and body are rendered when read,
in the reader's language (`resolvers.messages`). The periodic job that raises the
time-based kinds (`db.notifications.sweep`) and feeds the webhook is `gongjian/reminders.py`."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Final

from graphql import GraphQLError

from db import notifications as db
from db.identity import UserRow
from db.notifications import NotificationRow
from db.pool import Conn
from gongjian import db_faults
from gongjian import events as live
from gongjian.tokens import token_from_connection_params
from resolvers import ids, nodes
from resolvers.access import viewer_key
from resolvers.context import Context, viewer_from_token
from resolvers.errors import ErrorCode, Refusal, UserError, unauthenticated
from resolvers.messages import render_notification
from resolvers.mutations import Audited, run
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows

MAX_MARK: Final = 100
NO_INBOX: Final = "An API token has no inbox"


@dataclass
class Inbox(Page[NotificationRow]):
    """A page of the viewer's inbox, with how many of all are unread."""

    unread_count: int = 0


async def inbox_counts(ctx: Context, keys: list[int]) -> list[tuple[int, int] | None]:
    """Batch: (all, unread) of each user's inbox, or None where the viewer reads none of it
    (the SQL rule `notification_access`: the user themself, not an API token)."""
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.inboxes(conn, viewer_key(viewer), keys)
    return [found.get(k) for k in keys]


async def inbox(
    ctx: Context, user: UserRow, unread_only: bool | None, first: int | None, after: str | None
) -> Inbox | None:
    """`User.notifications`: newest first; null for anyone the rule does not let read it."""
    counts = await ctx.loader(inbox_counts).load(user.id)
    if counts is None:
        return None
    limit = checked_first(first)
    before = decode_id_cursor(after)
    total, unread = counts
    async with ctx.db.connection() as conn:
        rows = await db.inbox(
            conn, viewer_key(ctx.signed_in), user.id, unread_only=bool(unread_only), before=before, limit=limit + 1
        )

    async def count() -> int:
        return unread if unread_only else total

    page = page_from_rows(rows, limit, lambda r: [r.id], count)
    return Inbox(edges=page.edges, page_info=page.page_info, count=count, unread_count=unread)


async def visible_notification_by_id(ctx: Context, keys: list[int]) -> list[NotificationRow | None]:
    """The notifications the viewer reads (the SQL rule `notification_access`: their own)."""
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.visible_by_id(conn, viewer_key(viewer), keys)
    return [found.get(k) for k in keys]


async def _notification_nodes(ctx: Context, keys: list[int]) -> list[NotificationRow | None]:
    return await ctx.loader(visible_notification_by_id).load_many(keys)


nodes.register("Notification", _notification_nodes)


async def _subjects(ctx: Context, keys: list[tuple[str, int]]) -> list[Any]:
    """The subjects of notifications, as `node` resolves them for the viewer (so a subject
    the viewer may no longer see is null), one batch per type."""
    return await nodes.resolve_nodes(ctx, [ids.encode(t, pk) for t, pk in keys])


async def subject_of(root: NotificationRow, ctx: Context) -> Any:
    return await ctx.loader(_subjects).load((root.subject_type, root.subject_id))


def title_of(root: NotificationRow, ctx: Context) -> str:
    return render_notification(root.kind, root.params, ctx.language)[0]


def body_of(root: NotificationRow, ctx: Context) -> str:
    return render_notification(root.kind, root.params, ctx.language)[1]


@dataclass(frozen=True)
class MarkRead:
    unread_count: int | None
    user_errors: list[UserError] = field(default_factory=list)


async def mark_notifications_read(ctx: Context, notification_ids: list[str]) -> MarkRead:
    """Marks the viewer's own notifications read. An id that is not one of them is
    NOT_FOUND and nothing is marked."""
    viewer = ctx.signed_in
    if len(notification_ids) > MAX_MARK:
        return MarkRead(None, [UserError(f"`ids` may hold at most {MAX_MARK} ids", ErrorCode.INVALID, ["ids"])])

    async def body(conn: Conn) -> tuple[int, Audited]:
        keys = [ids.decode_as(given, "Notification") for given in notification_ids]
        unique = list(dict.fromkeys(k for k in keys if k is not None))
        done = await db.mark_read(conn, viewer_key(viewer), unique)  # the rule `notification_access`
        if done is None:
            raise Refusal(ErrorCode.FORBIDDEN, NO_INBOX, "ids")
        if None in keys:
            raise Refusal(ErrorCode.NOT_FOUND, "No such notification", ["ids", str(keys.index(None))])
        marked, unread = done
        if marked != len(unique):
            raise Refusal(ErrorCode.NOT_FOUND, "No such notification", "ids")
        return unread, Audited("User", viewer.user_id, {"notifications": unique})

    outcome = await run(ctx, "markNotificationsRead", body)
    return MarkRead(outcome.value, outcome.user_errors)


# --- the live subscription ------------------------------------------------------------------


def inbox_hub_of(ctx: Context) -> live.InboxHub:
    """The process's hub of new notifications (made by the app's lifespan, `gongjian.events`)."""
    assert ctx.request is not None, "subscriptions run over a WebSocket"
    return live.notifications_hub(ctx.request.app.state)


async def notifications(ctx: Context) -> AsyncGenerator[NotificationRow, None]:
    """Each new notification of the viewer, from whichever instance created it."""
    viewer = ctx.signed_in
    # the rule `notification_access`: whether the viewer has an inbox at all
    if await ctx.for_operation().loader(inbox_counts).load(viewer.user_id) is None:
        raise GraphQLError(NO_INBOX, extensions={"code": "FORBIDDEN"})
    async with inbox_hub_of(ctx).subscription(viewer.user_id) as queue:
        while True:
            item = await queue.get()
            if isinstance(item, live.Signal):
                raise live.interrupted(item)
            fresh = ctx.for_operation()
            try:
                # the rule, before each event
                row = await fresh.loader(visible_notification_by_id).load(int(item["id"]))
                if row is None:
                    continue
                params = ctx.connection_params
                again = await viewer_from_token(ctx.db, ctx.settings, token_from_connection_params(params))
            except Exception as exc:
                if db_faults.classify(exc) is None:
                    raise
                # the database went away under the stream (as when the listener's did)
                raise live.interrupted(live.Signal.LOST) from exc
            if again is None or again.user_id != viewer.user_id:
                raise unauthenticated()
            ctx.forget_loaded()
            yield row
