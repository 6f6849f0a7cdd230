"""Running a query on the compiled path, or leaving it to the ordinary one.

`CompiledReads` is the last schema extension: by the time it runs, the document parsed
and validated (depth, alias, token and cost limits: the same errors for both paths) and
the earlier extensions had their say. A signed-in HTTP query whose every field is
declared in SQL is answered by one statement; its JSON (UTF-8 bytes) goes into the
response as it is (an `orjson.Fragment`), after one more statement writes the
personal-data reads it returned to the audit log, when there are any. Anything else, or
any value the ordinary path would refuse, runs on the ordinary path. Plans are cached by
document text, the operation's name, the booleans that @skip/@include read, the types
`node(id)` and `nodes(ids)` name and each connection's `first` (a constant of the
statement); the trusted documents' queries are planned when the app starts
(`precompile`), and those plans stay."""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterable
from typing import Any, Final, cast

import orjson
from graphql import (
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    Visitor,
    get_operation_ast,
    parse,
    validate,
    visit,
)
from graphql.execution.values import get_variable_values
from starlette.requests import Request
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType as StrawberryOperationType

from db import access
from db.pool import Database
from gongjian.recent import Recent
from gongjian.tokens import TokenClaims
from resolvers import context, ids
from resolvers.compiled import nested, sql
from resolvers.compiled.declarations import SOURCES
from resolvers.compiled.planner import (
    Fallback,
    NotCompilable,
    Plan,
    Planner,
    Variables,
    first_value,
    node_type,
    nodes_types,
)
from resolvers.context import Context

log = logging.getLogger("gongjian.compiled")

CACHE_SIZE: Final = 1000
Compiled = tuple[str, Plan] | None  # None: this shape of the operation runs ordinarily
_plans: Recent[tuple[Any, ...], Compiled] = Recent(CACHE_SIZE)
# (document text, operation name, variables as sorted JSON) -> statement and parameters
_answers: Recent[tuple[str, str | None, bytes], tuple[str, tuple[Any, ...]]] = Recent(CACHE_SIZE)


