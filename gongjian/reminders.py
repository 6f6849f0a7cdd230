"""The periodic job of each server instance: it raises the time-based notifications
(`db.notifications.sweep`) and delivers new ones to the outbound webhook, signed."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from db import notifications as db
from db.notifications import Outgoing
from db.pool import Database
from gongjian import clock
from gongjian.config import Settings
from resolvers import ids
from resolvers.messages import render_notification

log = logging.getLogger("gongjian.notifications")

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
            return await db.sweep(conn, now or clock.now())

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
