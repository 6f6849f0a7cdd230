"""Text the database cannot store is the client's error, not ours.

PostgreSQL `text` cannot hold the NUL character: a string argument carrying one would
fail deep inside a resolver as an INTERNAL_SERVER_ERROR (and abort its transaction). This
extension refuses such an operation before it runs, with `BAD_USER_INPUT`, whether the NUL
arrives in a variable or in a string literal of the document. The same goes for half of a
surrogate pair (JSON may escape one alone, `\\ud800`): such text has no UTF-8 form, so
neither PostgreSQL nor argon2 can take it.

It also caps lengths: any text at MAX_TEXT characters (a page of prose; titles, notes and
descriptions need far less), and a `search` argument or input field at MAX_SEARCH (a
substring search of 60,000 characters cost the database most of a second).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    ExecutionResult,
    GraphQLError,
    ObjectFieldNode,
    StringValueNode,
    VariableNode,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension

NUL = "\x00"
MAX_TEXT = 10_000  # characters of any string argument or variable
MAX_SEARCH = 100  # characters of a `search`
SEARCH = "search"


def _unstorable(text: str) -> bool:
    """Holds NUL, or a lone surrogate (no UTF-8 form)."""
    if NUL in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included (walked without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _holds_unstorable(value: Any) -> bool:
    return any(_unstorable(text) for text in _strings(value))


def _longest(value: Any) -> int:
    return max((len(text) for text in _strings(value)), default=0)


def plainly_storable(variables: Any) -> bool:
    """Whether no refusal of this module can concern these variables: no text holds NUL or
    an unpaired surrogate, and none is longer than a search may be. The compiled reads'
    HTTP path (gongjian/compiled_http.py) answers only such requests by itself."""
    return not _holds_unstorable(variables) and _longest(variables) <= MAX_SEARCH


def _longest_search(value: Any) -> int:
    """The longest `search` field of the input objects among the variables."""
    longest = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            given = item.get(SEARCH)
            if isinstance(given, str):
                longest = max(longest, len(given))
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return longest


class _Literals(Visitor):
    def __init__(self, variables: dict[str, Any]) -> None:
        super().__init__()
        self.variables = variables
        self.found = False
        self.longest = 0
        self.longest_search = 0

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if _unstorable(node.value):
            self.found = True
        self.longest = max(self.longest, len(node.value))

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self._search(node)

    def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
        self._search(node)

    def _search(self, node: ArgumentNode | ObjectFieldNode) -> None:
        if node.name.value != SEARCH:
            return
        value = node.value
        if isinstance(value, StringValueNode):
            self.longest_search = max(self.longest_search, len(value.value))
        elif isinstance(value, VariableNode):
            given = self.variables.get(value.name.value)
            if isinstance(given, str):
                self.longest_search = max(self.longest_search, len(given))


def _refusal(message: str, **extensions: Any) -> ExecutionResult:
    return ExecutionResult(
        data=None, errors=[GraphQLError(message, extensions={"code": "BAD_USER_INPUT", **extensions})]
    )


class RefuseNulText(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        variables = context.variables or {}
        literals = _Literals(variables)
        if context.graphql_document is not None:
            visit(context.graphql_document, literals)
        if literals.found or _holds_unstorable(variables):
            context.result = _refusal("Text may not contain NUL characters (\\u0000) or unpaired surrogates")
        elif max(literals.longest_search, _longest_search(variables)) > MAX_SEARCH:
            context.result = _refusal(f"A search may have at most {MAX_SEARCH} characters", maxLength=MAX_SEARCH)
        elif max(literals.longest, _longest(variables)) > MAX_TEXT:
            context.result = _refusal(f"Text may have at most {MAX_TEXT} characters", maxLength=MAX_TEXT)
        yield
