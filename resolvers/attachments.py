"""Attachments (照片和文件) on service orders, findings and visits: who may add and see
them, what is accepted (told by content, never by name), location data removed from
photos, thumbnails, and the bytes stored content-addressed.

Who may attach: whoever may see the subject and take part in it: for an order its parties
(the household, the assignee, staff in scope), for a finding staff in scope, for a visit
its cadre. Who may see them (the list and the bytes at `url`): whoever `node` shows the
subject to."""

from __future__ import annotations

import asyncio
import functools
import io
import warnings
from dataclasses import dataclass, field
from typing import Any, Final

from PIL import Image, ImageOps, UnidentifiedImageError

from db import attachments as db
from db.attachments import AttachmentRow
from db.orders import OrderRow
from db.pool import Conn
from db.storage import LocalStorage, S3Storage, Storage, content_key
from gongjian.config import Settings
from resolvers import ids, nodes
from resolvers.context import Context
from resolvers.errors import ErrorCode, Refusal, UserError
from resolvers.loading import grouped, keyed
from resolvers.mutations import Audited, run

MAX_CAPTION: Final = 500
MAX_PIXELS: Final = 50_000_000  # a bigger photo is refused before it is decoded (decompression bombs)
THUMBNAIL: Final = (320, 320)
GPS_IFD: Final = 0x8825  # the EXIF tag that points at the location data

PHOTOS: Final = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


@functools.cache
def storage_for(settings: Settings) -> Storage:
    if settings.storage == "s3":
        assert settings.s3_endpoint and settings.s3_bucket and settings.s3_access_key and settings.s3_secret_key
        return S3Storage(
            settings.s3_endpoint, settings.s3_bucket, settings.s3_region, settings.s3_access_key, settings.s3_secret_key
        )
    return LocalStorage(settings.data_dir)


def sniff(data: bytes) -> str | None:
    """The content type the bytes are, among those accepted (None: none of them)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


@dataclass(frozen=True)
class Prepared:
    content: bytes
    content_type: str
    thumbnail: bytes | None


def _invalid(message: str) -> Refusal:
    return Refusal(ErrorCode.INVALID, message, "file")


def prepare(data: bytes, max_bytes: int) -> Prepared:
    """What is stored for uploaded bytes: a photo re-encoded without its location data
    (EXIF GPS), with a JPEG thumbnail; a PDF as it is. Refused with INVALID on `file`."""
    if not data:
        raise _invalid("The file is empty")
    if len(data) > max_bytes:
        raise _invalid(f"The file is larger than {max_bytes} bytes")
    content_type = sniff(data)
    if content_type is None:
        raise _invalid("Only JPEG, PNG, WebP photos and PDF documents are accepted")
    if content_type == "application/pdf":
        return Prepared(data, content_type, None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise _invalid("The photo has too many pixels")
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning):
        raise _invalid("The photo cannot be read") from None
    exif = image.getexif()
    exif.pop(GPS_IFD, None)
    out = io.BytesIO()
    options: dict[str, Any] = {"exif": exif.tobytes()}
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    fmt = PHOTOS[content_type]
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = 92
    photo = image if fmt != "JPEG" or image.mode in ("RGB", "L", "CMYK") else image.convert("RGB")
    photo.save(out, fmt, **options)
    thumb = ImageOps.exif_transpose(image)
    thumb.thumbnail(THUMBNAIL)
    small = io.BytesIO()
    thumb.convert("RGB").save(small, "JPEG", quality=80)
    return Prepared(out.getvalue(), content_type, small.getvalue())


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
    base = str(ctx.request.base_url) if ctx.request is not None else "/"
    path = f"{base.rstrip('/')}/attachments/{ids.encode('Attachment', root.id)}"
    return path + "?size=thumbnail" if thumbnail else path


# --- adding one -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentPayload:
    attachment: AttachmentRow | None
    user_errors: list[UserError] = field(default_factory=list)


async def _may_take_part(ctx: Context, subject_type: str, subject: Any) -> bool:
    viewer = ctx.signed_in
    if subject_type == "ServiceOrder":
        from resolvers.orders import parties

        order: OrderRow = subject
        return bool(await parties(ctx, viewer, order))
    if subject_type == "Finding":
        return viewer.county_id == subject.county_id and viewer.is_staff_for(subject.compound_path)
    from resolvers.pairings import pairing_by_id

    pairing = await ctx.loader(pairing_by_id).load(subject.pairing_id)
    return pairing is not None and viewer.person_id is not None and pairing.cadre_id == viewer.person_id


async def _read(upload: Any, max_bytes: int) -> bytes:
    data = await upload.read(max_bytes + 1)
    return bytes(data)


async def add_attachment(ctx: Context, subject_id: str, upload: Any, caption: str | None) -> AttachmentPayload:
    viewer = ctx.signed_in
    max_bytes = ctx.settings.max_upload_bytes
    decoded = ids.decode(subject_id)
    subject = None
    if decoded is not None and decoded[0] in db.SUBJECT_TYPES and viewer.api_token_id is None:
        subject = await visible_subject(ctx, *decoded)
    if decoded is None or subject is None:
        return AttachmentPayload(
            None, [UserError("No such order, finding or visit", ErrorCode.NOT_FOUND, ["subjectId"])]
        )
    subject_type, pk = decoded
    if not await _may_take_part(ctx, subject_type, subject):
        return AttachmentPayload(
            None, [UserError("You may not add attachments to this", ErrorCode.FORBIDDEN, ["subjectId"])]
        )
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
        row = await db.insert(
            conn,
            county_id=viewer.county_id,
            subject_type=subject_type,
            subject_id=pk,
            sha256=key,
            content_type=prepared.content_type,
            byte_size=len(prepared.content),
            thumbnail_sha256=thumb_key,
            caption=clean_caption,
            file_name=name[:200] if isinstance(name, str) and name else None,
            created_by=viewer.user_id,
        )
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
