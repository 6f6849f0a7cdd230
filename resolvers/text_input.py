"""Text the database cannot store is the client's error, not ours.

PostgreSQL `text` cannot hold the NUL character: a string argument carrying one would
fail deep inside a resolver as an INTERNAL_SERVER_ERROR (and abort its transaction). This
extension refuses such an operation before it runs, with `BAD_USER_INPUT`, whether the NUL
arrives in a variable or in a string literal of the document. The same goes for half of a
surrogate pair (JSON may escape one alone, `\\ud800`): such text has no UTF-8 form, so
neither PostgreSQL nor argon2 can take it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

NUL = "\x00"


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


def _holds_unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return _unstorable(value)
    if isinstance(value, dict):
        return any(_holds_unstorable(k) or _holds_unstorable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_unstorable(v) for v in value)
    return False


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if _unstorable(node.value):
            self.found = True


def _document_holds_unstorable(document: Any) -> bool:
    if document is None:
        return False
    literals = _Literals()
    visit(document, literals)
    return literals.found


class RefuseNulText(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if _holds_unstorable(context.variables) or _document_holds_unstorable(context.graphql_document):
            error = GraphQLError(
                "Text may not contain NUL characters (\\u0000) or unpaired surrogates",
                extensions={"code": "BAD_USER_INPUT"},
            )
            context.result = ExecutionResult(data=None, errors=[error])
        yield
