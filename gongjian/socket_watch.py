"""An open WebSocket is closed (4403) as soon as the access it was opened with ends.

Each socket signed in at `connection_init` is watched by its process with its token:
- when the token expires, the socket is closed then;
- when a user's access may have changed (a password change or disabling moves the token
  generation on, a role grant is removed or changed, an API token is revoked), triggers
  (migration 0020) `pg_notify('access_changed', ...)` on commit, which reaches every server
  instance through its one listening connection (the switchboard, `gongjian.events`); each open socket of
  that user or API token looks its token up again, and is closed when the token no longer
  signs anyone in or no longer carries every grant the socket was opened with;
- after the listening connection is (re-)established every open socket is checked again,
  since notifications may have been missed meanwhile.
Operations keep re-checking the token on their own (`socket_viewer`): this watch ends the
socket itself, and with it any running subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.datastructures import State
from starlette.websockets import WebSocket

from db import events as db_events
from db.pool import Database
from gongjian import db_faults, tokens
from gongjian.config import Settings
from gongjian.events import Switchboard, switchboard
from resolvers.context import viewer_from_token
from resolvers.viewer import Viewer

CLOSE_CODE: Final = 4403
CLOSE_REASON: Final = "Forbidden: the access this connection was opened with has ended"
EXPIRED_REASON: Final = "Forbidden: the token of this connection has expired"
SCOPE_KEY: Final = "gongjian.watched_socket"

log = logging.getLogger("gongjian.sockets")


@dataclass(eq=False)
class WatchedSocket:
    websocket: WebSocket
    db: Database
    token: str
    viewer: Viewer
    expiry: asyncio.TimerHandle | None = field(default=None, repr=False)


def _grants(viewer: Viewer) -> set[tuple[str, int | None, int | None]]:
    return {(g.role.value, g.area_id, g.organisation_id) for g in viewer.grants}


def keeps_access(before: Viewer, now: Viewer | None) -> bool:
    """Whether the token still stands for the same viewer with every grant it had."""
    return (
        now is not None
        and now.user_id == before.user_id
        and now.api_token_id == before.api_token_id
        and _grants(before) <= _grants(now)
    )


class SocketWatch:
    """The open, signed-in WebSockets of this process."""

    def __init__(self, settings: Settings, board: Switchboard | None) -> None:
        self.settings = settings
        self.board = board
        self._sockets: set[WatchedSocket] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        if board is not None:
            board.route(db_events.ACCESS_CHANGED, self._on_access_changed, self._on_lost, self._check_all)

    def __len__(self) -> int:
        return len(self._sockets)

    def open(self, socket: WatchedSocket) -> None:
        self._sockets.add(socket)
        claims = tokens.verify(tokens.secrets_of(self.settings), socket.token)
        if claims is not None:  # a signed token ends at its expiry (an API token has none)
            delay = max(0.0, claims.expires_at - time.time())
            socket.expiry = asyncio.get_running_loop().call_later(
                delay, lambda: self._spawn(self._end(socket, EXPIRED_REASON))
            )
        if self.board is not None:
            self.board.retain()

    def forget(self, socket: WatchedSocket) -> None:
        """The socket ended (or is being closed): stop watching it."""
        if socket not in self._sockets:
            return
        self._sockets.discard(socket)
        if socket.expiry is not None:
            socket.expiry.cancel()
        if self.board is not None:
            self.board.release()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_access_changed(self, event: dict[str, Any]) -> None:
        user, token = event.get("user"), event.get("token")
        for socket in list(self._sockets):
            if (isinstance(user, int) and socket.viewer.user_id == user) or (
                isinstance(token, int) and socket.viewer.api_token_id == token
            ):
                self._spawn(self._check(socket))

    def _on_lost(self) -> None:
        """Nothing to do now: every socket is checked once the listener is back."""

    def _check_all(self) -> None:
        for socket in list(self._sockets):
            self._spawn(self._check(socket))

    async def _check(self, socket: WatchedSocket) -> None:
        try:
            now = await viewer_from_token(socket.db, self.settings, socket.token)
        except Exception as exc:
            if db_faults.classify(exc) is None:
                log.exception("checking a socket's access failed")
            # the database is away: the socket's next operation checks its token again,
            # and every socket is checked once the listener has reconnected
            return
        if not keeps_access(socket.viewer, now):
            await self._end(socket, CLOSE_REASON)

    async def _end(self, socket: WatchedSocket, reason: str) -> None:
        if socket not in self._sockets:
            return
        self.forget(socket)
        log.info("socket closed: access ended", extra={"fields": {"user": socket.viewer.user_id, "reason": reason}})
        # the client may be gone already (or the socket closing): nothing is left to tell it
        with contextlib.suppress(Exception):
            await socket.websocket.close(code=CLOSE_CODE, reason=reason)


def install(state: State, settings: Settings) -> None:
    """Make the process's socket watch (the app's lifespan does, after the switchboard:
    `gongjian.events.install`); without a database URL it still ends sockets at their
    token's expiry."""
    if getattr(state, "socket_watch", None) is None:
        state.socket_watch = SocketWatch(settings, switchboard(state))


def watch_of(state: State) -> SocketWatch | None:
    """The process's socket watch, if the app's lifespan made one."""
    watch: SocketWatch | None = getattr(state, "socket_watch", None)
    return watch
