"""Notifications (消息提醒): each user's inbox, marking read and the live feed."""

from __future__ import annotations

import datetime
import enum
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db.identity import UserRow
from db.notifications import NotificationRow
from resolvers import notifications as r
from resolvers import rules
from resolvers.notifications import Inbox
from resolvers.permissions import SignedIn, described
from schema.base import INPUT, After, Connection, First, Node, UserError, UserErrorRows, is_row


@strawberry.enum(description="What a notification is about; each is raised once for each reason")
class NotificationKind(enum.Enum):
    ORDER_UPDATED = strawberry.enum_value(
        "ORDER_UPDATED", description="An order of the viewer's household moved (to its members, not the actor)"
    )
    ORDER_ASSIGNED = strawberry.enum_value(
        "ORDER_ASSIGNED", description="An order was dispatched to the viewer (or the viewer's unit)"
    )
    ORDER_ESCALATED = strawberry.enum_value(
        "ORDER_ESCALATED", description="A dispatched order was not accepted in time (staff in scope)"
    )
    ORDER_OVERDUE = strawberry.enum_value(
        "ORDER_OVERDUE", description="An order passed its due time (staff in scope and the assignee)"
    )
    VISIT_DUE = strawberry.enum_value(
        "VISIT_DUE", description="A pairing's home visit of the month is still due on the 20th (the cadre)"
    )
    NEED_MATCHED = strawberry.enum_value(
        "NEED_MATCHED", description="A new need matches an available resource of the viewer's unit"
    )
    REGISTRATION_DECIDED = strawberry.enum_value(
        "REGISTRATION_DECIDED", description="The viewer's registration (双报到) was confirmed or rejected"
    )
    FINDING_PUBLISHED = strawberry.enum_value(
        "FINDING_PUBLISHED", description="A finding passed its deadline unrectified and is published (staff)"
    )
    ACTIVITY_SOON = strawberry.enum_value(
        "ACTIVITY_SOON", description="An activity the viewer signed up for starts within 24 hours"
    )


async def _subject(root: NotificationRow, info: Info[Any, Any]) -> object:
    """The row the notification is about, as `node(id)` answers it (a row of any Node type, or None)."""
    return await r.subject_of(root, info.context)


def _title(root: NotificationRow, info: Info[Any, Any]) -> str:
    return r.title_of(root, info.context)


def _body(root: NotificationRow, info: Info[Any, Any]) -> str:
    return r.body_of(root, info.context)


@strawberry.type(description="A notification in a user's inbox (消息). Visible only to its user")
class Notification(Node):
    is_type_of = is_row(NotificationRow)
    at: datetime.datetime = strawberry.field(description="When it was raised")
    kind: NotificationKind = strawberry.field(description="What it is about")
    title: str = strawberry.field(resolver=_title, description="Short title, in the request's language")
    body: str = strawberry.field(resolver=_body, description="One line of text, in the request's language")
    read: bool = strawberry.field(
        resolver=lambda root: root.read_at is not None, description="Marked read with `markNotificationsRead`"
    )
    subject: object = strawberry.field(
        resolver=_subject,
        graphql_type=Node | None,
        description="The object it is about; null when the viewer may no longer see it",
    )


async def _unread_count(root: r.Inbox) -> int:
    return root.unread_count


@strawberry.type(description="A page of the viewer's inbox, newest first")
class NotificationConnection(Connection[Notification]):
    unread_count: int = strawberry.field(resolver=_unread_count, description="Unread notifications in the inbox")


async def notifications_of(
    root: UserRow,
    info: Info[Any, Any],
    unread_only: Annotated[
        bool | None, strawberry.argument(description="Only notifications not marked read yet")
    ] = None,
    first: First = None,
    after: After = None,
) -> Inbox | None:
    """`User.notifications`, whose GraphQL type is `NotificationConnection | None`."""
    return await r.inbox(info.context, root, unread_only, first, after)


@strawberry.input(description="Notifications to mark read")
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] = strawberry.field(description="Ids of the viewer's own notifications (at most 100)")


@strawberry.type(description="The viewer's unread count after marking")
class MarkNotificationsReadPayload:
    unread_count: int | None = strawberry.field(description="Unread notifications left in the inbox")
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError],
        description="NOT_FOUND (an id that is not one of the viewer's notifications: nothing is marked), INVALID",
    )


async def _mark_read(
    info: Info[Any, Any], input: Annotated[MarkNotificationsReadInput, INPUT]
) -> MarkNotificationsReadPayload:
    outcome = await r.mark_notifications_read(info.context, list(input.ids))
    return MarkNotificationsReadPayload(
        unread_count=outcome.unread_count,
        user_errors=outcome.user_errors,
    )


@strawberry.type
class NotificationsMutation:
    mark_notifications_read: MarkNotificationsReadPayload = strawberry.mutation(
        resolver=_mark_read,
        permission_classes=[SignedIn],
        description=described(
            "Mark some of the viewer's notifications read",
            rules.NOTIFICATION_ACCESS,
        ),
    )


async def _notifications(info: Info[Any, Any]) -> AsyncGenerator[NotificationRow, None]:
    async for row in r.notifications(info.context):
        yield row


@strawberry.type
class NotificationsSubscription:
    notifications: AsyncGenerator[NotificationRow, None] = strawberry.subscription(
        resolver=_notifications,
        graphql_type=AsyncGenerator[Notification, None],
        permission_classes=[SignedIn],
        description=described(
            "Each new notification of the viewer, from whichever server instance raised it. "
            "Ends with EVENTS_INTERRUPTED when some may have been missed: refetch the inbox and subscribe again.",
            rules.NOTIFICATION_ACCESS,
        ),
    )


ALL_TYPES: list[Any] = [Notification]
