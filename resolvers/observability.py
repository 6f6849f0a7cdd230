"""One JSON log line per operation, and masking of unexpected errors.

Expected errors (GraphQL errors we raise on purpose, validation, permissions) pass through
with an `extensions.code`; anything else is replaced by INTERNAL_SERVER_ERROR and the
request id, and the traceback goes to the log under that id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from db.pool import start_counting

log = logging.getLogger("gongjian.graphql")


def is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError)


def _code_of(error: GraphQLError) -> str:
    if error.extensions and "code" in error.extensions:
        return str(error.extensions["code"])
    if error.path is None:
        return "GRAPHQL_VALIDATION_FAILED"
    return "BAD_USER_INPUT"


class OperationLog(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        counter = start_counting()
        started = time.perf_counter()
        yield
        context: Any = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        result = self.execution_context.result
        errors = list(getattr(result, "errors", None) or [])
        masked: list[GraphQLError] = []
        for error in errors:
            if is_expected(error):
                if not error.extensions or "code" not in error.extensions:
                    error.extensions = {**(error.extensions or {}), "code": _code_of(error)}
                masked.append(error)
                continue
            log.error(
                "unexpected error",
                exc_info=(
                    type(error.original_error),
                    error.original_error,
                    error.original_error.__traceback__,
                ),
                extra={"fields": {"request_id": request_id, "path": error.path}},
            )
            masked.append(
                GraphQLError(
                    "Internal server error",
                    nodes=error.nodes,
                    path=error.path,
                    extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                )
            )
        if result is not None and errors:
            result.errors = masked
        log.info(
            "operation",
            extra={
                "fields": {
                    "request_id": request_id,
                    "operation": self.execution_context.operation_name,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "sql_statements": counter.count,
                    "errors": [e.extensions.get("code") if e.extensions else None for e in masked],
                }
            },
        )
