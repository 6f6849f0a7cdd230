"""Rate limits on mutations and sign-ins, per account and per address, shared by every
instance (the counters are rows of PostgreSQL, `db/rate_limits.py`).

A mutation counts once against its account (user or API token) and once against the
client's address; an operation with `login` counts against the address's sign-ins too.
Over a limit the whole operation is refused before it runs with `RATE_LIMITED` and
`retryAfter` (seconds) in `extensions`; over HTTP the status is 429 with `Retry-After`.
Queries and subscriptions are not counted: the cost rule and the pool bound them.
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator

from graphql import ExecutionResult, FieldNode, GraphQLError, OperationDefinitionNode
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from db import rate_limits as db
from resolvers.context import Context

FORGET_EVERY = 200  # about one hit in this many also deletes windows that ended long ago


def _root_fields(document: object, operation_name: str | None) -> set[str]:
    definitions = getattr(document, "definitions", ())
    names: set[str] = set()
    for definition in definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name is not None and (definition.name is None or definition.name.value != operation_name):
            continue
        names.update(s.name.value for s in definition.selection_set.selections if isinstance(s, FieldNode))
    return names


def _limits(ctx: Context, root_fields: set[str]) -> dict[str, int]:
    """The keys this mutation counts against, with the limit of each (0: no limit)."""
    s = ctx.settings
    keys: dict[str, int] = {}
    viewer = ctx.viewer
    if viewer is not None:
        account = f"token:{viewer.api_token_id}" if viewer.api_token_id is not None else f"user:{viewer.user_id}"
        keys[f"mutation:{account}"] = s.rate_mutations_per_account
    client = ctx.request.client if ctx.request is not None else None
    if client is not None and client.host:
        keys[f"mutation:address:{client.host}"] = s.rate_mutations_per_address
        if "login" in root_fields:
            keys[f"login:address:{client.host}"] = s.rate_logins_per_address
    return {k: v for k, v in keys.items() if v > 0}


class RateLimits(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        ctx = execution.context
        if (
            execution.result is None
            and isinstance(ctx, Context)
            and execution.graphql_document is not None
            and execution.operation_type == OperationType.MUTATION
        ):
            limits = _limits(ctx, _root_fields(execution.graphql_document, execution.operation_name))
            if limits:
                window = ctx.settings.rate_window_seconds
                async with ctx.db.connection() as conn:
                    counted = await db.hit(conn, list(limits), window)
                    if random.randrange(FORGET_EVERY) == 0:  # noqa: S311 - not security: housekeeping odds
                        await db.forget_old(conn, window)
                over = [h for h in counted if h.hits > limits[h.key]]
                if over:
                    _refuse(execution, ctx, seconds=max(h.seconds_left for h in over))
        yield


def _refuse(execution: ExecutionContext, ctx: Context, *, seconds: float) -> None:
    retry_after = max(1, math.ceil(seconds))
    error = GraphQLError(
        f"Too many requests: try again in {retry_after} s",
        extensions={"code": "RATE_LIMITED", "retryAfter": retry_after},
    )
    execution.result = ExecutionResult(data=None, errors=[error])
    if isinstance(ctx.response, Response):
        ctx.response.status_code = 429
        ctx.response.headers["Retry-After"] = str(retry_after)
