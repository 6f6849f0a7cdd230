"""OpenTelemetry spans for SQL statements, when tracing is on (`gongjian/telemetry.py`
turns it on when OTEL_EXPORTER_OTLP_ENDPOINT is set). Off, a statement costs one check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

tracer = trace.get_tracer("gongjian")  # a proxy: follows the provider installed later
enabled = False


@contextmanager
def statement(query: str) -> Iterator[None]:
    """A child span of the current operation for one SQL statement (its text has no values:
    our statements take them as $n parameters)."""
    if not enabled:
        yield
        return
    text = query.strip()
    verb = text.split(None, 1)[0].upper() if text else "SQL"
    with tracer.start_as_current_span(
        f"db {verb}",
        kind=trace.SpanKind.CLIENT,
        attributes={"db.system": "postgresql", "db.operation": verb, "db.statement": text},
    ):
        yield
