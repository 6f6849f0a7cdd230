"""The compiled reads' own way through HTTP: a query the compiled path has answered once is
answered again without strawberry.

The ordinary way of a request through strawberry (parsing the body, the extensions'
hooks, the token limit, parsing and validating the document, the cost, the NUL check,
signing in, building the result) costs more Python than the one SQL statement of a
compiled read costs PostgreSQL. Most of it depends on the document's text alone, so this
module keeps, per app, the documents (text and operation name) that the whole pipeline
has let through to `CompiledReads` and that it answered (`admit`). A later request for the
same document is answered here when everything that may differ between requests is
plainly fine:

- a POST of `application/json` with no query string, by a session token whose signature
  holds (the statement asks the database whether its account still signs in);
- a body of `query` (or a registered document's `persistedQuery` hash alone),
  `operationName` and `variables`, nothing else;
- variables whose texts no refusal of gongjian/text_input.py can concern, and a cost
  (gongjian/limits.py) within the budget;
- a plan of `resolvers/compiled/run.py` for them (its variables coerce, its values are
  ones the ordinary path would take);
- the statement answers (the session token still signs its user in), without a fault.

Anything else goes the ordinary way, where the same checks give their errors; so an
answer never differs from what strawberry would have sent, only its cost. A statement
that failed here (a database fault: no free connection, a timeout) is not run again: the
ordinary way's `CompiledReads` raises its error where it would have run it, so the client
waits for one failure, not two. The operation's
log line and metrics are written alike, with `path` `compiled`. With tracing on, every
request goes the ordinary way (its spans are made there).
"""

from __future__ import annotations

import time
from typing import Any, Final

from graphql import DocumentNode, GraphQLError, GraphQLSchema, get_operation_ast
from starlette.requests import Request
from starlette.responses import Response

from db import tracing
from db.pool import start_counting
from gongjian import json_input, limits, media, text_input, trusted_documents
from gongjian.config import Settings
from gongjian.observability import record
from gongjian.recent import Recent
from gongjian.tokens import bearer
from resolvers.compiled import run as compiled_reads
from resolvers.compiled.planner import Fallback, NotCompilable
from resolvers.context import base_url, session_claims

ADMITTED_MAX: Final = 1000  # documents kept per app (the oldest used goes first)
BODY_KEYS: Final = frozenset({"query", "operationName", "variables", "extensions"})


class CompiledHttp:
    def __init__(self, schema: GraphQLSchema, settings: Settings) -> None:
        self.schema = schema
        self.settings = settings
        # document text -> its parsed document, and the names of its operations answered
        self._admitted: Recent[str, tuple[DocumentNode, frozenset[str | None]]] = Recent(ADMITTED_MAX)
        self._costs: Recent[tuple[Any, ...], int] = Recent(ADMITTED_MAX)
        self.answered = 0  # requests answered here (the tests read it)

    def admit(self, request: Request) -> None:
        """Keep the document `CompiledReads` answered for this request, if it did."""
        context = getattr(request.state, "context", None)  # the operation's (app.py get_context)
        found = getattr(context, "compiled_document", None)
        if found is None:
            return
        query, operation_name, document = found
        _, names = self._admitted.get(query) or (document, frozenset())
        self._admitted[query] = (document, names | {operation_name})

    async def answer(self, request: Request, request_id: str) -> Response | None:
        """The response to an admitted document's request, or None: the ordinary way answers."""
        if (
            not self.settings.compiled_reads
            or tracing.enabled
            or request.method != "POST"
            or request.scope.get("query_string")
            or (request.headers.get("content-type") or "").partition(";")[0].strip().lower() != media.JSON
        ):
            return None
        claims = session_claims(self.settings, bearer(request.headers.get("authorization")))
        if claims is None:
            return None
        try:
            body = json_input.decode(await request.body())
        except ValueError:  # json_input.Refused and JSONDecodeError are both
            return None
        found = self._document(body)
        if found is None:
            return None
        query, operation_name, document, variables = found
        if not text_input.plainly_storable(variables):
            return None
        if self._cost(query, document, operation_name, variables) > self.settings.max_cost:
            return None
        started = time.perf_counter()
        counter = start_counting()
        try:
            statement, params = compiled_reads.compile_operation(
                self.schema, document, query, operation_name, variables
            )
        except (NotCompilable, Fallback, GraphQLError):
            return None
        fixed = compiled_reads.session_parameters(claims, request_id, base_url(request))
        try:
            data = await compiled_reads.run(request.app.state.db, statement, fixed, params)
        except Exception as exc:  # the ordinary way answers it as its own (CompiledReads raises it)
            request.state.compiled_failure = exc
            return None
        if data is None:  # the account no longer signs in: the ordinary way answers anonymously
            return None
        record(request_id, operation_name, "query", "compiled", counter.count, [], started)
        self.answered += 1
        return Response(b'{"data":' + data + b"}", media_type=media.JSON)

    def _cost(self, query: str, document: DocumentNode, operation_name: str | None, variables: dict[str, Any]) -> int:
        """`limits.node_count`, kept per document, operation and the variables as a `first`
        reads them (an integer; anything else counts as not one, though still given)."""
        given = tuple(sorted((k, v if v is None or type(v) is int else "other") for k, v in variables.items()))
        key = (query, operation_name, given)
        found = self._costs.get(key)
        if found is None:
            found = self._costs[key] = limits.node_count(self.schema, document, operation_name, variables)
        return found

    def _document(self, body: Any) -> tuple[str, str | None, DocumentNode, dict[str, Any]] | None:
        """The admitted document a body asks for, with its variables; None for any other body."""
        if not isinstance(body, dict) or not body.keys() <= BODY_KEYS:
            return None
        query, operation_name = body.get("query"), body.get("operationName")
        variables = body.get("variables")
        extensions = body.get("extensions")
        if extensions is not None:
            persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
            if query is not None or extensions.keys() != {"persistedQuery"} or not isinstance(persisted, dict):
                return None
            wanted = persisted.get("sha256Hash")
            if persisted.get("version") != 1 or not isinstance(wanted, str):
                return None
            query = trusted_documents.registered().get(wanted)
        if not isinstance(query, str) or not isinstance(operation_name, str | None):
            return None
        if variables is None:
            variables = {}
        elif not isinstance(variables, dict):
            return None
        found = self._admitted.get(query)
        if found is None:
            return None
        document, names = found
        if operation_name is None:  # the document's one operation (strawberry names it so)
            operation = get_operation_ast(document)
            operation_name = operation.name.value if operation is not None and operation.name else None
        if operation_name not in names:
            return None
        return query, operation_name, document, variables
