"""Layers that mean one thing (README "Architecture"), read from the import graph.

- `db/` (the demo included) is SQL and rows: it imports neither the rules (`resolvers/`)
  nor the GraphQL types (`schema/`); what it needs from the rules is handed to it;
- `resolvers/` holds the domain rules: the server's machinery (limits, logs, metrics,
  trusted documents, tokens, passwords, input checks, rate limits, fault mapping, the
  events hub) lives in `gongjian/`, and the hubs are made by the app's lifespan;
- the order workflow, with who may perform each transition, is a rule: it is not in `db/`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import REPO

# modules of server infrastructure: they belong in gongjian/, never in resolvers/
INFRASTRUCTURE = frozenset(
    {
        "limits",
        "observability",
        "metrics",
        "trusted_documents",
        "tokens",
        "passwords",
        "text_input",
        "rate_limits",
        "db_faults",
        "socket_viewer",
        "hooks",
        "translation",
        "message_extraction",
        "uploads",
        "spreadsheets",
        "reminders",
    }
)


def _modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((REPO / package).rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """Every module `module` imports, at its top or inside a function, as absolute names."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, `level - 1` steps up
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            yield node.lineno, prefix
            for alias in node.names:  # `from resolvers import tokens` imports resolvers.tokens
                yield node.lineno, f"{prefix}.{alias.name}"


def _top(name: str) -> str:
    return name.partition(".")[0]


def test_the_walk_sees_imports_of_every_form(tmp_path: Path) -> None:
    """The graph below is only as good as its reading of import statements."""
    source = tmp_path / "probe.py"
    source.write_text(
        "import resolvers.orders\nfrom schema import root\n"
        "def f() -> None:\n    from resolvers.areas import x\n    from . import sibling\n",
        encoding="utf-8",
    )
    found = {name for _, name in _imports("db.demo.probe", source)}
    assert {"resolvers.orders", "schema", "schema.root", "resolvers.areas", "db.demo.sibling"} <= found


@pytest.mark.parametrize("layer", ["resolvers", "schema"])
def test_db_imports_neither_the_rules_nor_the_schema(layer: str) -> None:
    found = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for module, path in _modules("db")
        for line, name in _imports(module, path)
        if _top(name) == layer
    ]
    assert not found, f"db/ must not import {layer}/: hand what it needs over as arguments, or move it: {found}"


def test_the_rules_import_no_graphql_types() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for module, path in _modules("resolvers")
        for line, name in _imports(module, path)
        if _top(name) == "schema"
    ]
    assert not found, found


def test_resolvers_hold_no_server_infrastructure() -> None:
    misplaced = sorted(
        name for module, _ in _modules("resolvers") if (name := module.rpartition(".")[2]) in INFRASTRUCTURE
    )
    assert not misplaced, f"server infrastructure belongs in gongjian/, not resolvers/: {misplaced}"
    for name in INFRASTRUCTURE:  # and it is there
        assert (REPO / "gongjian" / f"{name}.py").is_file(), name


def test_the_rules_make_no_process_state() -> None:
    """The events hubs (and anything else living as long as the process) are made by the app's
    lifespan (`gongjian/app.py`): no rule stores on the app's state."""
    found = []
    for _, path in _modules("resolvers"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets = list(node.targets) if isinstance(node, ast.Assign) else []
            targets += [node.target] if isinstance(node, ast.AnnAssign | ast.AugAssign) else []
            for target in targets:
                holder = target.value if isinstance(target, ast.Attribute) else None
                if (isinstance(holder, ast.Name) and holder.id == "state") or (
                    isinstance(holder, ast.Attribute) and holder.attr == "state"
                ):
                    found.append(f"{path.relative_to(REPO)}:{target.lineno}")
    assert not found, f"made outside the app's lifespan: {found}"


def test_the_order_workflow_is_a_rule_not_a_table_of_db() -> None:
    """`TRANSITIONS` (with who may perform each transition) is defined in resolvers/, and db/
    performs the step it is handed."""
    defined = {
        str(path.relative_to(REPO))
        for package in ("db", "resolvers")
        for _, path in _modules(package)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and any(
            isinstance(t, ast.Name) and t.id == "TRANSITIONS"
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    }
    assert defined == {"resolvers/order_workflow.py"}
