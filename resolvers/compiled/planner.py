"""From a validated query operation to a plan: the tree of row sets (one per object-valued
field occurrence) and the JSON each response key takes, for one runtime type per object.

Fields are collected as graphql-core does (fragments, inline fragments, aliases merged by
response key, @skip/@include); anything the declarations do not cover raises
`NotCompilable`, and the operation runs on the ordinary path. Argument values become bind
parameters, read per request by `ParamSource`s that raise `Fallback` for a value the
ordinary path would refuse (so the refusal, and its error, stay the ordinary path's)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
)

from resolvers import ids
from resolvers.compiled.declarations import (
    INTERFACES,
    ROOTS,
    SOURCES,
    Column,
    GlobalId,
    Handed,
    Interface,
    Reason,
    Relation,
    RootConnection,
    Source,
)
from resolvers.life import time_cursor
from resolvers.nodes import MAX_IDS
from resolvers.pagination import checked_first, decode_id_cursor

# the fixed parameters of every statement: the viewer (a user, or an API token and its
# creator), the generation of the session token that signed the user in (NULL for an API
# token, which the request checked before), the request's id (for the audit rows), the
# request's base URL (for the URLs the API serves, e.g. an attachment's)
USER, TOKEN, GENERATION, REQUEST, BASE_URL = "$1", "$2", "$3", "$4", "$5"
FIXED = 5
MAX_KEYS = 50  # json_build_object takes at most 100 arguments
PAGE_REASON = "page"  # the reason a root connection audits its rows for (`RootConnection.audit`)


class NotCompilable(Exception):
    """The operation has something the compiled path does not answer: run it ordinarily."""


class Fallback(Exception):
    """This request's values are ones the ordinary path refuses or answers specially."""


Variables = dict[str, Any]
ParamSource = Callable[[Variables], Any]


@dataclass
class Scalar:
    sql: str
    masked_by: str | None = None


@dataclass
class Constant:
    value: str  # __typename


@dataclass
class Gid:
    type_name: str
    type_sql: str | None = None  # an interface's row: SQL over `{row}` naming its type


@dataclass
class Child:
    node: ObjNode


@dataclass
class PageInfoPart:
    keys: list[tuple[str, str]]  # response key -> hasNextPage | hasPreviousPage | startCursor | endCursor | __typename


@dataclass
class EdgesPart:
    keys: list[tuple[str, str]]  # response key -> cursor | node | __typename
    typename: str


@dataclass
class ConnectionField:
    node: ObjNode
    parts: list[tuple[str, str | PageInfoPart | EdgesPart]]  # totalCount | __typename | a part
    typename: str


@dataclass
class NodesField:
    """`nodes(ids)`: a row set per type the ids name (each `node_ids_param`), the answers in
    the ids' order, from each id's type and number."""

    nodes: list[ObjNode]
    types_param: str | None  # text[]: each id's type (None: no ids)
    ids_param: str | None  # bigint[]: each id's number


FieldPlan = Scalar | Constant | Gid | Child | ConnectionField | NodesField


@dataclass
class ObjNode:
    index: int
    type_name: str
    source: Source
    parent: ObjNode | None
    relation: Relation | None = None
    root: RootConnection | None = None
    root_params: dict[str, str] = field(default_factory=dict)
    node_param: str | None = None  # node(id): the id's parameter
    node_ids_param: str | None = None  # nodes(ids): the parameter of the ids of this type (`_p`: the id)
    first_param: str | None = None
    after_param: str | None = None
    after_time_param: str | None = None  # paged by time: the cursor's time (after_param its id)
    fields: list[tuple[str, FieldPlan]] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)
    # an interface's row whose selection depends on its type: SQL over `{row}` naming the
    # type, and the fields of each type
    type_sql: str | None = None
    variants: dict[str, list[tuple[str, FieldPlan]]] | None = None
    # a child of one type's fields of an interface's row: it reads the parent rows of that type
    parent_type: str | None = None
    # reasons computed from the parent row's (the relation's `hands`), by name
    handed: dict[str, Handed] = field(default_factory=dict)

    @property
    def descending(self) -> bool:
        return self.root is not None and self.root.descending

    def reason(self, name: str) -> Reason:
        """A reason of the rows (the root connection's audit reason: `PAGE_REASON`)."""
        if name == PAGE_REASON:
            assert self.root is not None and self.root.audit is not None
            return self.root.audit
        return self.source.reasons[name]

    @property
    def rank(self) -> str | None:
        """The order a relation's connection ranks its rows in (paged by the rank)."""
        return self.relation.rank if self.relation is not None else None

    @property
    def time(self) -> str | None:
        """The time a root connection pages by (then the id); None: by id alone."""
        return self.root.time if self.root is not None else None

    @property
    def kind(self) -> str:
        if self.relation is not None:
            return self.relation.kind
        return "connection" if self.root is not None else "one"


