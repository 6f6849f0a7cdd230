"""The Starlette app: /graphql (HTTP and graphql-transport-ws), /healthz, /readyz."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import DisableIntrospection
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from db.migrate import migrate
from db.pool import PoolDatabase, connect, create_pool
from gongjian.config import Settings
from resolvers import limits
from resolvers.context import Context, bearer, token_from_connection_params, viewer_from_token
from resolvers.observability import OperationLog
from schema import root

log = logging.getLogger("gongjian")


def _extensions(settings: Settings) -> list[Any]:
    chosen: list[Any] = [*limits.extensions(settings), OperationLog]
    if not settings.introspection:
        chosen.append(DisableIntrospection)
    return chosen


class GongjianGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            root.build(_extensions(settings)),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            allowed_origins=settings.allowed_origins,
        )
        self.settings = settings

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket once, at `connection_init`: the viewer then stays on the
        connection's context. A missing, bad, expired or revoked token closes it with 4403."""
        token = token_from_connection_params(context.connection_params)
        viewer = await viewer_from_token(context.db, self.settings, token)
        if viewer is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.viewer = viewer
        acknowledged: UnsetType = UNSET
        return acknowledged

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        db = request.app.state.db
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        viewer = None
        if isinstance(request, Request):
            viewer = await viewer_from_token(db, self.settings, bearer(request.headers.get("authorization")))
        return Context(
            db=db,
            settings=self.settings,
            request_id=request_id[:64],
            viewer=viewer,
            request=request,
            response=response if isinstance(response, Response) else None,
        )


class BodyLimit:
    """Refuses request bodies over the configured size with a GraphQL-shaped 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {
            "errors": [
                {
                    "message": f"Request body is larger than {self.max_bytes} bytes",
                    "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                }
            ]
        }
        await JSONResponse(body, status_code=413)(scope, receive, send)


class _TooLarge(Exception):
    pass


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        async with asyncio.timeout(2.0), request.app.state.db.connection() as conn:
            await conn.fetchval("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        log.warning("readiness check failed", extra={"fields": {"reason": type(exc).__name__}})
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})


def create_app(settings: Settings, *, db: Any = None) -> Starlette:
    """The app; with `db` given (tests) the lifespan neither opens a pool nor migrates."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if db is not None:
            app.state.db = db
            yield
            return
        assert settings.database_url is not None, "the CLI resolves DATABASE_URL before serving"
        raw = await connect(settings.database_url)
        try:
            applied = await migrate(raw)
        finally:
            await raw.close()
        if applied:
            log.info("migrations applied", extra={"fields": {"versions": applied}})
        pool = await create_pool(settings.database_url, min_size=settings.pool_min, max_size=settings.pool_max)
        app.state.db = PoolDatabase(pool)
        try:
            yield
        finally:
            await pool.close()

    graphql = GongjianGraphQL(settings)
    app = Starlette(
        routes=[
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    if db is not None:
        app.state.db = db
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def from_environment() -> Starlette:
    """The uvicorn factory: configuration from the environment the CLI prepared."""
    from gongjian import config, logs

    settings = config.load()
    logs.configure(settings.log_level)
    return create_app(settings)
