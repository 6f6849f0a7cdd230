"""The Starlette app: /graphql (HTTP and graphql-transport-ws), /healthz, /readyz."""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import logging
import random
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, cast

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.datastructures import Headers, State
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived, WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from db.migrate import migrate
from db.pool import PoolDatabase, connect, create_pool
from gongjian import (
    db_faults,
    graphiql,
    json_input,
    limits,
    media,
    socket_watch,
    spreadsheets,
    telemetry,
    trusted_documents,
)
from gongjian import events as live_events
from gongjian.compiled_http import CompiledHttp
from gongjian.config import Settings
from gongjian.observability import OperationLog
from gongjian.rate_limits import RateLimits
from gongjian.reminders import Reminders
from gongjian.socket_viewer import SocketViewer, SubscriptionsNeedSocket
from gongjian.text_input import RefuseNulText
from gongjian.tokens import bearer, token_from_connection_params
from gongjian.translation import language_of, translate
from gongjian.trusted_documents import TrustedDocuments
from resolvers import attachments, exports
from resolvers.compiled import run as compiled_reads
from resolvers.compiled.run import CompiledReads, SignIn
from resolvers.context import Context, session_claims, viewer_from_token
from schema import root

log = logging.getLogger("gongjian")

# a refused HTTP request: its status -> the code in the GraphQL-shaped error body
HTTP_CODES: Final = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def error_response(
    status: int, message: str, *, code: str | None = None, media_type: str = media.JSON, **extensions: Any
) -> JSONResponse:
    # a refusal may quote the client's text, which can hold a lone surrogate (no UTF-8 form)
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    body = {
        "errors": [
            {"message": message, "extensions": {"code": code or HTTP_CODES.get(status, "BAD_REQUEST"), **extensions}}
        ]
    }
    headers = {"allow": "GET, POST"} if status == 405 else None
    return JSONResponse(body, status_code=status, headers=headers, media_type=media_type)


def _extensions(settings: Settings) -> list[Any]:
    """Order matters: the log wraps everything; trusted documents swap in the text before
    the token limit, parsing and validation run; NUL text is refused before execution; the
    viewer is known before the rate limits count a mutation."""
    return [
        OperationLog,
        SocketViewer,
        lambda: TrustedDocuments(
            only=settings.trusted_documents_only,
            introspection=settings.introspection,
            max_tokens=settings.max_tokens,
            keep=settings.persisted_queries_max,
        ),
        *limits.extensions(settings),
        RefuseNulText,
        SubscriptionsNeedSocket,
        lambda: SignIn(compiled_reads=settings.compiled_reads),
        RateLimits,
        lambda: CompiledReads(enabled=settings.compiled_reads),
    ]


class CappedWebSocket(ASGIWebSocketAdapter):
    """strawberry's WebSocket adapter, with each message capped like a request body: a
    larger one closes the socket with 1009 (message too big)."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        view = self.view
        assert isinstance(view, GongjianGraphQL)
        cap = view.settings.max_body_bytes
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                try:
                    text = await self.ws.receive_text()
                    if len(text) > cap // 4 and len(text.encode("utf-8", "surrogatepass")) > cap:
                        await self.ws.close(code=1009, reason=f"Messages may have at most {cap} bytes")
                        return
                    yield self.view.decode_json(text)
                except json.JSONDecodeError as e:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from e
        except KeyError as e:
            raise NonTextMessageReceived from e
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Mapping[str, object]) -> None:
        """As text frames (graphql-transport-ws), from the view's UTF-8 encoding."""
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


def encode_json(data: object) -> bytes:
    """A response's JSON, by orjson (UTF-8, compact); the standard encoder where orjson
    refuses: a lone surrogate (escaped) or an integer beyond 64 bits."""
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(data, separators=(",", ":")).encode()


