"""One JSON log line per operation, and masking of unexpected errors.

Expected errors (GraphQL errors we raise on purpose, validation, permissions) pass through
with an `extensions.code`; anything else is replaced by INTERNAL_SERVER_ERROR and the
request id, and the traceback goes to the log under that id.

Masking happens in `process_errors`, which strawberry calls exactly once for the errors of
every result, over HTTP and WebSocket alike, whether they come from parsing, validation,
an extension or a resolver. It rewrites the errors in place: they are the ones sent.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from opentelemetry import context as otel_context
from opentelemetry import trace
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from db import tracing
from db.pool import start_counting
from gongjian import db_faults, metrics
from gongjian.translation import DEFAULT, translate
from gongjian.trusted_documents import registered_names

log = logging.getLogger("gongjian.graphql")

SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
INTERNAL = "Internal server error"
REQUEST_ERRORS = frozenset({"MissingQueryError", "InvalidOperationTypeError", "CannotGetOperationTypeError"})


def is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError)


def _code_of(error: GraphQLError) -> str:
    if error.extensions and "code" in error.extensions:
        return str(error.extensions["code"])
    if isinstance(error, GraphQLSyntaxError) or isinstance(error.original_error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if error.path is None:
        return "GRAPHQL_VALIDATION_FAILED"
    return "BAD_USER_INPUT"


def _request_id(execution_context: ExecutionContext | None) -> str | None:
    context = execution_context.context if execution_context is not None else None
    value = getattr(context, "request_id", None)
    return str(value) if value is not None else None


def _suggestions_hidden(execution_context: ExecutionContext | None) -> bool:
    context = execution_context.context if execution_context is not None else None
    settings = getattr(context, "settings", None)
    return settings is not None and not settings.introspection


def _response(execution_context: ExecutionContext | None) -> Any:
    context = execution_context.context if execution_context is not None else None
    return getattr(context, "response", None)


def process_errors(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
    """Give every expected error a code and mask every unexpected one, in place."""
    request_id = _request_id(execution_context)
    hide = _suggestions_hidden(execution_context)
    context = execution_context.context if execution_context is not None else None
    language = str(getattr(context, "language", None) or DEFAULT)
    for error in errors:
        if error.extensions and error.extensions.get("code") == "INTERNAL_SERVER_ERROR":
            continue  # masked already
        if is_expected(error):
            if not error.extensions or "code" not in error.extensions:
                error.extensions = {**(error.extensions or {}), "code": _code_of(error)}
            if hide and "Did you mean" in error.message:
                error.message = SUGGESTION.sub("", error.message)
            error.message = translate(error.message, language)
            continue
        original = error.original_error
        assert original is not None
        fault = db_faults.classify(original)
        if fault is not None:  # the database timed out or is out of reach: coded, retryable
            log.warning("database fault", extra={"fields": {"request_id": request_id, "code": fault.code}})
            error.message, error.extensions = fault.message, fault.extensions
            db_faults.answer_unavailable(_response(execution_context), fault)
            continue
        log.error(
            "unexpected error",
            exc_info=(type(original), original, original.__traceback__),
            extra={"fields": {"request_id": request_id, "path": error.path}},
        )
        error.message = translate(INTERNAL, language)
        error.extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}


class OperationLog(SchemaExtension):
    """The log line of an operation: request id, operation name, duration, number of SQL
    statements run for it, and the codes of its errors; the same figures as Prometheus
    metrics (gongjian/metrics.py), and an OpenTelemetry span around it when tracing is on
    (its SQL statements are child spans, db/tracing.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.subscription = False

    def on_operation(self) -> Iterator[None]:
        counter = start_counting()
        started = time.perf_counter()
        failure: BaseException | None = None
        span = tracing.tracer.start_span("graphql.operation") if tracing.enabled else None
        token = otel_context.attach(trace.set_span_in_context(span)) if span is not None else None
        try:
            yield
        except (GeneratorExit, asyncio.CancelledError):
            # the client ended it: a subscription completed or a connection closed
            raise
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if self.subscription:
                metrics.SUBSCRIPTIONS_OPEN.dec()
            codes = self._write(counter.count, started, failure)
            if span is not None and token is not None:
                self._end(span, codes, counter.count)
                otel_context.detach(token)

    def on_execute(self) -> Iterator[None]:
        if self._type() == "subscription":
            self.subscription = True
            metrics.SUBSCRIPTIONS_OPEN.inc()
        yield

    def _type(self) -> str:
        try:
            return self.execution_context.operation_type.value
        except RuntimeError:  # the document did not parse, or names no operation
            return "unknown"

    def _end(self, span: trace.Span, codes: list[str | None], statements: int) -> None:
        context = self.execution_context
        span.update_name(f"{self._type()} {context.operation_name or 'anonymous'}")
        span.set_attributes(
            {
                "graphql.operation.name": context.operation_name or "",
                "graphql.operation.type": self._type(),
                "gongjian.request_id": _request_id(context) or "",
                "gongjian.sql_statements": statements,
                "gongjian.errors": [code or "" for code in codes],
            }
        )
        if metrics.outcome(codes) == "server_error":
            span.set_status(trace.StatusCode.ERROR)
        span.end()

    def _write(self, statements: int, started: float, failure: BaseException | None) -> list[str | None]:
        context = self.execution_context
        errors: list[Any] = list(getattr(context.result, "errors", None) or context.pre_execution_errors or [])
        codes: list[str | None] = [
            (e.extensions or {}).get("code") if isinstance(e, GraphQLError) else None for e in errors
        ]
        if isinstance(failure, GraphQLError):
            codes.append(_code_of(failure))
        elif failure is not None:  # strawberry's refusals of a request (no query, mutation over GET) are the client's
            codes.append("BAD_REQUEST" if type(failure).__name__ in REQUEST_ERRORS else "INTERNAL_SERVER_ERROR")
        path = str(getattr(context.context, "execution_path", "resolvers"))
        record(_request_id(context), context.operation_name, self._type(), path, statements, codes, started)
        return codes


def record(
    request_id: str | None,
    operation: str | None,
    kind: str,
    path: str,
    statements: int,
    codes: list[str | None],
    started: float,
) -> None:
    """An operation's log line and metrics (`started`: its `time.perf_counter()`)."""
    elapsed = time.perf_counter() - started
    log.info(
        "operation",
        extra={
            "fields": {
                "request_id": request_id,
                "operation": operation,
                "duration_ms": round(elapsed * 1000, 2),
                "sql_statements": statements,
                "errors": codes,
                "path": path,
            }
        },
    )
    label = "anonymous" if operation is None else operation if operation in registered_names() else "other"
    counted, timed, statements_of = _series(label, kind, path, metrics.outcome(codes))
    counted.inc()
    timed.observe(elapsed)
    statements_of.observe(statements)


# the metrics' series by their labels (a few hundred at most: the registered operations'
# names, "other" and "anonymous"), looked up once rather than on every operation
_labelled: dict[tuple[str, str, str, str], tuple[Any, Any, Any]] = {}


def _series(label: str, kind: str, path: str, outcome: str) -> tuple[Any, Any, Any]:
    key = (label, kind, path, outcome)
    found = _labelled.get(key)
    if found is None:
        found = _labelled[key] = (
            metrics.OPERATIONS.labels(label, kind, path, outcome),
            metrics.DURATION.labels(label, kind, path),
            metrics.SQL_STATEMENTS.labels(label, kind),
        )
    return found
