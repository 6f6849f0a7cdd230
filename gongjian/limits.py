"""Limits against abuse, all checked before anything reaches the database.

- tokens: the parser stops after `max_tokens` (strawberry's MaxTokensLimiter);
- depth: fields on the longest path, introspection included (strawberry's
  QueryDepthLimiter skips every `__` field, so a deep `__schema { types { fields { type
  { fields ...` passed); `ofType` chains are free, as GraphiQL's own introspection needs
  them and each resolves to null past a type's wrappers;
- aliases: aliased fields in the whole document;
- cost: the number of nodes the operation may return, counted as GitHub does: for every
  connection field, the product of `first` (20 when absent) down the selection tree, all
  added up. It needs the operation's variables, so it runs as its own graphql-core
  validation right after the (cached) standard validation, and only when that passed.

Every refusal is a GraphQL error with an `extensions.code`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    Visitor,
    get_named_type,
    validate,
    visit,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from gongjian.config import Settings
from gongjian.recent import Recent
from resolvers.pagination import DEFAULT_FIRST

FREE_FIELDS = frozenset({"ofType"})


def depth_rule(max_depth: int) -> type[ValidationRule]:
    """A validation rule refusing operations nested deeper than `max_depth` fields."""

    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            fragments = _fragments(document)
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    depth = _depth(definition.selection_set, fragments, frozenset())
                    if depth > max_depth:
                        name = definition.name.value if definition.name else "anonymous"
                        context.report_error(
                            GraphQLError(
                                f"Operation '{name}' is {depth} fields deep; at most {max_depth} are allowed",
                                definition,
                                extensions={"code": "QUERY_TOO_DEEP", "depth": depth, "maxDepth": max_depth},
                            )
                        )

    return DepthLimit


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _depth(
    selections: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str]
) -> int:
    if selections is None:
        return 0
    deepest = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            own = 0 if selection.name.value in FREE_FIELDS else 1
            deepest = max(deepest, own + _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                deepest = max(deepest, _depth(fragment.selection_set, fragments, seen | {name}))
    return deepest


def alias_rule(max_aliases: int) -> type[ValidationRule]:
    """A validation rule refusing documents with more than `max_aliases` aliased fields."""

    class AliasLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is None:
                return
            self.count += 1
            if self.count == max_aliases + 1:
                self.report_error(
                    GraphQLError(
                        f"The document has more than {max_aliases} aliases",
                        node,
                        extensions={"code": "TOO_MANY_ALIASES", "maxAliases": max_aliases},
                    )
                )

    return AliasLimit


def _is_connection(named: GraphQLNamedType, has_first: bool) -> bool:
    return has_first and isinstance(named, GraphQLObjectType) and "edges" in named.fields and "pageInfo" in named.fields


def node_count(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    """How many nodes the operation may return, as GitHub counts them."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    if not chosen:
        return 0
    operation = chosen[0]
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        if isinstance(definition.default_value, IntValueNode):
            values[definition.variable.name.value] = int(definition.default_value.value)
    values.update(variables or {})
    walker = _CostWalker(schema, _fragments(document), values)
    return walker.walk(operation.selection_set, root, 1, frozenset())


class _CostWalker:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], values: dict[str, Any]):
        self.schema = schema
        self.fragments = fragments
        self.values = values

    def _first(self, field: FieldNode) -> int:
        for argument in field.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 0)
            if isinstance(value, VariableNode):
                given = self.values.get(value.name.value)
                if isinstance(given, int) and not isinstance(given, bool):
                    return max(given, 0)
        return DEFAULT_FIRST

    def walk(
        self, selections: SelectionSetNode | None, parent: GraphQLNamedType, multiplier: int, seen: frozenset[str]
    ) -> int:
        if selections is None:
            return 0
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                    continue
                definition = parent.fields.get(selection.name.value)
                if definition is None:
                    continue
                named = get_named_type(definition.type)
                if _is_connection(named, "first" in definition.args):
                    nodes = multiplier * self._first(selection)
                    total += nodes + self.walk(selection.selection_set, named, nodes, seen)
                else:
                    total += self.walk(selection.selection_set, named, multiplier, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.walk(selection.selection_set, target or parent, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self.walk(fragment.selection_set, target or parent, multiplier, seen | {name})
        return total


def cost_error(cost: int, budget: int) -> GraphQLError:
    return GraphQLError(
        f"The query may return up to {cost} nodes; at most {budget} are allowed. Ask for fewer items (`first`).",
        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "budget": budget},
    )


class Validation(SchemaExtension):
    """Validation with a cache, without suggestions when introspection is off, and then
    the cost rule, which needs the operation's variables and so cannot be cached with the
    rest. The cost is checked only for an otherwise valid document (unknown fields get
    their own, clearer errors)."""

    def __init__(self, budget: int, hide_suggestions: bool) -> None:
        super().__init__()
        self.budget = budget
        self.hide_suggestions = hide_suggestions

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None
        schema = context.schema._schema
        if context.pre_execution_errors is None:
            context.pre_execution_errors = _validated(
                schema, document, context.query or "", context.validation_rules, self.hide_suggestions
            )
        if not context.pre_execution_errors:
            cost = node_count(schema, document, context.operation_name, context.variables)
            if cost > self.budget:
                context.pre_execution_errors = [cost_error(cost, self.budget)]
        yield


_CACHE_SIZE = 256
_cache: Recent[tuple[int, str, tuple[type[ASTValidationRule], ...], bool], list[GraphQLError]] = Recent(_CACHE_SIZE)


def _validated(
    schema: GraphQLSchema,
    document: DocumentNode,
    query: str,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    """graphql-core's validation (with strawberry's two extra rules), cached by query text."""
    key = (id(schema), query, rules, hide_suggestions)
    cached = _cache.get(key)
    if cached is not None and query:
        return list(cached)
    errors = _overlong_numbers(document) or validate(
        schema,
        document,
        (*rules, MaybeNullValidationRule, OneOfInputValidationRule),
        hide_suggestions=hide_suggestions,
    )
    if query:
        _cache[key] = errors
    return list(errors)


MAX_NUMBER_LITERAL = 100  # characters: no Int or Float of GraphQL needs more


def _overlong_numbers(document: DocumentNode) -> list[GraphQLError]:
    """Number literals too long to be any valid value. Refused before validation: one over
    4,300 digits would make int() raise inside graphql-core's checks."""
    found: list[GraphQLError] = []

    class Numbers(Visitor):
        def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
            self.check(node)

        def enter_float_value(self, node: FloatValueNode, *_: Any) -> None:
            self.check(node)

        def check(self, node: IntValueNode | FloatValueNode) -> None:
            if len(node.value) > MAX_NUMBER_LITERAL and not found:
                found.append(
                    GraphQLError(
                        f"A number literal may have at most {MAX_NUMBER_LITERAL} characters",
                        node,
                        extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
                    )
                )

    visit(document, Numbers())
    return found


def extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Fresh instances per request: extension instances must never be shared. The rule
    classes are made once, so that the validation cache recognises them."""
    rules: list[type[ASTValidationRule]] = [depth_rule(settings.max_depth), alias_rule(settings.max_aliases)]
    chosen: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=256),
        lambda: AddValidationRules(rules),
    ]
    if not settings.introspection:
        chosen.append(DisableIntrospection)
    chosen.append(lambda: Validation(settings.max_cost, hide_suggestions=not settings.introspection))
    return chosen
