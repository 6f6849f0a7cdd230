"""Attachments (照片和文件): photos and documents on service orders, findings and visits."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from db.attachments import AttachmentRow
from resolvers import attachments as r
from resolvers import rules
from resolvers.compiled import declarations as compiled
from resolvers.permissions import SignedIn, described
from schema.base import INPUT, Node, UserError, UserErrorRows, is_row


def _url(root: AttachmentRow, info: Info[Any, Any]) -> str:
    url = r.url_of(root, info.context)
    assert url is not None
    return url


def _thumbnail_url(root: AttachmentRow, info: Info[Any, Any]) -> str | None:
    return r.url_of(root, info.context, thumbnail=True)


@strawberry.type(
    description="A photo or document on a service order, finding or visit. Visible to whoever may see its subject"
)
class Attachment(Node):
    is_type_of = is_row(AttachmentRow)
    url: str = strawberry.field(
        resolver=_url,
        description="Where the API serves the bytes (GET with the bearer token; 404 to anyone who may not see "
        "the subject)",
    )
    thumbnail_url: str | None = strawberry.field(
        resolver=_thumbnail_url, description="A JPEG of at most 320x320 pixels, for photos; null for documents"
    )
    content_type: str = strawberry.field(
        description="image/jpeg, image/png, image/webp or application/pdf, told by the content"
    )
    byte_size: int = strawberry.field(description="Size of the stored bytes (photos lose their location data)")
    caption: str | None = strawberry.field(description="What it shows")
    created_at: datetime.datetime = strawberry.field(description="When it was added")


async def attachments_field(root: Any, info: Info[Any, Any]) -> list[AttachmentRow]:
    """`attachments` of a ServiceOrder, Finding or Visit (the type's name is the subject type), as
    `attachments: list[AttachmentRow] = strawberry.field(resolver=attachments_field,
    graphql_type=list[Attachment], ...)`."""
    subject_type = info._raw_info.parent_type.name
    return await r.attachments_of(info.context, subject_type, root.id)


@strawberry.input(description="A file for a service order, finding or visit (GraphQL multipart request)")
class AddAttachmentInput:
    subject_id: strawberry.ID = strawberry.field(description="The ServiceOrder, Finding or Visit")
    file: Upload = strawberry.field(
        description="JPEG, PNG, WebP or PDF (told by content), at most GONGJIAN_MAX_UPLOAD_BYTES (10 MB)"
    )
    caption: str | None = strawberry.field(default=None, description="What it shows (at most 500 characters)")


@strawberry.type(description="The new attachment")
class AddAttachmentPayload:
    attachment: AttachmentRow | None = strawberry.field(graphql_type=Attachment | None, description="The attachment")
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError],
        description="NOT_FOUND (subjectId), FORBIDDEN, INVALID (file: type, size, unreadable; caption)",
    )


async def _add_attachment(info: Info[Any, Any], input: Annotated[AddAttachmentInput, INPUT]) -> AddAttachmentPayload:
    outcome = await r.add_attachment(info.context, input.subject_id, input.file, input.caption)
    return AddAttachmentPayload(
        attachment=outcome.attachment,
        user_errors=outcome.user_errors,
    )


@strawberry.type
class AttachmentsMutation:
    add_attachment: AddAttachmentPayload = strawberry.mutation(
        resolver=_add_attachment,
        permission_classes=[SignedIn],
        description=described(
            "Attach a photo or document; location data is removed from photos",
            rules.ATTACHMENT_SUBJECT,
        ),
    )


ALL_TYPES: list[Any] = [Attachment]


# the compiled read path (resolvers/compiled): an attachment is read through its subject only
# (whoever sees the subject sees its attachments, oldest first: r.attachments_of); node(id) of
# one, which asks whether its subject is visible, runs on the ordinary path
_URL = "rtrim({base_url}, '/') || '/attachments/' || " + compiled.base64url("'Attachment:' || {row}.id")
compiled.declare(
    "Attachment",
    compiled.Source(
        "attachments",
        "false",
        {
            "id": compiled.GlobalId(),
            "url": compiled.Column(_URL),  # r.url_of
            "thumbnailUrl": compiled.Column(
                "CASE WHEN {row}.thumbnail_sha256 IS NOT NULL THEN " + _URL + " || '?size=thumbnail' END"
            ),
            "contentType": compiled.Column("{row}.content_type"),
            "byteSize": compiled.Column("{row}.byte_size"),
            "caption": compiled.Column("{row}.caption"),
            "createdAt": compiled.Column(compiled.date_time("{row}.created_at")),
        },
        node=False,
    ),
)


def of_subject(subject_type: str) -> compiled.Relation:
    """The attachments of a subject (`subject_type` a constant: ServiceOrder, Finding, Visit)."""
    return compiled.Relation(
        "Attachment", "list", "{row}.subject_type = '" + subject_type + "' AND {row}.subject_id = {parent}.id"
    )
