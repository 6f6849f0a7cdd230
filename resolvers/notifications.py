"""Notifications: each user's inbox, marking read, the live `notifications` subscription,
and the periodic job that raises the time-based kinds and feeds the outbound webhook.

A notification stores its kind and parameters; its title and body are rendered when read,
in the reader's language (`resolvers.messages`)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import hashlib
import hmac
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import orjson
from graphql import GraphQLError

from db import events as db_events
from db import notifications as db
from db.identity import UserRow
from db.notifications import NotificationRow, Outgoing
from db.pool import Conn, Database
from gongjian import clock
from gongjian.config import Settings
from resolvers import events, ids, nodes
from resolvers.access import viewer_key
from resolvers.context import Context, token_from_connection_params, viewer_from_token
from resolvers.errors import ErrorCode, Refusal, UserError, unauthenticated
from resolvers.messages import render_notification
from resolvers.mutations import Audited, run
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows
from resolvers.viewer import Viewer

log = logging.getLogger("gongjian.notifications")

MAX_MARK: Final = 100


@dataclass
class Inbox(Page[NotificationRow]):
    """A page of the viewer's inbox, with how many of all are unread."""

    unread_count: int = 0


def _own_inbox(viewer: Viewer | None, user: UserRow) -> bool:
    """Only the user themself reads their inbox (not an API token acting for its creator)."""
    return viewer is not None and viewer.api_token_id is None and viewer.user_id == user.id


async def inbox(
    ctx: Context, user: UserRow, unread_only: bool | None, first: int | None, after: str | None
) -> Inbox | None:
    """`User.notifications`: newest first; null for anyone but the user themself."""
    if not _own_inbox(ctx.viewer, user):
        return None
    limit = checked_first(first)
    before = decode_id_cursor(after)
    async with ctx.db.connection() as conn:
        rows = await db.inbox(conn, user.id, unread_only=bool(unread_only), before=before, limit=limit + 1)
        total, unread = await db.counts(conn, user.id)

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
        if viewer.api_token_id is not None:
            raise Refusal(ErrorCode.FORBIDDEN, "An API token has no inbox", "ids")
        keys: list[int] = []
        for index, given in enumerate(notification_ids):
            pk = ids.decode_as(given, "Notification")
            if pk is None:
                raise Refusal(ErrorCode.NOT_FOUND, "No such notification", ["ids", str(index)])
            keys.append(pk)
        unique = list(dict.fromkeys(keys))
        marked, unread = await db.mark_read(conn, viewer.user_id, unique)
        if marked != len(unique):
            raise Refusal(ErrorCode.NOT_FOUND, "No such notification", "ids")
        return unread, Audited("User", viewer.user_id, {"notifications": unique})

    outcome = await run(ctx, "markNotificationsRead", body)
    return MarkRead(outcome.value, outcome.user_errors)


# --- the live subscription ------------------------------------------------------------------


