"""The Babel extractor of the API's messages (`pybabel extract -F babel.cfg`).

Messages are written in English where they are raised (`Refusal(code, "...")`,
`forbidden("...")`, `GraphQLError("...")`, a permission's `message = "..."`, the
notification texts); f-strings become templates whose parameters are named after their
expressions (`f"`{name}` may hold at most {limit} characters"` gives the id
"`{name}` may hold at most {limit} characters"). `gongjian.translation` matches a
formatted message back to its template to translate it, so call sites need no `_()`."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import IO, Any, Final

# callee name -> index of its message argument
CALLS: Final = {
    "Refusal": 1,
    "UserError": 0,
    "forbidden": 0,
    "bad_user_input": 0,
    "GraphQLError": 0,
    "require": 1,
    "ExportRefused": 2,
    "_invalid": 0,
    "error_response": 1,
}
TEXT_TABLES: Final = ("NOTIFICATION_TEXTS",)


def template(node: ast.expr) -> str | None:
    """The message id of a string or f-string node (None for anything else)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return None
    parts: list[str] = []
    used: dict[str, int] = {}
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value).replace("{", "{{").replace("}", "}}"))
        elif isinstance(value, ast.FormattedValue):
            name = parameter_name(value.value)
            used[name] = used.get(name, 0) + 1
            parts.append("{" + (name if used[name] == 1 else f"{name}{used[name]}") + "}")
    return "".join(parts)


def parameter_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return parameter_name(node.value)
    if isinstance(node, ast.Call):
        return parameter_name(node.func) if not isinstance(node.func, ast.Attribute) else node.func.attr
    return "value"


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def messages(source: str) -> Iterator[tuple[int, str]]:
    """(line, message id) of every message in a module's source."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        found: list[ast.expr] = []
        if isinstance(node, ast.Call):
            callee = _callee(node)
            if callee in CALLS and len(node.args) > CALLS[callee]:
                found.append(node.args[CALLS[callee]])
            found += [k.value for k in node.keywords if k.arg == "message"]
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) for t in node.targets):
            names = {t.id for t in node.targets if isinstance(t, ast.Name)}
            if "message" in names:
                found.append(node.value)
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            table = node.value
            if any(isinstance(t, ast.Name) and t.id in TEXT_TABLES for t in targets) and isinstance(table, ast.Dict):
                found += [n for v in table.values for n in ast.walk(v) if isinstance(n, ast.Constant)]
        for expr in found:
            # "a" if x else "b" holds two messages
            candidates = [expr.body, expr.orelse] if isinstance(expr, ast.IfExp) else [expr]
            for candidate in candidates:
                text = template(candidate)
                if text and text.strip():
                    yield candidate.lineno, text


def extract(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel's extraction method interface."""
    for line, text in messages(fileobj.read().decode("utf-8")):
        yield line, None, text, []
