"""Every operation on a WebSocket is authorised as of now, as an HTTP request is.

The viewer found at `connection_init` would otherwise stand for the whole connection:
after the token expired, the user was disabled or lost a grant, the same socket could
still read and write. Before each operation this extension looks the token of the
connection up again (token, user, grants) and runs the operation on a copy of the
connection's context with that viewer and fresh DataLoaders; without a valid viewer it runs
as an HTTP request without a token does (UNAUTHENTICATED wherever sign-in is required).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from resolvers.context import Context, token_from_connection_params, viewer_from_token


class SocketViewer(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        ctx = self.execution_context.context
        if isinstance(ctx, Context) and isinstance(ctx.request, WebSocket):
            token = token_from_connection_params(ctx.connection_params)
            viewer = await viewer_from_token(ctx.db, ctx.settings, token)
            operation = ctx.for_operation()
            operation.viewer = viewer
            self.execution_context.context = operation
        yield