class InboxHub(events.Hub):
    """The order events' hub on the `notifications` channel, keyed by user."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.listener = db_events.Listener(
            functools.partial(db_events.connect_listener, url),
            self._on_event,
            self._on_lost,
            channel=db.NOTIFICATIONS,
        )

    def _on_event(self, event: dict[str, Any]) -> None:
        user = event.get("user")
        for queue in self._subscribers.get(user, ()) if isinstance(user, int) else ():
            self._offer(queue, event)


def inbox_hub_of(ctx: Context) -> InboxHub:
    assert ctx.request is not None, "subscriptions run over a WebSocket"
    state = ctx.request.app.state
    hub: InboxHub | None = getattr(state, "notifications_hub", None)
    if hub is None:
        if ctx.settings.database_url is None:
            raise GraphQLError("Live events need DATABASE_URL", extensions={"code": "EVENTS_UNAVAILABLE"})
        hub = InboxHub(ctx.settings.database_url)
        state.notifications_hub = hub
    return hub


async def notifications(ctx: Context) -> AsyncGenerator[NotificationRow, None]:
    """Each new notification of the viewer, from whichever instance created it."""
    viewer = ctx.signed_in
    if viewer.api_token_id is not None:
        raise GraphQLError("An API token has no inbox", extensions={"code": "FORBIDDEN"})
    async with inbox_hub_of(ctx).subscription(viewer.user_id) as queue:
        while True:
            item = await queue.get()
            if isinstance(item, events.Signal):
                raise events._interrupted(item)
            fresh = ctx.for_operation()
            row = await fresh.loader(visible_notification_by_id).load(int(item["id"]))  # the rule, before each event
            if row is None:
                continue
            again = await viewer_from_token(ctx.db, ctx.settings, token_from_connection_params(ctx.connection_params))
            if again is None or again.user_id != viewer.user_id:
                raise unauthenticated()
            ctx.forget_loaded()
            yield row


# --- the periodic job -------------------------------------------------------------------------


Post = Callable[[str, bytes, dict[str, str]], Awaitable[int]]


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(url, content=body, headers=headers)
    return response.status_code


@dataclass
class Reminders:
    """The periodic job of one server instance. Every `interval` seconds it sweeps for the
    time-based notifications and delivers new ones to the webhook; PostgreSQL advisory
    locks let exactly one instance do each at a time, and the unique (user, kind, reason)
    key keeps a reason from notifying twice, also across restarts."""

    db: Database
    settings: Settings
    post: Post = _post
    retry_delays: tuple[float, ...] = (0.5, 2.0, 8.0)
    _task: asyncio.Task[None] | None = None

    async def tick(self, now: datetime.datetime | None = None) -> int | None:
        """One sweep at `now`: the notifications raised, None when another instance holds the lock."""
        async with self.db.transaction() as conn:
            return await db.sweep(conn, now or clock.now(), self.settings.timezone)

    async def deliver(self) -> int:
        """Send the notifications the webhook has not accepted yet, in order, in batches of
        100, each retried with backoff; the number accepted now. Stops at the first batch
        the endpoint keeps refusing (the next tick tries it again)."""
        url = self.settings.notify_webhook_url
        if url is None:
            return 0
        sent = 0
        while True:
            async with self.db.transaction() as conn:
                batch = await db.webhook_batch(conn, 100)
                if batch is None or not batch[1]:
                    return sent
                body = orjson.dumps({"notifications": [self._payload(o) for o in batch[1]]})
                if not await self._send(url, body):
                    return sent
                await db.advance_webhook(conn, batch[1][-1].notification.id)
                sent += len(batch[1])

    def _payload(self, outgoing: Outgoing) -> dict[str, Any]:
        n = outgoing.notification
        title, text = render_notification(n.kind, n.params, "zh-CN")
        return {
            "id": ids.encode("Notification", n.id),
            "at": n.at.isoformat(),
            "kind": n.kind,
            "user": {"id": ids.encode("User", n.user_id), "username": outgoing.username},
            "subject": {"type": n.subject_type, "id": ids.encode(n.subject_type, n.subject_id)},
            "title": title,
            "body": text,
            "params": n.params,
        }

    async def _send(self, url: str, body: bytes) -> bool:
        headers = {"content-type": "application/json"}
        secret = self.settings.notify_webhook_secret
        if secret:
            signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["x-gongjian-signature"] = f"sha256={signature}"
        for attempt, delay in enumerate((0.0, *self.retry_delays)):
            await asyncio.sleep(delay)
            try:
                status = await self.post(url, body, headers)
            except (httpx.HTTPError, OSError) as exc:
                log.warning(
                    "notification webhook failed", extra={"fields": {"attempt": attempt + 1, "reason": str(exc)}}
                )
                continue
            if 200 <= status < 300:
                return True
            log.warning("notification webhook refused", extra={"fields": {"attempt": attempt + 1, "status": status}})
        return False

    async def _loop(self) -> None:
        interval = self.settings.notify_interval_seconds
        while True:
            try:
                raised = await self.tick()
                if raised:
                    log.info("notifications raised", extra={"fields": {"count": raised}})
                await self.deliver()
            except asyncio.CancelledError:
                raise
            except Exception:  # the job must outlive any failure (the database restarting, ...)
                log.exception("the notification job failed; it runs again at the next interval")
            await asyncio.sleep(interval)

    def start(self) -> None:
        if self.settings.notify_interval_seconds > 0 and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="notification-job")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