class GongjianGraphQL(GraphQL[Context, None]):
    """strawberry's ASGI view, with every refusal a GraphQL-shaped JSON error (strawberry
    answers some in plain text) and GraphiQL's files served by the app."""

    websocket_adapter_class = CappedWebSocket

    def __init__(self, settings: Settings, extra_queries: Sequence[type] = ()) -> None:
        super().__init__(
            root.build(_extensions(settings), extra_queries=extra_queries),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            allowed_origins=settings.allowed_origins,
            # uploads (addAttachment) follow the GraphQL multipart request spec; bearer tokens,
            # not cookies, authenticate, so a cross-site form cannot act for a signed-in user
            multipart_uploads_enabled=True,
        )
        self.settings = settings
        self.ide_html = graphiql.page() if settings.graphiql else ""
        self.compiled = CompiledHttp(cast(Any, self.schema)._schema, settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            try:
                await super().__call__(scope, receive, send)
            finally:  # the socket has ended: its access is no longer watched
                watched = scope.get(socket_watch.SCOPE_KEY)
                watch = socket_watch.watch_of(scope["app"].state)
                if watched is not None and watch is not None:
                    watch.forget(watched)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        request_id = _request_id(request)
        request.state.request_id = request_id
        media_type = request.state.media_type = media.negotiate(request.headers.get("accept"))
        request.state.request_error = False
        response: Response
        try:
            response = await self.compiled.answer(request, request_id) or await self._ordinary(request)
        except HTTPException as exc:
            if exc.reason == "Unsupported content type":
                response = error_response(
                    415, "Send the request as application/json (or a GET with ?query=)", media_type=media_type
                )
            else:
                response = error_response(exc.status_code, exc.reason, media_type=media_type)
            log.info(
                "request refused",
                extra={"fields": {"request_id": request_id, "status": response.status_code, "reason": exc.reason}},
            )
        except _TooLarge:
            raise
        except Exception as exc:
            fault = db_faults.classify(exc)
            if fault is None:
                log.exception("unexpected error", extra={"fields": {"request_id": request_id}})
                response = error_response(
                    500,
                    "Internal server error",
                    code="INTERNAL_SERVER_ERROR",
                    requestId=request_id,
                    media_type=media_type,
                )
            else:  # the database failed before the operation ran (the viewer's token, a rate limit)
                log.warning("database fault", extra={"fields": {"request_id": request_id, "code": fault.code}})
                response = error_response(
                    503 if fault.unavailable else 200, fault.message, media_type=media_type, **fault.extensions
                )
                db_faults.answer_unavailable(response, fault)
        else:
            if media_type == media.GRAPHQL_RESPONSE and response.media_type == media.JSON:
                response.headers["content-type"] = media.GRAPHQL_RESPONSE
                if request.state.request_error:
                    response.status_code = 400
        finally:
            await request.close()  # an upload's spooled files
        response.headers["x-request-id"] = request_id
        await response(scope, receive, send)

    async def _ordinary(self, request: Request) -> Response:
        """strawberry's answer; a query the compiled path answered is kept for `self.compiled`."""
        response = await self.run(request)
        self.compiled.admit(request)
        return response

    def decode_json(self, data: str | bytes) -> object:
        return json_input.decode(data)

    def encode_json(self, data: object) -> bytes:
        """By orjson; a compiled operation's `data` (PostgreSQL's JSON text, an orjson
        Fragment) goes out as it is."""
        return encode_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            value = self.decode_json(data)
        except json_input.Refused as exc:
            raise HTTPException(400, f"Unable to parse request body as JSON: {exc.msg}") from None
        except json.JSONDecodeError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(value, dict):
            raise HTTPException(400, "The request body must be a JSON object with a `query` string")
        return value

    async def parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        if not isinstance(data, list) and not isinstance(data.operation_name, str | None):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null, if provided.")
        return data

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            if "not allowed when using GET" in exc.reason:
                raise HTTPException(405, "Only queries may be sent with GET: send mutations with POST") from exc
            raise

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """With application/graphql-response+json, a request error has no `data` entry (and
        is answered with 400): nothing was executed."""
        processed = await super().process_result(request, result)
        if request.state.media_type == media.GRAPHQL_RESPONSE and media.is_request_error(result):
            request.state.request_error = True
            processed.pop("data", None)
        return processed

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """GraphiQL for a browser's request for a page; a GET carrying a query or a
        persisted query's `extensions` runs it, whatever else the client accepts."""
        params = request.query_params
        return (
            request.method == "GET"
            and "query" not in params
            and "extensions" not in params
            and media.accepts_html(request.headers.get("accept"))
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.ide_html)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket at `connection_init`: a missing, bad, expired or revoked
        token closes it with 4403. The socket is then watched (`gongjian/socket_watch.py`)
        and closed with 4403 as soon as that access ends."""
        token = token_from_connection_params(context.connection_params)
        viewer = await viewer_from_token(context.db, self.settings, token)
        if viewer is None or token is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.viewer = viewer
        websocket = context.request
        watch = socket_watch.watch_of(websocket.app.state) if isinstance(websocket, WebSocket) else None
        if isinstance(websocket, WebSocket) and watch is not None and socket_watch.SCOPE_KEY not in websocket.scope:
            watched = socket_watch.WatchedSocket(websocket, context.db, token, viewer)
            websocket.scope[socket_watch.SCOPE_KEY] = watched
            watch.open(watched)
        asked = (context.connection_params or {}).get("language")
        if isinstance(asked, str):
            context.language = language_of(asked)
        acknowledged: UnsetType = UNSET
        return acknowledged

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        db = request.app.state.db
        viewer = unchecked = None
        if isinstance(request, Request):
            token = bearer(request.headers.get("authorization"))
            # a session token's account is looked up when the operation runs (`SignIn`), or
            # within the compiled read's statement; an API token's use is recorded here
            unchecked = session_claims(self.settings, token)
            if unchecked is None:
                viewer = await viewer_from_token(db, self.settings, token)
        context = Context(
            db=db,
            settings=self.settings,
            request_id=getattr(request.state, "request_id", None) or _request_id(request),
            viewer=viewer,
            unchecked=unchecked,
            request=request,
            response=response if isinstance(response, Response) else None,
            language=language_of(request.headers.get("accept-language")),
        )
        if isinstance(request, Request):  # compiled_http.admit reads what the compiled path answered
            request.state.context = context
        return context


async def serve_attachment(settings: Settings, request: Request) -> Response:
    """An attachment's bytes (`?size=thumbnail`: its thumbnail) for a viewer who may see its
    subject; 404 alike for unknown ids and subjects the viewer may not see."""
    db = request.app.state.db
    language = language_of(request.headers.get("accept-language"))
    viewer = await viewer_from_token(db, settings, bearer(request.headers.get("authorization")))
    if viewer is None:
        return _unauthenticated(language)
    ctx = Context(db=db, settings=settings, request_id=_request_id(request), viewer=viewer, request=request)
    found = await attachments.content_for(
        ctx, request.path_params["id"], thumbnail=request.query_params.get("size") == "thumbnail"
    )
    if found is None:
        return error_response(404, translate("No such attachment", language))
    data, content_type = found
    return Response(
        data,
        media_type=content_type,
        headers={
            "cache-control": "private, max-age=3600",
            "x-content-type-options": "nosniff",
            "content-disposition": "inline" if content_type.startswith("image/") else "attachment",
            "content-security-policy": "default-src 'none'; sandbox",
        },
    )


async def serve_report(settings: Settings, request: Request) -> Response:
    """`GET /reports/<report>.<csv|xlsx>?areaId=...`: a report with every row, streamed."""
    db = request.app.state.db
    language = language_of(request.headers.get("accept-language"))
    viewer = await viewer_from_token(db, settings, bearer(request.headers.get("authorization")))
    if viewer is None:
        return _unauthenticated(language)
    report, _, fmt = request.path_params["name"].rpartition(".")
    if fmt not in spreadsheets.FORMATS:
        return error_response(404, translate("Reports come as .csv or .xlsx", language))
    ctx = Context(
        db=db, settings=settings, request_id=_request_id(request), viewer=viewer, request=request, language=language
    )
    try:
        table = await exports.table(ctx, report, request.query_params)
    except exports.ExportRefused as refused:
        return error_response(refused.status, translate(refused.message, language), code=refused.code)
    name = urllib.parse.quote(f"{table.title}.{fmt}")
    headers = {
        "content-disposition": f"attachment; filename=\"{report}.{fmt}\"; filename*=UTF-8''{name}",
        "cache-control": "no-store",
    }
    if fmt == "csv":
        return StreamingResponse(spreadsheets.csv_chunks(table), media_type="text/csv; charset=utf-8", headers=headers)
    workbook = await spreadsheets.xlsx_file(table)
    return StreamingResponse(
        spreadsheets.file_chunks(workbook),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=headers,
    )


def _unauthenticated(language: str) -> JSONResponse:
    message = translate("Sign in first: this needs a valid bearer token", language)
    return error_response(401, message, code="UNAUTHENTICATED")


def report_endpoint(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await serve_report(settings, request)

    return endpoint


def attachment_endpoint(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await serve_attachment(settings, request)

    return endpoint


def _request_id(request: Request | WebSocket) -> str:
    given = request.headers.get("x-request-id", "")
    if given and len(given) <= 64 and given.isascii() and given.isprintable():
        return given
    return _new_request_id()


def _new_request_id() -> str:
    """32 hexadecimal digits, like a UUID4's: a correlation id, not a secret, so Python's own
    generator (reseeded in a forked child) rather than the kernel's randomness every request."""
    return f"{random.getrandbits(128):032x}"


class BodyLimit:
    """Refuses request bodies over the configured size with a GraphQL-shaped 413."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # a multipart request (an upload) may carry the file and its form around it
        self.max_multipart_bytes = max(max_bytes, max_upload_bytes + 64 * 1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        cap = self.max_multipart_bytes if multipart else self.max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await self._refuse(scope, receive, send, cap)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send, cap)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        response = error_response(413, f"The request body is larger than {cap} bytes")
        await response(scope, receive, send)


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


class Cors(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in JSON like every refusal."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = error_response(400, bytes(response.body).decode())
        refused.headers.update({k: v for k, v in response.headers.items() if k.startswith("access-control-")})
        return refused


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(404, "Not found: GraphQL is served at /graphql")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(405, "Method not allowed")


def _install_live(state: State, settings: Settings) -> None:
    """The process's live machinery: the switchboard and its hubs, then the socket watch."""
    live_events.install(state, settings.database_url)
    socket_watch.install(state, settings)


def create_app(settings: Settings, *, db: Any = None, extra_queries: Sequence[type] = ()) -> Starlette:
    """The app; with `db` given (tests) the lifespan neither opens a pool nor migrates.
    `extra_queries` adds probe fields for tests; production never passes any."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if db is not None:
            app.state.db = db
            _install_live(app.state, settings)
            try:
                yield
            finally:
                live_events.stop(app.state)
            return
        assert settings.database_url is not None, "the CLI resolves DATABASE_URL before serving"
        raw = await connect(settings.database_url)
        try:
            applied = await migrate(raw)
        finally:
            await raw.close()
        if applied:
            log.info("migrations applied", extra={"fields": {"versions": applied}})
        open_pool = functools.partial(
            create_pool,
            settings.database_url,
            min_size=settings.pool_min,
            max_size=settings.pool_max,
            timeouts=settings.timeouts,
            time_zone=settings.timezone,
        )
        pool = await open_pool()
        reads = (
            await open_pool(
                generic_plans=True,
                min_size=min(settings.pool_min, settings.reads_pool_max),
                max_size=settings.reads_pool_max,
            )
            if settings.compiled_reads
            else None
        )
        app.state.db = PoolDatabase(pool, acquire_timeout=settings.acquire_timeout, reads=reads)
        _install_live(app.state, settings)
        job = Reminders(app.state.db, settings)
        job.start()
        # what the app built to start (the schema, its plans, the pools) lives as long as the
        # process: out of the collector's reach, a full collection no longer walks it in the
        # middle of a request (BuildingHouseholds under load, p99 47 -> 23-33 ms)
        gc.freeze()
        try:
            yield
        finally:
            live_events.stop(app.state)
            await job.stop()
            for each in (pool, reads):
                if each is not None:
                    await each.close()

    graphql = GongjianGraphQL(settings, extra_queries)
    if settings.compiled_reads:  # trusted documents compile at start, not on their first request
        compiled_reads.precompile(cast(Any, graphql.schema)._schema, trusted_documents.registered().values())
    app = Starlette(
        routes=[
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *([Route("/metrics", telemetry.metrics_endpoint)] if settings.metrics else []),
            Route("/attachments/{id}", attachment_endpoint(settings), methods=["GET"]),
            Route("/reports/{name}", report_endpoint(settings), methods=["GET"]),
            Route(graphiql.PREFIX + "{name:path}", graphiql.serve_asset),
        ],
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _not_allowed},
    )
    app.state.compiled_http = graphql.compiled
    if db is not None:  # tests may drive the app without its lifespan
        app.state.db = db
        _install_live(app.state, settings)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes)
    if settings.allowed_origins:  # browsers on these origins may call the API (and open WebSockets)
        app.add_middleware(
            Cors,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id"],
            max_age=600,
        )
    return app


def from_environment() -> Starlette:
    """The uvicorn factory: configuration from the environment the CLI prepared."""
    from gongjian import config, logs

    settings = config.load()
    logs.configure(settings.log_level)
    provider = telemetry.configure_from_environment()
    if provider is not None:
        log.info("tracing on: spans go to OTEL_EXPORTER_OTLP_ENDPOINT")
    return create_app(settings)
