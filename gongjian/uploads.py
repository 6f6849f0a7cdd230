"""Uploaded files: what is accepted (told by content, never by name), location data
removed from photos, thumbnails, and where the bytes are stored (the local folder or S3,
content-addressed). Who may attach what to which subject is `resolvers.attachments`."""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass
from typing import Any, Final

from PIL import Image, ImageOps, UnidentifiedImageError

from db.storage import LocalStorage, S3Storage, Storage
from gongjian.config import Settings
from resolvers.errors import ErrorCode, Refusal

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
