"""Trusted documents: operations registered ahead of time and sent by their sha256 hash.

A client sends `{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}}`
without `query` (Apollo's persisted-query format, also accepted as the `extensions`
parameter of a GET). The registered documents are the client contract's operations, in
the committed manifest `schema/trusted_documents.json` (Apollo's persisted-query manifest
format), written by `gongjian trusted-documents` from the contract's folder. With
GONGJIAN_TRUSTED_DOCUMENTS_ONLY=true any other document is refused; the full text of a
registered document is still accepted, as it hashes to a registered id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, print_ast, validate
from strawberry.extensions import SchemaExtension

MANIFEST_FORMAT = "apollo-persisted-query-manifest"


def document_id(text: str) -> str:
    # surrogatepass: a lone surrogate (JSON may escape one) hashes to no registered id, not an error
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def manifest_from_contract(files: Iterable[Path], schema: GraphQLSchema) -> dict[str, Any]:
    """The manifest of the operations in the given .graphql files, each printed alone, that
    validate against `schema`: a contract operation not served yet is registered once it is,
    so that every registered document can run."""
    operations: list[dict[str, str]] = []
    for path in sorted(files):
        for definition in parse(path.read_text(encoding="utf-8")).definitions:
            if not isinstance(definition, OperationDefinitionNode) or definition.name is None:
                raise ValueError(f"{path.name}: every contract operation needs a name")
            body = print_ast(definition)
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
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": operations}


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"


@cache
def registered() -> dict[str, str]:
    """The committed manifest: document id -> document text."""
    text = (resources.files("schema") / "trusted_documents.json").read_text(encoding="utf-8")
    manifest = json.loads(text)
    return {o["id"]: o["body"] for o in manifest["operations"]}


def _refusal(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class TrustedDocuments(SchemaExtension):
    """Replaces a persisted-query hash by its document; with `only`, refuses any document
    that is not registered."""

    def __init__(self, only: bool) -> None:
        super().__init__()
        self.only = only

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        extensions = context.operation_extensions or {}
        persisted = extensions.get("persistedQuery")
        documents = registered()
        if persisted is not None:
            wanted = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
            if not isinstance(wanted, str) or persisted.get("version") != 1:
                raise _refusal("persistedQuery needs version 1 and a sha256Hash", "BAD_REQUEST")
            text = documents.get(wanted)
            if text is None:
                raise _refusal("No registered document has this sha256Hash", "PERSISTED_QUERY_NOT_FOUND")
            if context.query and document_id(context.query) != wanted:
                raise _refusal("The query does not match its sha256Hash", "BAD_REQUEST")
            context.query = text
        elif self.only and context.query and document_id(context.query) not in documents:
            raise _refusal(
                "Only registered documents are accepted here: send a registered operation or its sha256Hash",
                "TRUSTED_DOCUMENT_REQUIRED",
            )
        yield