@dataclass
class Plan:
    roots: list[tuple[str, FieldPlan | None]]  # None: node(id) of an id that names nothing
    nodes: list[ObjNode]
    params: list[ParamSource]
    # values written into the statement as constants (each connection's `first`), with how a
    # request's variables give them: the plan answers only requests that give the same
    assumed: list[tuple[ParamSource, Any]] = field(default_factory=list)
    # the statement answers a signed-in user only (`viewer`: an API token's viewer is made up
    # by the request, its grants the token's): for an API token it returns no row, and the
    # ordinary path answers
    users_only: bool = False


def _named(t: GraphQLOutputType) -> tuple[Any, bool]:
    """The named type and whether it is wrapped in a list."""
    listed = False
    while isinstance(t, GraphQLNonNull | GraphQLList):
        listed = listed or isinstance(t, GraphQLList)
        t = t.of_type
    return t, listed


def first_value(value: Any) -> int:
    """A connection's `first` as a plan reads it (none: the default); Fallback for what the
    ordinary path refuses (it answers with its error)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise Fallback("first")
    try:
        return checked_first(value)
    except Exception as exc:
        raise Fallback("first") from exc


class Planner:
    def __init__(
        self, schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.nodes: list[ObjNode] = []
        self.params: list[ParamSource] = []
        self.assumed: list[tuple[ParamSource, Any]] = []

    # --- parameters -----------------------------------------------------------------------

    def param(self, source: ParamSource, sql_type: str) -> str:
        self.params.append(source)
        return f"${FIXED + len(self.params)}::{sql_type}"

    # --- field collection (graphql-core's CollectFields, for one runtime type) --------------

    def _included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode, variables: Variables) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                raise NotCompilable(f"directive @{name}")
            (arg,) = directive.arguments or ()
            value: Any
            if isinstance(arg.value, BooleanValueNode):
                value = arg.value.value
            elif isinstance(arg.value, VariableNode):
                value = variables.get(arg.value.name.value)
            else:
                raise NotCompilable("directive argument")
            if not isinstance(value, bool):
                raise Fallback("directive value")
            if (name == "skip") == value:
                return False
        return True

    def _applies(self, condition: str | None, runtime: GraphQLObjectType) -> bool:
        if condition is None or condition == runtime.name:
            return True
        t = self.schema.get_type(condition)
        if isinstance(t, GraphQLInterfaceType):
            return t in runtime.interfaces
        if isinstance(t, GraphQLUnionType):
            return runtime in t.types
        return False

    def collect(
        self, runtime: GraphQLObjectType, selections: list[SelectionSetNode], variables: Variables
    ) -> dict[str, list[FieldNode]]:
        grouped: dict[str, list[FieldNode]] = {}
        seen: set[str] = set()

        def visit(selection_set: SelectionSetNode) -> None:
            for s in selection_set.selections:
                if not self._included(s, variables):  # type: ignore[arg-type]
                    continue
                if isinstance(s, FieldNode):
                    key = s.alias.value if s.alias else s.name.value
                    grouped.setdefault(key, []).append(s)
                elif isinstance(s, InlineFragmentNode):
                    condition = s.type_condition.name.value if s.type_condition else None
                    if self._applies(condition, runtime):
                        visit(s.selection_set)
                elif isinstance(s, FragmentSpreadNode):
                    name = s.name.value
                    if name in seen:
                        continue
                    seen.add(name)
                    fragment = self.fragments[name]
                    if self._applies(fragment.type_condition.name.value, runtime):
                        visit(fragment.selection_set)

        for selection_set in selections:
            visit(selection_set)
        if len(grouped) > MAX_KEYS:
            raise NotCompilable("too many keys")
        return grouped

    @staticmethod
    def _subselections(nodes: list[FieldNode]) -> list[SelectionSetNode]:
        return [n.selection_set for n in nodes if n.selection_set is not None]

    # --- arguments ------------------------------------------------------------------------

    @staticmethod
    def _argument(nodes: list[FieldNode], name: str) -> Any:
        """The AST of an argument (the same on every merged node, as validation requires)."""
        for arg in nodes[0].arguments or ():
            if arg.name.value == name:
                return arg.value
        return None

    def _value(self, nodes: list[FieldNode], parent: GraphQLObjectType, name: str) -> ParamSource:
        from graphql import Undefined, value_from_ast

        ast = self._argument(nodes, name)
        definition = parent.fields[nodes[0].name.value].args.get(name)
        if definition is None:
            raise NotCompilable(f"argument {name}")
        arg_type = definition.type

        def read(variables: Variables) -> Any:
            if ast is None or (isinstance(ast, VariableNode) and ast.name.value not in variables):
                return None
            value = value_from_ast(ast, arg_type, variables)
            if value is Undefined:
                raise Fallback(name)
            return value

        for arg in nodes[0].arguments or ():
            if arg.name.value not in parent.fields[nodes[0].name.value].args:
                raise NotCompilable("unknown argument")
        return read

    def _page_arguments(
        self, obj: ObjNode, nodes: list[FieldNode], parent: GraphQLObjectType, variables: Variables
    ) -> None:
        first = self._value(nodes, parent, "first")
        after = self._value(nodes, parent, "after")

        def read_first(variables: Variables) -> int:
            return first_value(first(variables))

        allowed = {"first", "after"}
        if obj.root is not None:  # what `_root_params` reads
            arguments = set(parent.fields[nodes[0].name.value].args)
            allowed |= {"filter"} | {name for name, _ in obj.root.parameters} if "filter" in arguments else arguments
        if any(a.name.value not in allowed for a in nodes[0].arguments or ()):
            raise NotCompilable("argument")
        # `first` is a constant of the statement (a plan per value, run.py `_shape`): with a
        # parameter, the compiled reads' generic plans estimated one row per LIMIT and joined
        # the levels by nested loops (20 compounds x 20 buildings x 20 households: 15 -> 46 ms)
        page_size = read_first(variables)
        self.assumed.append((read_first, page_size))
        obj.first_param = str(int(page_size))
        if obj.time is not None:
            self._time_after(obj, after)
            return
        descending = obj.descending
        ranked = obj.rank is not None

        def read_after(variables: Variables) -> int | None:
            value = after(variables)
            if value is not None and not isinstance(value, str):
                raise Fallback("after")
            try:
                found = decode_id_cursor(value)
            except Exception as exc:
                raise Fallback("after") from exc
            # ascending: after id 0 when there is no cursor; descending: no bound (NULL);
            # ranked: after rank 0 at least
            return found if descending else max(found or 0, 0) if ranked else found or 0

        obj.after_param = self.param(read_after, "bigint")

    def _time_after(self, obj: ObjNode, after: ParamSource) -> None:
        """`after` of a connection paged by (time, id): both NULL when there is no cursor."""

        def read_cursor(variables: Variables) -> tuple[Any, int] | None:
            value = after(variables)
            if value is not None and not isinstance(value, str):
                raise Fallback("after")
            try:
                return time_cursor(value)
            except Exception as exc:
                raise Fallback("after") from exc

        def read_time(variables: Variables) -> Any:
            found = read_cursor(variables)
            return found[0] if found is not None else None

        def read_id(variables: Variables) -> int | None:
            found = read_cursor(variables)
            return found[1] if found is not None else None

        obj.after_time_param = self.param(read_time, "timestamptz")
        obj.after_param = self.param(read_id, "bigint")

    # --- objects --------------------------------------------------------------------------

    def _object(
        self,
        type_name: str,
        parent: ObjNode | None,
        relation: Relation | None,
        selections: list[SelectionSetNode],
        variables: Variables,
    ) -> ObjNode:
        source = SOURCES.get(type_name)
        runtime = self.schema.get_type(type_name)
        if source is None or not isinstance(runtime, GraphQLObjectType):
            raise NotCompilable(f"type {type_name}")
        obj = ObjNode(len(self.nodes), type_name, source, parent, relation)
        self.nodes.append(obj)
        self._fill(obj, runtime, selections, variables)
        return obj

    def _interface_object(
        self,
        type_name: str,
        parent: ObjNode,
        relation: Relation,
        selections: list[SelectionSetNode],
        variables: Variables,
    ) -> ObjNode:
        """Rows of an interface (e.g. a need's `area`, a compound's `path`; the root `areas`
        by `_interface_node` and `_fill_interface`, its page arguments between them).
        Where the fields are collected alike for every implementing type and declared alike
        by each, one JSON object for any row (`__typename` and `id` name each row's own type);
        else each row's JSON by its own type, from that type's declaration."""
        obj = self._interface_node(type_name, parent, relation, None)
        self._fill_interface(obj, selections, variables)
        return obj

    def _interface_node(
        self, type_name: str, parent: ObjNode | None, relation: Relation | None, root: RootConnection | None
    ) -> ObjNode:
        interface = INTERFACES[type_name]
        abstract = self.schema.get_type(type_name)
        if not isinstance(abstract, GraphQLInterfaceType):
            raise NotCompilable(f"interface {type_name}")
        possible = self.schema.get_possible_types(abstract)
        if not possible or any(p.name not in SOURCES or SOURCES[p.name].table != interface.table for p in possible):
            raise NotCompilable(f"a type of {type_name} without a declaration on {interface.table}")
        source = Source(interface.table, interface.node_filter, {})
        obj = ObjNode(len(self.nodes), type_name, source, parent, relation, root)
        self.nodes.append(obj)
        return obj

    def _fill_interface(self, obj: ObjNode, selections: list[SelectionSetNode], variables: Variables) -> None:
        type_name = obj.type_name
        interface = INTERFACES[type_name]
        abstract = self.schema.get_type(type_name)
        assert isinstance(abstract, GraphQLInterfaceType)
        possible = self.schema.get_possible_types(abstract)
        collected = [self.collect(p, selections, variables) for p in possible]
        if self._alike(possible, collected):
            declared = SOURCES[possible[0].name]
            obj.fields = self._fields(obj, declared, possible[0], collected[0], variables, interface=interface)
            return
        obj.type_sql = interface.type_name
        obj.variants = {
            p.name: self._fields(obj, SOURCES[p.name], p, c, variables, variant=True)
            for p, c in zip(possible, collected, strict=True)
        }

    @staticmethod
    def _alike(possible: Any, collected: list[dict[str, list[FieldNode]]]) -> bool:
        """Whether an interface's rows take the same fields whatever their type: collected
        alike, each declared alike by every type, none masked or guarded."""
        shapes = {tuple((k, tuple(id(n) for n in nodes)) for k, nodes in c.items()) for c in collected}
        if len(shapes) != 1:
            return False
        for nodes in collected[0].values():
            name = nodes[0].name.value
            if name == "__typename":
                continue
            declared = {SOURCES[p.name].fields.get(name) for p in possible}
            if len(declared) != 1:
                return False
            (field_declared,) = declared
            if field_declared is None or (isinstance(field_declared, Column) and field_declared.masked_by is not None):
                return False
            if isinstance(field_declared, Relation) and field_declared.guard is not None:
                return False
        return True

    def _fill(
        self, obj: ObjNode, runtime: GraphQLObjectType, selections: list[SelectionSetNode], variables: Variables
    ) -> None:
        grouped = self.collect(runtime, selections, variables)
        obj.fields = self._fields(obj, obj.source, runtime, grouped, variables)

    def _fields(
        self,
        obj: ObjNode,
        source: Source,
        runtime: GraphQLObjectType,
        grouped: dict[str, list[FieldNode]],
        variables: Variables,
        variant: bool = False,
        interface: Interface | None = None,
    ) -> list[tuple[str, FieldPlan]]:
        """The plans of an object's fields, declared by `source`; `variant`: the fields of
        one type of an interface's row (no masked fields or guarded relations there: the row
        set reads no reasons), whose children read only the parent rows of that type;
        `interface`: the fields of an interface's row, alike for each of its types."""
        fields: list[tuple[str, FieldPlan]] = []
        for key, nodes in grouped.items():
            name = nodes[0].name.value
            if name == "__typename":
                fields.append((key, Scalar(interface.type_name) if interface else Constant(runtime.name)))
                continue
            declared = source.fields.get(name)
            if declared is None:
                raise NotCompilable(f"{runtime.name}.{name}")
            if nodes[0].arguments and not (isinstance(declared, Relation) and declared.kind == "connection"):
                raise NotCompilable("arguments")
            if isinstance(declared, GlobalId):
                fields.append((key, Gid(obj.type_name, interface.type_name) if interface else Gid(runtime.name)))
                continue
            reason = declared.masked_by if isinstance(declared, Column) else declared.guard
            if reason is not None:
                if variant:
                    raise NotCompilable(f"{runtime.name}.{name} in an interface's row")
                obj.reasons.add(reason)
            if isinstance(declared, Column):
                fields.append((key, Scalar(declared.sql, declared.masked_by)))
                continue
            field_type, _ = _named(runtime.fields[name].type)
            plan: Child | ConnectionField
            if declared.kind == "connection":
                plan = self._connection(field_type, obj, declared, None, nodes, runtime, variables)
            elif declared.target in INTERFACES:  # a row or list of an interface's rows
                subselections = self._subselections(nodes)
                plan = Child(self._interface_object(declared.target, obj, declared, subselections, variables))
            else:
                plan = Child(self._object(declared.target, obj, declared, self._subselections(nodes), variables))
            if variant:
                plan.node.parent_type = runtime.name
            elif interface is None:
                self._hand(obj, declared, plan.node)
            fields.append((key, plan))
        return fields

    @staticmethod
    def _hand(parent: ObjNode, relation: Relation, child: ObjNode) -> None:
        """The child's reasons the relation hands from a reason of the parent row, which the
        parent's rows then read (a row of one type: an interface's row reads no reasons)."""
        for handed in relation.hands:
            if handed.reason in child.reasons:
                assert handed.given in parent.source.reasons, "a reason the parent's type declares"
                parent.reasons.add(handed.given)
                child.handed[handed.reason] = handed

    def _connection(
        self,
        connection_type: Any,
        parent: ObjNode | None,
        relation: Relation | None,
        root: RootConnection | None,
        nodes: list[FieldNode],
        parent_type: GraphQLObjectType,
        variables: Variables,
    ) -> ConnectionField:
        target = relation.target if relation is not None else root.target if root is not None else ""
        edge_type, _ = _named(connection_type.fields["edges"].type)
        page_info_type, _ = _named(connection_type.fields["pageInfo"].type)
        parts: list[tuple[str, str | PageInfoPart | EdgesPart]] = []
        node_selections: list[SelectionSetNode] = []
        edges_seen = False
        for key, part_nodes in self.collect(connection_type, self._subselections(nodes), variables).items():
            name = part_nodes[0].name.value
            if name in ("totalCount", "__typename"):
                parts.append((key, name))
            elif name == "pageInfo":
                keys = [
                    (k, n[0].name.value)
                    for k, n in self.collect(page_info_type, self._subselections(part_nodes), variables).items()
                ]
                parts.append((key, PageInfoPart(keys)))
            elif name == "edges":
                if edges_seen:
                    raise NotCompilable("edges twice")
                edges_seen = True
                edge_keys: list[tuple[str, str]] = []
                node_seen = False
                for k, n in self.collect(edge_type, self._subselections(part_nodes), variables).items():
                    what = n[0].name.value
                    if what == "node":
                        if node_seen:
                            raise NotCompilable("node twice")
                        node_seen = True
                        node_selections = self._subselections(n)
                    edge_keys.append((k, what))
                parts.append((key, EdgesPart(edge_keys, edge_type.name)))
            else:
                raise NotCompilable(f"connection field {name}")
        if target in INTERFACES and relation is None:  # a root connection of an interface's rows
            obj = self._interface_node(target, parent, relation, root)
            self._page_arguments(obj, nodes, parent_type, variables)
            self._fill_interface(obj, node_selections, variables)
            return ConnectionField(obj, parts, connection_type.name)
        if target not in SOURCES:
            raise NotCompilable(f"type {target}")
        obj = ObjNode(len(self.nodes), target, SOURCES[target], parent, relation, root)
        self.nodes.append(obj)
        self._page_arguments(obj, nodes, parent_type, variables)
        runtime = self.schema.get_type(target)
        assert isinstance(runtime, GraphQLObjectType)
        self._fill(obj, runtime, node_selections, variables)
        return ConnectionField(obj, parts, connection_type.name)

    # --- the root ---------------------------------------------------------------------------

    def plan(self, variables: Variables) -> Plan:
        if self.operation.operation != OperationType.QUERY:
            raise NotCompilable("not a query")
        query = self.schema.query_type
        assert query is not None
        roots: list[tuple[str, FieldPlan | None]] = []
        users_only = False
        for key, nodes in self.collect(query, [self.operation.selection_set], variables).items():
            name = nodes[0].name.value
            if name == "__typename":
                roots.append((key, Constant(query.name)))
            elif name == "node":
                roots.append((key, self._node(nodes, query, variables)))
            elif name == "nodes":
                roots.append((key, self._nodes(nodes, query, variables)))
            elif name == "viewer":
                roots.append((key, self._viewer(nodes, variables)))
                users_only = True
            elif name in ROOTS:
                root = ROOTS[name]
                field_type, _ = _named(query.fields[name].type)
                connection = self._connection(field_type, None, None, root, nodes, query, variables)
                connection.node.root_params = self._root_params(root, nodes, query, variables)
                if root.audit is not None:
                    connection.node.reasons.add(PAGE_REASON)
                roots.append((key, connection))
            else:
                raise NotCompilable(f"Query.{name}")
        return Plan(roots, self.nodes, self.params, self.assumed, users_only=users_only)

    def _viewer(self, nodes: list[FieldNode], variables: Variables) -> Child:
        """`viewer`: the signed-in user's own account, read as node(id) reads a user (the
        rule `user_access` lets an account read itself)."""
        obj = self._object("User", None, None, self._subselections(nodes), variables)
        obj.node_param = f"{USER}::bigint"
        return Child(obj)

    def _root_params(
        self, root: RootConnection, nodes: list[FieldNode], query: GraphQLObjectType, variables: Variables
    ) -> dict[str, str]:
        """Each argument's parameter; an argument the request leaves null is a typed NULL of
        the statement, which PostgreSQL folds away (`NULL IS NULL OR ...`), so one generic
        plan per set of given arguments (run.py `_shape`) filters only on what is given."""
        arguments = query.fields[nodes[0].name.value].args
        if "filter" in arguments:
            read_filter = self._value(nodes, query, "filter")
        else:  # the field's own arguments (e.g. `meetings(communityId:)`), by name
            readers = {a: self._value(nodes, query, a) for a in arguments if a not in ("first", "after")}

            def read_filter(variables: Variables) -> Any:
                return {a: read(variables) for a, read in readers.items()}

        found: dict[str, str] = {}
        for name, sql_type in root.parameters:

            def read(variables: Variables, name: str = name) -> Any:
                given = read_filter(variables)
                try:
                    return root.arguments(given)[name]
                except Fallback:
                    raise
                except Exception as exc:  # the ordinary path refuses the value: its error, its path
                    raise Fallback(name) from exc

            def absent(variables: Variables, read: ParamSource = read) -> bool:
                return read(variables) is None

            if absent(variables):
                found[name] = f"NULL::{sql_type}"
            else:
                found[name] = self.param(read, sql_type)
            self.assumed.append((absent, absent(variables)))
        return found

    def _node(self, nodes: list[FieldNode], query: GraphQLObjectType, variables: Variables) -> FieldPlan | None:
        read_id = self._value(nodes, query, "id")
        decoded = node_type(read_id(variables))
        if decoded is None:
            return None
        type_name = decoded

        def read(variables: Variables) -> int:
            found = ids.decode(read_id(variables))
            if found is None or found[0] != type_name:
                raise Fallback("id")
            return found[1]

        obj = self._node_object(type_name, nodes, variables)
        obj.node_param = self.param(read, "bigint")
        return Child(obj)

    def _node_object(self, type_name: str, nodes: list[FieldNode], variables: Variables) -> ObjNode:
        """The row set of the objects of `type_name` that node() (or nodes()) reads."""
        runtime = self.schema.get_type(type_name)
        if (
            not isinstance(runtime, GraphQLObjectType)
            or "Node" not in {i.name for i in runtime.interfaces}
            or not SOURCES[type_name].node
        ):
            raise Fallback("not a node type")  # declared for its rows (e.g. OrderEvent, Attachment), not for node()
        return self._object(type_name, None, None, self._subselections(nodes), variables)

    def _nodes(self, nodes: list[FieldNode], query: GraphQLObjectType, variables: Variables) -> NodesField:
        """`nodes(ids)`: one row set per type the ids name, whatever their number and order
        (the plan serves every request naming the same types: run.py `_shape`)."""
        read_ids = self._value(nodes, query, "ids")
        types = nodes_types(read_ids(variables))

        def read(variables: Variables) -> tuple[tuple[str, int], ...]:
            found = named_ids(read_ids(variables))
            if tuple(sorted({t for t, _ in found})) != types:
                raise Fallback("ids")
            return found

        plan = NodesField([], None, None)
        for type_name in types:

            def of_type(variables: Variables, type_name: str = type_name) -> list[int]:
                return list(dict.fromkeys(pk for t, pk in read(variables) if t == type_name))

            obj = self._node_object(type_name, nodes, variables)
            obj.node_ids_param = self.param(of_type, "bigint[]")
            plan.nodes.append(obj)
        if types:
            plan.types_param = self.param(lambda variables: [t for t, _ in read(variables)], "text[]")
            plan.ids_param = self.param(lambda variables: [pk for _, pk in read(variables)], "bigint[]")
        return plan


