"""Prometheus metrics of the GraphQL layer (served at /metrics by the app, with the pool's).

Label values are bounded: an operation is labelled with its name only when the name is one
of the client contract's registered operations, else `other` (or `anonymous`), so that
clients cannot grow the series without end. `path` says how the operation was answered:
`resolvers` (graphql-core calling our resolvers), or `compiled` once an operation is
answered by one compiled SQL statement (issue 13 sets `execution_path` on the context).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

REGISTRY: Final = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

OPERATIONS: Final = Counter(
    "gongjian_operations",
    "GraphQL operations by name, type, execution path and outcome (ok, client_error, server_error)",
    ["operation", "type", "path", "outcome"],
    registry=REGISTRY,
)
DURATION: Final = Histogram(
    "gongjian_operation_duration_seconds",
    "Time from receiving an operation to its answer (a subscription: to its end)",
    ["operation", "type", "path"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
SQL_STATEMENTS: Final = Histogram(
    "gongjian_operation_sql_statements",
    "SQL statements run for one operation",
    ["operation", "type"],
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144),
    registry=REGISTRY,
)
SUBSCRIPTIONS_OPEN: Final = Gauge(
    "gongjian_subscriptions_open",
    "Subscriptions running now in this process",
    registry=REGISTRY,
)
NOTIFICATIONS_SENT: Final = Counter(
    "gongjian_notifications_sent",
    "Notifications delivered to subscribers, by kind",
    ["kind"],
    registry=REGISTRY,
)


def outcome(codes: list[str | None]) -> str:
    if not codes:
        return "ok"
    return "server_error" if "INTERNAL_SERVER_ERROR" in codes else "client_error"
