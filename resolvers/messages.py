"""What notifications say: a title and a body per kind, rendered from the notification's
stored parameters when it is read, in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from gongjian.translation import translate_template

# kind (and, for ORDER_UPDATED, the timeline action) -> (title, body); `{name}` is a parameter
NOTIFICATION_TEXTS: Final[dict[str, tuple[str, str]]] = {
    "ORDER_UPDATED:PLACED": ("Order placed", "Order {number} ({title}) was placed for your household"),
    "ORDER_UPDATED:DISPATCHED": ("Order dispatched", "Order {number} ({title}) was dispatched"),
    "ORDER_UPDATED:ACCEPTED": ("Order accepted", "Order {number} ({title}) was accepted"),
    "ORDER_UPDATED:RETURNED": ("Order returned", "Order {number} ({title}) was handed back to the community"),
    "ORDER_UPDATED:COMPLETED": ("Order completed", "Order {number} ({title}) was completed: please rate it"),
    "ORDER_UPDATED:RATED": ("Order rated", "Order {number} ({title}) was rated and closed"),
    "ORDER_UPDATED:CANCELLED": ("Order cancelled", "Order {number} ({title}) was cancelled"),
    "ORDER_ASSIGNED": ("New order for you", "Order {number} ({title}) was dispatched to you"),
    "ORDER_ESCALATED:DISPATCHED": ("Order escalated", "Order {number} ({title}) was not accepted within {hours} hours"),
    "ORDER_ESCALATED:SUBMITTED": (
        "Order escalated",
        "Order {number} ({title}) was not dispatched within {hours} hours",
    ),
    "ORDER_OVERDUE": ("Order overdue", "Order {number} ({title}) is past its due time"),
    "VISIT_DUE": ("Home visit due", "The home visit to {household} for {month} is still due"),
    "NEED_MATCHED": ("A need matches your resources", "A community needs {quantity} × {title}"),
    "REGISTRATION_DECIDED:CONFIRMED": ("Registration confirmed", "Your registration with {community} was confirmed"),
    "REGISTRATION_DECIDED:REJECTED": ("Registration rejected", "Your registration with {community} was rejected"),
    "FINDING_PUBLISHED": ("Finding published", "A finding in {compound} passed its deadline {deadline} unrectified"),
    "ACTIVITY_SOON": ("Activity tomorrow", "{title} starts at {startsAt}"),
}


def _key(kind: str, params: Mapping[str, Any]) -> str:
    if kind == "ORDER_UPDATED":
        return f"{kind}:{params.get('action')}"
    if kind == "REGISTRATION_DECIDED":
        return f"{kind}:{params.get('status')}"
    if kind == "ORDER_ESCALATED":
        return f"{kind}:{params.get('state', 'DISPATCHED')}"
    return kind


def render_notification(kind: str, params: Mapping[str, Any], language: str) -> tuple[str, str]:
    """(title, body) of a notification in `language`."""
    title, body = NOTIFICATION_TEXTS.get(_key(kind, params), (kind, ""))
    return translate_template(title, params, language), translate_template(body, params, language)
