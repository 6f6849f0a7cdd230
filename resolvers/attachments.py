"""Attachments (照片和文件) on service orders, findings and visits: who may add and see
them. What is accepted, the photos' location data, thumbnails and where the bytes are
stored are the server's (`gongjian/uploads.py`).

Who may attach: whoever takes part in the subject, the SQL rule `may_attach`
(0027_accounts_and_attachments.sql): for an order its parties, for a finding staff in scope,
for a visit its cadre. Who may see them (the list and the bytes at `url`): whoever `node` shows the
subject to."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final

from db import attachments as db
from db.attachments import AttachmentRow
from db.pool import Conn
from db.storage import Storage, content_key
from gongjian.uploads import prepare, storage_for
from resolvers import ids, nodes
from resolvers.access import viewer_key
from resolvers.context import Context, base_url
from resolvers.errors import ErrorCode, Refusal, UserError
from resolvers.loading import grouped, keyed
from resolvers.mutations import Audited, run

MAX_CAPTION: Final = 500
NO_SUBJECT: Final = "No such order, finding or visit"
REFUSED: Final = "You may not add attachments to this"


# --- loaders and fields -----------------------------------------------------------------------


attachment_by_id = keyed(db.by_id)
attachments_by_subject = grouped(db.by_subject)


async def visible_subject(ctx: Context, subject_type: str, subject_id: int) -> Any:
    """The subject as `node` shows it to the viewer (None: not visible)."""
    return (await nodes.resolve_nodes(ctx, [ids.encode(subject_type, subject_id)]))[0]


async def _attachment_nodes(ctx: Context, keys: list[int]) -> list[AttachmentRow | None]:
    rows = await ctx.loader(attachment_by_id).load_many(keys)
    seen = await nodes.resolve_nodes(
        ctx, [ids.encode(r.subject_type, r.subject_id) if r else ids.encode("Nothing", 0) for r in rows]
    )
    return [r if r is not None and s is not None else None for r, s in zip(rows, seen, strict=True)]


nodes.register("Attachment", _attachment_nodes)


async def attachments_of(ctx: Context, subject_type: str, subject_id: int) -> list[AttachmentRow]:
    """A subject's attachments, oldest first (the subject is already visible: it was reached)."""
    return await ctx.loader(attachments_by_subject).load((subject_type, subject_id))


def url_of(root: AttachmentRow, ctx: Context, *, thumbnail: bool = False) -> str | None:
    if thumbnail and root.thumbnail_sha256 is None:
        return None
    base = base_url(ctx.request) if ctx.request is not None else "/"
    path = f"{base.rstrip('/')}/attachments/{ids.encode('Attachment', root.id)}"
    return path + "?size=thumbnail" if thumbnail else path


# --- adding one -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentPayload:
    attachment: AttachmentRow | None
    user_errors: list[UserError] = field(default_factory=list)


async def _read(upload: Any, max_bytes: int) -> bytes:
    data = await upload.read(max_bytes + 1)
    return bytes(data)


async def add_attachment(ctx: Context, subject_id: str, upload: Any, caption: str | None) -> AttachmentPayload:
    viewer = ctx.signed_in
    max_bytes = ctx.settings.max_upload_bytes
    decoded = ids.decode(subject_id)
    if decoded is None or decoded[0] not in db.SUBJECT_TYPES:
        return AttachmentPayload(None, [UserError(NO_SUBJECT, ErrorCode.NOT_FOUND, ["subjectId"])])
    subject_type, pk = decoded
    async with ctx.db.connection() as conn:
        allowed = await db.may_attach(conn, subject_type, pk, viewer_key(viewer))
    if not allowed:  # whoever may attach sees the subject: the others learn whether they see it
        if await visible_subject(ctx, subject_type, pk) is None:
            return AttachmentPayload(None, [UserError(NO_SUBJECT, ErrorCode.NOT_FOUND, ["subjectId"])])
        return AttachmentPayload(None, [UserError(REFUSED, ErrorCode.FORBIDDEN, ["subjectId"])])
    clean_caption = caption.strip() if caption and caption.strip() else None
    if clean_caption is not None and len(clean_caption) > MAX_CAPTION:
        return AttachmentPayload(
            None, [UserError(f"`caption` may hold at most {MAX_CAPTION} characters", ErrorCode.INVALID, ["caption"])]
        )
    try:
        prepared = await asyncio.to_thread(prepare, await _read(upload, max_bytes), max_bytes)
    except Refusal as refusal:
        return AttachmentPayload(None, refusal.errors)
    storage = storage_for(ctx.settings)
    key = content_key(prepared.content)
    thumb_key = content_key(prepared.thumbnail) if prepared.thumbnail is not None else None
    created = [key] if await storage.put(key, prepared.content, prepared.content_type) else []
    if (
        prepared.thumbnail is not None
        and thumb_key is not None
        and await storage.put(thumb_key, prepared.thumbnail, "image/jpeg")
    ):
        created.append(thumb_key)
    name = getattr(upload, "filename", None)

    async def body(conn: Conn) -> tuple[AttachmentRow, Audited]:
        new = db.NewAttachment(
            subject_type=subject_type,
            subject_id=pk,
            sha256=key,
            content_type=prepared.content_type,
            byte_size=len(prepared.content),
            thumbnail_sha256=thumb_key,
            caption=clean_caption,
            file_name=name[:200] if isinstance(name, str) and name else None,
        )
        row = await db.attach(conn, viewer_key(viewer), new)
        if row is None:  # the rule no longer holds
            raise Refusal(ErrorCode.FORBIDDEN, REFUSED, ["subjectId"])
        return row, Audited(subject_type, pk, {"attachment": row.id, "sha256": key})

    try:
        outcome = await run(ctx, "addAttachment", body)
    except BaseException:
        await _forget(ctx, storage, created)
        raise
    if outcome.value is None:
        await _forget(ctx, storage, created)
    return AttachmentPayload(outcome.value, outcome.user_errors)


async def _forget(ctx: Context, storage: Storage, keys: list[str]) -> None:
    """Remove the bytes a failed upload stored, unless an attachment names them by now."""
    for key in keys:
        async with ctx.db.connection() as conn:
            if await db.referenced(conn, key):
                continue
        await storage.delete(key)


# --- serving the bytes ------------------------------------------------------------------------


async def content_for(ctx: Context, attachment_id: str, *, thumbnail: bool) -> tuple[bytes, str] | None:
    """The bytes and content type at an attachment's `url`, for a viewer who may see its
    subject; None otherwise (the caller answers 404 alike for unknown and not visible)."""
    pk = ids.decode_as(attachment_id, "Attachment")
    if pk is None or ctx.viewer is None:
        return None
    row = (await _attachment_nodes(ctx, [pk]))[0]
    if row is None:
        return None
    key = row.thumbnail_sha256 if thumbnail else row.sha256
    if key is None:
        return None
    data = await storage_for(ctx.settings).get(key)
    if data is None:
        return None
    return data, "image/jpeg" if thumbnail else row.content_type
