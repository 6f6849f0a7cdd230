"""Text the database cannot store is the client's error, not ours.

PostgreSQL `text` cannot hold the NUL character: a string argument carrying one would
fail deep inside a resolver as an INTERNAL_SERVER_ERROR (and abort its transaction). This
extension refuses such an operation before it runs, with `BAD_USER_INPUT`, whether the NUL
arrives in a variable or in a string literal of the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

NUL = "\x00"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if NUL in node.value:
            self.found = True


def _document_holds_nul(document: Any) -> bool:
    if document is None:
        return False
    literals = _Literals()
    visit(document, literals)
    return literals.found


class RefuseNulText(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if _holds_nul(context.variables) or _document_holds_nul(context.graphql_document):
            error = GraphQLError("Text may not contain NUL characters (\\u0000)", extensions={"code": "BAD_USER_INPUT"})
            context.result = ExecutionResult(data=None, errors=[error])
        yield
