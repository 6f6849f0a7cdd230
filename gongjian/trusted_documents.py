"""Trusted documents and Apollo's automatic persisted queries.

A client sends `{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}}`
(POST body, or the `extensions` parameter of a GET), with or without `query`:

- the hash alone runs the document registered under it: one of the client contract's
  operations in the committed manifest `schema/trusted_documents.json` (Apollo's
  persisted-query manifest format, written by `gongjian trusted-documents`), or one a
  client registered earlier; an unknown hash is PERSISTED_QUERY_NOT_FOUND, upon which
  Apollo's link sends the hash with the text;
- the hash with the text (which must hash to it) registers the text in PostgreSQL
  (`db/persisted_queries.py`, every instance sees it, bounded) and runs it.

The manifest's bodies carry `__typename` in every selection set but the operation's root,
as Apollo's manifest generator adds it, so that a response by manifest id normalises in
Apollo's cache. With GONGJIAN_TRUSTED_DOCUMENTS_ONLY=true only registered operations run:
a text is accepted when its canonical form (parsed, `__typename` fields removed, printed by
graphql-core) is that of a manifest operation, so the contract's text as written, graphql-js's
print and Apollo's print with `__typename` added all pass; such a text may also be registered
under the client's own hash. Introspection is then allowed when GONGJIAN_INTROSPECTION is on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

from graphql import (
    REMOVE,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    NameNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    parse,
    print_ast,
    validate,
    visit,
)
from strawberry.extensions import SchemaExtension

from db import persisted_queries
from gongjian.recent import Recent

MANIFEST_FORMAT: Final = "apollo-persisted-query-manifest"
MANIFEST_NOTE: Final = (
    "Operations of the client contract that the server runs, in Apollo's persisted-query manifest format. "
    "`body` is the operation printed by graphql-core with `__typename` added to every selection set but the "
    "root, as Apollo's manifest generator and cache add it; `id` is the sha256 of `body` (hex). Send "
    '{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": id}}} to run an operation by id '
    "(Apollo: generatePersistedQueryIdsFromManifest). A client may also hash its own print (Apollo's "
    "persisted-query link does): on PERSISTED_QUERY_NOT_FOUND it sends the hash with its text once, and the "
    "hash alone works from then on; with GONGJIAN_TRUSTED_DOCUMENTS_ONLY=true that text must be one of these "
    "operations, compared after parsing and without `__typename` fields."
)
TYPENAME: Final = "__typename"
INTROSPECTION_ROOTS: Final = frozenset({"__schema", "__type", TYPENAME})


def document_id(text: str) -> str:
    # surrogatepass: a lone surrogate (JSON may escape one) hashes to no registered id, not an error
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class _AddTypename(Visitor):
    """Apollo Client's addTypenameToDocument: `__typename` appended to every selection set
    but an operation's root, unless it selects `__typename` or an introspection field."""

    def enter_selection_set(self, node: SelectionSetNode, key: Any, parent: Any, *_: Any) -> Any:
        if isinstance(parent, OperationDefinitionNode):
            return None
        names = [s.name.value for s in node.selections if isinstance(s, FieldNode)]
        if any(name.startswith("__") for name in names):
            return None
        if isinstance(parent, FieldNode) and any(d.name.value == "export" for d in parent.directives or ()):
            return None
        typename = FieldNode(name=NameNode(value=TYPENAME), arguments=(), directives=())
        return SelectionSetNode(selections=(*node.selections, typename))


class _RemoveTypename(Visitor):
    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        return REMOVE if node.name.value == TYPENAME else None


def with_typename(node: Node) -> Node:
    added: Node = visit(node, _AddTypename())
    return added


def canonical(document: DocumentNode) -> str:
    """The form in which two prints of one operation agree: without `__typename` fields,
    printed by graphql-core (so formatting, comments and the printer do not matter)."""
    return print_ast(visit(document, _RemoveTypename()))


def manifest_from_contract(files: Iterable[Path], schema: GraphQLSchema) -> dict[str, Any]:
    """The manifest of the operations in the given .graphql files, each printed alone with
    `__typename` added, that validate against `schema`: a contract operation not served yet
    is registered once it is, so that every registered document can run."""
    operations: list[dict[str, str]] = []
    for path in sorted(files):
        for definition in parse(path.read_text(encoding="utf-8")).definitions:
            if not isinstance(definition, OperationDefinitionNode) or definition.name is None:
                raise ValueError(f"{path.name}: every contract operation needs a name")
            body = print_ast(with_typename(definition))
            if validate(schema, parse(body)):
                continue
            operations.append(
                {
                    "id": document_id(body),
                    "name": definition.name.value,
                    "type": definition.operation.value,
                    "body": body,
                }
            )
    operations.sort(key=lambda o: o["name"])
    return {"format": MANIFEST_FORMAT, "version": 1, "description": MANIFEST_NOTE, "operations": operations}


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"


