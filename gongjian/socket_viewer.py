"""Every operation on a WebSocket is authorised as of now, as an HTTP request is.

The viewer found at `connection_init` would otherwise stand for the whole connection:
after the token expired, the user was disabled or lost a grant, the same socket could
still read and write. Before each operation this extension looks the token of the
connection up again (token, user, grants) and runs the operation on a copy of the
connection's context with that viewer and fresh DataLoaders; without a valid viewer it runs
as an HTTP request without a token does (UNAUTHENTICATED wherever sign-in is required).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from graphql import ExecutionResult, GraphQLError
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from gongjian.tokens import token_from_connection_params
from resolvers.context import Context, viewer_from_token


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


class SubscriptionsNeedSocket(SchemaExtension):
    """A subscription sent over HTTP is refused with BAD_REQUEST (run as a query, its
    stream would end as an INTERNAL_SERVER_ERROR): subscriptions need graphql-transport-ws."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        ctx = execution.context
        if (
            execution.result is None
            and isinstance(getattr(ctx, "request", None), Request)
            and execution.graphql_document is not None
            and execution.operation_type == OperationType.SUBSCRIPTION
        ):
            error = GraphQLError(
                "Subscriptions are served over WebSocket (graphql-transport-ws) only",
                extensions={"code": "BAD_REQUEST"},
            )
            execution.result = ExecutionResult(data=None, errors=[error])
        yield
