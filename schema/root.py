"""The root types and the Schema object, assembled from one mixin per domain."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension

from schema import (
    accounts,
    activities,
    areas,
    attachments,
    base,
    duallist,
    findings,
    identity,
    meetings,
    notifications,
    orders,
    pairings,
    renovations,
    scalars,
)
from schema import people as _people  # noqa: F401 - declares the compiled `people` root
from schema.node import NodeQuery
from schema.streamline import streamline

QUERIES: list[type] = [
    NodeQuery,
    areas.AreasQuery,
    duallist.DualListQuery,
    identity.IdentityQuery,
    accounts.AccountsQuery,
    pairings.PairingsQuery,
    orders.OrdersQuery,
    activities.ActivityQuery,
    findings.FindingQuery,
    renovations.RenovationQuery,
    meetings.MeetingQuery,
]
MUTATIONS: list[type] = [
    areas.AreasMutation,
    duallist.DualListMutation,
    identity.IdentityMutation,
    accounts.AccountsMutation,
    pairings.PairingsMutation,
    orders.OrdersMutation,
    activities.ActivityMutation,
    findings.FindingMutation,
    renovations.RenovationMutation,
    meetings.MeetingMutation,
    notifications.NotificationsMutation,
    attachments.AttachmentsMutation,
]
SUBSCRIPTIONS: list[type] = [orders.OrdersSubscription, notifications.NotificationsSubscription]


ROOTS = {
    "Query": "What can be read: start with `viewer`, `node` or a domain's list",
    "Mutation": "What can be changed: one input, one payload with `userErrors`, one transaction each",
    "Subscription": "Events pushed over graphql-transport-ws",
}


def _merge(name: str, parts: Sequence[type]) -> type | None:
    if not parts:
        return None
    return strawberry.type(type(name, tuple(parts), {}), description=ROOTS[name])


def build(
    extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
    *,
    extra_queries: Sequence[type] = (),
) -> strawberry.Schema:
    """The schema; `extra_queries` lets tests add probe fields (never used in production)."""
    query = _merge("Query", [*QUERIES, *extra_queries])
    assert query is not None
    return streamline(
        base.Schema(
            query=query,
            types=[
                *areas.ALL_TYPES,
                *duallist.ALL_TYPES,
                *identity.ALL_TYPES,
                *pairings.ALL_TYPES,
                *orders.ALL_TYPES,
                *activities.ALL_TYPES,
                *findings.ALL_TYPES,
                *renovations.ALL_TYPES,
                *meetings.ALL_TYPES,
                *notifications.ALL_TYPES,
                *attachments.ALL_TYPES,
            ],
            mutation=_merge("Mutation", MUTATIONS),
            subscription=_merge("Subscription", SUBSCRIPTIONS),
            extensions=list(extensions),
            scalar_overrides=scalars.OVERRIDES,
        )
    )


def sdl() -> str:
    schema: Any = build()
    return str(schema.as_str()) + "\n"