def filter_of(given: Any) -> dict[str, Any]:
    """A root field's `filter` argument as the planner reads it ({} when absent); Fallback
    for any other value (the ordinary path answers)."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise Fallback("filter")
    return given


def node_type(global_id: Any) -> str | None:
    """The declared type an id names; None when it names nothing (node() is null);
    Fallback when it names a type the compiled path does not answer."""
    if not isinstance(global_id, str):
        raise Fallback("id")
    decoded = ids.decode(global_id)
    if decoded is None:
        raise Fallback("id")
    if decoded[0] not in SOURCES:
        raise Fallback("type")
    return decoded[0]


@lru_cache(maxsize=8)  # a request reads its ids a few times over (`_shape`, each parameter)
def _named_ids(global_ids: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    found: list[tuple[str, int]] = []
    for global_id in global_ids:
        type_name = node_type(global_id)
        decoded = ids.decode(global_id)
        assert type_name is not None and decoded is not None
        found.append((type_name, decoded[1]))
    return tuple(found)


def named_ids(global_ids: Any) -> tuple[tuple[str, int], ...]:
    """The declared type and the number of each id `nodes(ids)` is given (decoded once a
    request, however many parameters read them); Fallback where the ordinary path answers:
    more than `MAX_IDS` ids (its error), an id that does not decode or names a type the
    compiled path does not answer (as `node_type`)."""
    if not isinstance(global_ids, list) or len(global_ids) > MAX_IDS:
        raise Fallback("ids")  # more ids: the ordinary path's BAD_USER_INPUT
    if not all(isinstance(g, str) for g in global_ids):
        raise Fallback("id")
    return _named_ids(tuple(global_ids))


def nodes_types(global_ids: Any) -> tuple[str, ...]:
    """The declared types `nodes(ids)` names, sorted (what its plan depends on)."""
    return tuple(sorted({t for t, _ in named_ids(global_ids)}))