def _document_key(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


def _coerced(schema: Any, operation: OperationDefinitionNode, given: dict[str, Any] | None) -> Variables:
    """The variables as the ordinary path coerces them (defaults applied); Fallback when
    they do not coerce (the ordinary path answers with its errors)."""
    found = get_variable_values(schema, operation.variable_definitions or (), given or {})
    if isinstance(found, list):
        raise Fallback("variables")
    return dict(found.coerced)


_variable_roles: Recent[str, tuple[frozenset[str], frozenset[str]]] = Recent(CACHE_SIZE)


def _roles(document_key: str, document: DocumentNode) -> tuple[frozenset[str], frozenset[str]]:
    """The variables whose values a plan depends on, besides the types `node(id)` names:
    those @skip/@include read (a filter's Boolean is a parameter, not a shape), and those
    given as a connection's `first` (a constant of the statement)."""
    found = _variable_roles.get(document_key)
    if found is None:
        flags: set[str] = set()
        firsts: set[str] = set()

        class Roles(Visitor):
            def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
                if node.name.value in ("skip", "include"):
                    for argument in node.arguments or ():
                        if isinstance(argument.value, VariableNode):
                            flags.add(argument.value.name.value)

            def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
                if node.name.value == "first" and isinstance(node.value, VariableNode):
                    firsts.add(node.value.name.value)

        visit(document, Roles())
        found = _variable_roles[document_key] = (frozenset(flags), frozenset(firsts))
    return found


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _name(operation: OperationDefinitionNode) -> str | None:
    """The operation's name (the one that runs, named or not)."""
    return operation.name.value if operation.name else None


def _node_fields(planner: Planner, variables: Variables, names: tuple[str, ...] = ("node",)) -> list[list[FieldNode]]:
    """The operation's root `node(id)` fields (each as the field nodes merged under its key);
    or those of the root fields `names`."""
    query = planner.schema.query_type
    assert query is not None
    collected = planner.collect(query, [planner.operation.selection_set], variables).values()
    return [nodes for nodes in collected if nodes[0].name.value in names]


def _shape(
    planner: Planner, variables: Variables, flag_names: frozenset[str], first_names: frozenset[str]
) -> tuple[Any, ...]:
    """What, besides the document, a plan depends on."""
    query = planner.schema.query_type
    assert query is not None
    # the type `node(id)` names; the sorted types `nodes(ids)` names (not their number or order)
    node_types = [
        node_type(planner._value(nodes, query, "id")(variables))
        if nodes[0].name.value == "node"
        else nodes_types(planner._value(nodes, query, "ids")(variables))
        for nodes in _node_fields(planner, variables, ("node", "nodes"))
    ]
    flags = tuple(sorted((k, v) for k, v in variables.items() if k in flag_names and isinstance(v, bool)))
    firsts = tuple((k, first_value(variables.get(k))) for k in sorted(first_names))
    given = tuple(p for p in _given(variables) if p[0] not in flag_names | first_names)
    return flags, tuple(node_types), firsts, given


def _given(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The paths of the variables' values that are not null (into input objects): a filter's
    absent argument is a typed NULL of the statement, so that a generic plan does not weigh
    `$x IS NULL OR ...` for a value it never has."""
    if isinstance(value, dict):
        return [p for k in sorted(value) for p in _given(value[k], (*path, str(k)))]
    return [] if value is None else [path]


# plans of the trusted documents, built when the app starts (never evicted)
_trusted: dict[tuple[Any, ...], Compiled] = {}
_precompiled: set[str] = set()  # the documents `precompile` has seen (an app per test: plan once)
# plans built while answering a request (tests: a trusted operation builds none)
plans_built = 0


def _build(planner: Planner, variables: Variables, name: str | None) -> Compiled:
    try:
        plan = planner.plan(variables)
    except NotCompilable as exc:
        log.debug("not compiled", extra={"fields": {"operation": name, "reason": str(exc)}})
        return None
    return (nested.statement(plan) if nested.supports(plan) else sql.statement(plan)), plan


def compile_operation(
    schema: Any, document: Any, query: str, operation_name: str | None, given: Any
) -> tuple[str, list[Any]]:
    """The statement and its request-specific parameters (after the fixed ones, `FIXED`);
    raises NotCompilable or Fallback. Both depend on the document, the operation and the
    variables alone: the answer to the same three is kept (bounded), so a repeated request
    (a page polled, a list's first page) is not coerced and planned again (60-90 us a request)."""
    try:
        memo = (query, operation_name, orjson.dumps(given, option=orjson.OPT_SORT_KEYS))
    except TypeError:  # a value JSON does not hold (not sent as JSON): not kept
        memo = None
    if memo is not None and (found := _answers.get(memo)) is not None:
        return found[0], list(found[1])
    statement, params = _compile(schema, document, query, operation_name, given)
    if memo is not None:
        _answers[memo] = (statement, tuple(params))
    return statement, params


def _compile(schema: Any, document: Any, query: str, operation_name: str | None, given: Any) -> tuple[str, list[Any]]:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        raise NotCompilable("no operation")
    variables = _coerced(schema, operation, given)
    planner = Planner(schema, operation, _fragments(document))
    document_key = _document_key(query)
    name = _name(operation)
    key = (document_key, name, *_shape(planner, variables, *_roles(document_key, document)))
    if key in _trusted:
        compiled = _trusted[key]
    elif key in _plans:
        compiled = _plans[key]
    else:
        compiled = _planned(key, planner, variables, name)
    if compiled is None:
        raise NotCompilable("cached")
    statement, plan = compiled
    if not _holds(plan, variables):
        # the same variables given, other constants: a filter's value that narrows to nothing
        # or reads as another argument (an assignee that is a unit); planned once more for them
        variant = (key, tuple(source(variables) for source, _ in plan.assumed))
        found = (
            _plans[variant]
            if variant in _plans
            else _planned(variant, Planner(schema, operation, _fragments(document)), variables, name)
        )
        if found is None or not _holds(found[1], variables):
            raise NotCompilable("cached")
        statement, plan = found
    return statement, [source(variables) for source in plan.params]


def _planned(key: tuple[Any, ...], planner: Planner, variables: Variables, name: str | None) -> Compiled:
    """A plan built on a request, kept in the bounded cache."""
    global plans_built
    plans_built += 1
    compiled = _plans[key] = _build(planner, variables, name)
    return compiled


def _holds(plan: Plan, variables: Variables) -> bool:
    """Whether the constants a plan wrote into its statement are this request's."""
    return all(source(variables) == value for source, value in plan.assumed)


def _node_types(schema: GraphQLSchema, planner: Planner) -> list[tuple[str, ...]]:
    """The shapes of an operation's `node(id)` fields worth planning ahead: for each, the
    declared Node types its fragments name (an interface or union: its declared members);
    one shape per combination."""
    choices: list[list[str]] = []
    for nodes in _node_fields(planner, {}):
        named: list[str] = []
        for field_node in nodes:
            for selection in field_node.selection_set.selections if field_node.selection_set else ():
                condition = None
                if isinstance(selection, InlineFragmentNode) and selection.type_condition:
                    condition = selection.type_condition.name.value
                elif isinstance(selection, FragmentSpreadNode) and selection.name.value in planner.fragments:
                    condition = planner.fragments[selection.name.value].type_condition.name.value
                t = schema.get_type(condition) if condition else None
                members = (
                    schema.get_possible_types(t) if isinstance(t, GraphQLInterfaceType | GraphQLUnionType) else [t]
                )
                named += [m.name for m in members if isinstance(m, GraphQLObjectType) and m.name in SOURCES]
        choices.append(sorted(set(named)))
    return list(itertools.product(*choices))


def precompile(schema: GraphQLSchema, documents: Iterable[str]) -> int:
    """Plan the query operations of trusted documents ahead of their first request: the
    shape without @skip/@include variables (an operation whose plan needs them is planned
    on request), with the default `first`, one per type each `node(id)` may name. An
    operation with `nodes(ids: $ids)` is planned on its first request (its plan depends on
    the set of types the ids name: `_shape` falls back without them). The number of plans kept."""
    kept = 0
    for text in documents:
        document_key = _document_key(text)
        if document_key in _precompiled:
            kept += sum(1 for k, c in _trusted.items() if k[0] == document_key and c is not None)
            continue
        _precompiled.add(document_key)
        document = parse(text)
        queries = [
            d
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode) and d.operation == OperationType.QUERY
        ]
        if not queries:
            continue
        flag_names, first_names = _roles(document_key, document)
        if flag_names:
            continue
        if validate(schema, document):
            continue  # not served (yet): the ordinary path answers with its errors
        fragments = _fragments(document)
        for operation in queries:
            name = _name(operation)
            planner = Planner(schema, operation, fragments)
            try:
                shapes = _node_types(schema, planner)
            except (NotCompilable, Fallback):
                continue
            for types in shapes:
                variables = _stand_ins(planner, types)
                try:
                    key = (document_key, name, *_shape(planner, variables, frozenset(), first_names))
                    if key in _trusted:
                        kept += _trusted[key] is not None
                        continue
                    compiled = _build(Planner(schema, operation, fragments), variables, name)
                except Fallback:
                    continue
                _trusted[key] = compiled
                kept += compiled is not None
    return kept


def _stand_ins(planner: Planner, types: tuple[str, ...]) -> Variables:
    """Variables under which the `node(id)` fields name `types`: an id of each type (planning
    reads an id's type only, never its number)."""
    variables: Variables = {}
    for nodes, type_name in zip(_node_fields(planner, {}), types, strict=True):
        argument = next((a.value for a in nodes[0].arguments or () if a.name.value == "id"), None)
        if isinstance(argument, VariableNode):
            variables[argument.name.value] = ids.encode(type_name, 1)
    return variables


Fixed = tuple[int, int | None, int | None, str, str]  # sql.py's $1..$5


def fixed_parameters(ctx: Context) -> Fixed:
    """The statement's fixed parameters for this request: user, API token, the session
    token's generation (when the statement is to check it), request id, base URL."""
    base_url = context.base_url(ctx.request) if ctx.request is not None else "/"  # as resolvers/attachments.py url_of
    if ctx.viewer is not None:
        return (ctx.viewer.user_id, ctx.viewer.api_token_id, None, ctx.request_id, base_url)
    assert ctx.unchecked is not None
    return session_parameters(ctx.unchecked, ctx.request_id, base_url)


def session_parameters(claims: TokenClaims, request_id: str, base_url: str) -> Fixed:
    """The fixed parameters of a session token's request: the statement checks its generation."""
    return (claims.user_id, None, claims.generation, request_id, base_url)


async def run(db: Database, statement: str, fixed: Fixed, params: list[Any]) -> bytes | None:
    """The `data` JSON; None when the session token no longer signs its user in (the
    statement checks it: one round trip for the viewer and the answer), or a field's rule
    refuses. The personal-data reads the statement returns are audited before the answer
    goes out: an answer whose audit rows could not be written is not sent (the error is)."""
    row = await db.read_row(statement, *fixed, *params)
    if row is None or row[0] is None:
        return None
    data, county, fields, households, reasons = row
    if fields:
        async with db.connection() as conn:
            await access.audit_reads(
                conn,
                county_id=county,
                user_id=fixed[0],
                api_token_id=fixed[1],
                request_id=fixed[3],
                reads=list(zip(fields, households, reasons, strict=True)),
            )
    return cast(bytes, data)


def _may_compile(execution: ExecutionContext) -> bool:
    """An HTTP query by a viewer (signed in, or with a session token the statement checks)."""
    ctx = execution.context
    return (
        execution.result is None
        and isinstance(ctx, Context)
        and isinstance(ctx.request, Request)
        and (ctx.viewer is not None or ctx.unchecked is not None)
        and execution.graphql_document is not None
        and execution.query is not None
        and execution.operation_type == StrawberryOperationType.QUERY
    )


class SignIn(SchemaExtension):
    """Asks the database who a session token's account is before the operation runs, except
    for a query the compiled path may answer: its statement asks, and `CompiledReads` signs
    in on the ordinary path's behalf when it does not answer."""

    def __init__(self, *, compiled_reads: bool = True) -> None:
        super().__init__()
        self.compiled_reads = compiled_reads

    async def on_execute(self) -> Any:  # an async generator: strawberry's hook shape
        ctx = self.execution_context.context
        if isinstance(ctx, Context) and not (self.compiled_reads and _may_compile(self.execution_context)):
            await ctx.sign_in()
        yield


class CompiledReads(SchemaExtension):
    """Answers a query with one SQL statement where it can (see the module's docstring)."""

    def __init__(self, *, enabled: bool = True) -> None:
        super().__init__()
        self.enabled = enabled

    async def on_execute(self) -> Any:  # an async generator: strawberry's hook shape
        execution = self.execution_context
        ctx = execution.context
        if self.enabled and _may_compile(execution):
            assert isinstance(ctx, Context) and isinstance(ctx.request, Request)
            assert execution.graphql_document is not None and execution.query
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
                failed = getattr(ctx.request.state, "compiled_failure", None)  # gongjian/compiled_http.py ran it
                if isinstance(failed, Exception):
                    raise failed
                data = await run(ctx.db, statement, fixed_parameters(ctx), params)
                if data is not None:
                    ctx.execution_path = "compiled"
                    execution.result = ExecutionResult(data=cast(dict[str, Any], orjson.Fragment(data)), errors=None)
                    # the whole pipeline let this document through, and the compiled path answered
                    # it: gongjian/compiled_http.py may answer its next requests by itself
                    ctx.compiled_document = (execution.query, execution.operation_name, execution.graphql_document)
        if isinstance(ctx, Context) and execution.result is None:
            await ctx.sign_in()  # the ordinary path answers: it needs the viewer
        yield


def is_raw(data: object) -> bool:
    return isinstance(data, orjson.Fragment)
