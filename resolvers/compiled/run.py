"""Running a query on the compiled path, or leaving it to the ordinary one.

`CompiledReads` is the last schema extension: by the time it runs, the document parsed
and validated (depth, alias, token and cost limits: the same errors for both paths) and
the earlier extensions had their say. A signed-in HTTP query whose every field is
declared in SQL is answered by one statement; its JSON text goes into the response as it
is (an `orjson.Fragment`). Anything else, or any value the ordinary path would refuse,
runs on the ordinary path. Plans are cached by document text, operation name, the
booleans that @skip/@include may read and the types `node(id)` names."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Any, Final, cast

import orjson
from graphql import (
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    get_operation_ast,
)
from graphql.execution.values import get_variable_values
from starlette.requests import Request
from strawberry.extensions import SchemaExtension

from resolvers.compiled import sql
from resolvers.compiled.planner import Fallback, NotCompilable, Plan, Planner, Variables, node_type
from resolvers.context import Context

log = logging.getLogger("gongjian.compiled")

CACHE_SIZE: Final = 1000
Compiled = tuple[str, Plan] | None  # None: this shape of the operation runs ordinarily
_plans: OrderedDict[tuple[Any, ...], Compiled] = OrderedDict()


def _document_key(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


def _coerced(schema: Any, operation: OperationDefinitionNode, given: dict[str, Any] | None) -> Variables:
    """The variables as the ordinary path coerces them (defaults applied); Fallback when
    they do not coerce (the ordinary path answers with its errors)."""
    found = get_variable_values(schema, operation.variable_definitions or (), given or {})
    if isinstance(found, list):
        raise Fallback("variables")
    return dict(found.coerced)


def _shape(planner: Planner, variables: Variables) -> tuple[Any, ...]:
    """What, besides the document, a plan depends on."""
    query = planner.schema.query_type
    assert query is not None
    node_types = []
    for nodes in planner.collect(query, [planner.operation.selection_set], variables).values():
        if nodes[0].name.value == "node":
            node_types.append(node_type(planner._value(nodes, query, "id")(variables)))
    flags = tuple(sorted((k, v) for k, v in variables.items() if isinstance(v, bool)))
    return flags, tuple(node_types)


def compile_operation(
    schema: Any, document: Any, query: str, operation_name: str | None, given: Any
) -> tuple[str, list[Any]]:
    """The statement and its request-specific parameters (after the four fixed ones);
    raises NotCompilable or Fallback."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        raise NotCompilable("no operation")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    variables = _coerced(schema, operation, given)
    planner = Planner(schema, operation, fragments)
    key = (_document_key(query), operation_name, *_shape(planner, variables))
    if key in _plans:
        _plans.move_to_end(key)
        compiled = _plans[key]
    else:
        try:
            plan = planner.plan(variables)
            compiled = (sql.statement(plan), plan)
        except NotCompilable as exc:
            log.debug("not compiled", extra={"fields": {"operation": operation_name, "reason": str(exc)}})
            compiled = None
        _plans[key] = compiled
        if len(_plans) > CACHE_SIZE:
            _plans.popitem(last=False)
    if compiled is None:
        raise NotCompilable("cached")
    statement, plan = compiled
    return statement, [source(variables) for source in plan.params]


async def run(ctx: Context, statement: str, params: list[Any]) -> str:
    viewer = ctx.signed_in
    async with ctx.db.connection() as conn:
        text = await conn.fetchval(
            statement, viewer.user_id, viewer.api_token_id, viewer.county_id, ctx.request_id, *params
        )
    return cast(str, text)


class CompiledReads(SchemaExtension):
    """Answers a query with one SQL statement where it can (see the module's docstring)."""

    def __init__(self, *, enabled: bool = True) -> None:
        super().__init__()
        self.enabled = enabled

    async def on_execute(self) -> Any:  # an async generator: strawberry's hook shape
        execution = self.execution_context
        ctx = execution.context
        if (
            self.enabled
            and execution.result is None
            and isinstance(ctx, Context)
            and isinstance(ctx.request, Request)
            and ctx.viewer is not None
            and execution.graphql_document is not None
            and execution.query is not None
        ):
            try:
                statement, params = compile_operation(
                    execution.schema._schema,
                    execution.graphql_document,
                    execution.query,
                    execution.operation_name,
                    execution.variables,
                )
            except (NotCompilable, Fallback, GraphQLError):
                pass
            else:
                text = await run(ctx, statement, params)
                ctx.execution_path = "compiled"
                execution.result = ExecutionResult(data=cast(dict[str, Any], orjson.Fragment(text)), errors=None)
        yield


def is_raw(data: object) -> bool:
    return isinstance(data, orjson.Fragment)