@cache
def registered() -> dict[str, str]:
    """The committed manifest: document id -> document text."""
    text = (resources.files("schema") / "trusted_documents.json").read_text(encoding="utf-8")
    manifest = json.loads(text)
    return {o["id"]: o["body"] for o in manifest["operations"]}


@cache
def registered_names() -> frozenset[str]:
    """The names of the manifest's operations (metrics label only these)."""
    text = (resources.files("schema") / "trusted_documents.json").read_text(encoding="utf-8")
    return frozenset(o["name"] for o in json.loads(text)["operations"])


@cache
def _canonical_forms() -> frozenset[str]:
    return frozenset(canonical(parse(body)) for body in registered().values())


Kind = Literal["registered", "introspection", "other"]


def _is_introspection(document: DocumentNode) -> bool:
    """Every operation selects only `__schema`, `__type` and `__typename` at its root."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def only_introspection(selections: SelectionSetNode, seen: frozenset[str]) -> bool:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value not in INTROSPECTION_ROOTS:
                    return False
            elif isinstance(selection, InlineFragmentNode):
                if not only_introspection(selection.selection_set, seen):
                    return False
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is None or selection.name.value in seen:
                    return False
                if not only_introspection(fragment.selection_set, seen | {selection.name.value}):
                    return False
        return True

    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(only_introspection(o.selection_set, frozenset()) for o in operations)


_KINDS_CACHED: Final = 1024
_kinds: Recent[tuple[str, int], Kind] = Recent(_KINDS_CACHED)


def kind_of(text: str, max_tokens: int) -> Kind:
    """Whether `text` is a registered operation (in its canonical form), an introspection
    query, or anything else (including text that does not parse). Cached by hash."""
    key = (document_id(text), max_tokens)
    known = _kinds.get(key)
    if known is not None:
        return known
    try:
        document = parse(text, max_tokens=max_tokens)
    except GraphQLError:
        found: Kind = "other"
    else:
        if canonical(document) in _canonical_forms():
            found = "registered"
        elif _is_introspection(document):
            found = "introspection"
        else:
            found = "other"
    _kinds[key] = found
    return found


def _refusal(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


REQUIRED: Final = "Only registered documents are accepted here: send a registered operation or its sha256Hash"


class TrustedDocuments(SchemaExtension):
    """Replaces a persisted-query hash by its document and registers new ones (Apollo's
    automatic persisted queries); with `only`, refuses any document that is not a
    registered operation (or introspection, when `introspection` is on)."""

    def __init__(self, *, only: bool, introspection: bool, max_tokens: int, keep: int) -> None:
        super().__init__()
        self.only = only
        self.introspection = introspection
        self.max_tokens = max_tokens
        self.keep = keep
        self.to_register: tuple[str, str] | None = None

    def _trusted(self, text: str) -> bool:
        found = kind_of(text, self.max_tokens)
        return found == "registered" or (found == "introspection" and self.introspection)

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context
        extensions = context.operation_extensions or {}
        persisted = extensions.get("persistedQuery")
        if persisted is not None:
            wanted = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
            if not isinstance(wanted, str) or persisted.get("version") != 1:
                raise _refusal("persistedQuery needs version 1 and a sha256Hash", "BAD_REQUEST")
            if context.query:
                if document_id(context.query) != wanted:
                    raise _refusal("The query does not match its sha256Hash", "BAD_REQUEST")
                if wanted not in registered():
                    if self.only and not self._trusted(context.query):
                        raise _refusal(REQUIRED, "TRUSTED_DOCUMENT_REQUIRED")
                    if self.keep > 0:
                        self.to_register = (wanted, context.query)
            else:
                text = registered().get(wanted)
                if text is None:
                    text = await persisted_queries.find(context.context.db, wanted.lower())
                    if text is None:
                        raise _refusal("No registered document has this sha256Hash", "PERSISTED_QUERY_NOT_FOUND")
                    if self.only and not self._trusted(text):
                        raise _refusal(REQUIRED, "TRUSTED_DOCUMENT_REQUIRED")
                context.query = text
        elif (
            self.only
            and context.query
            and document_id(context.query) not in registered()
            and not self._trusted(context.query)
        ):
            raise _refusal(REQUIRED, "TRUSTED_DOCUMENT_REQUIRED")
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        yield
        # only a document that validates is worth keeping
        if self.to_register is not None and not self.execution_context.pre_execution_errors:
            wanted, text = self.to_register
            await persisted_queries.register(self.execution_context.context.db, wanted, text, self.keep)
