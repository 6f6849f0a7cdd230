"""Attachments: rows naming content-addressed bytes, by subject."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from db.access import ViewerKey
from db.pool import Conn

SUBJECT_TYPES: Final = ("ServiceOrder", "Finding", "Visit")


@dataclass(frozen=True)
class AttachmentRow:
    id: int
    county_id: int
    subject_type: str
    subject_id: int
    sha256: str
    content_type: str
    byte_size: int
    thumbnail_sha256: str | None
    caption: str | None
    file_name: str | None
    created_at: datetime.datetime
    created_by: int | None


COLUMNS: Final = (
    "a.id, a.county_id, a.subject_type, a.subject_id, a.sha256, a.content_type, a.byte_size, a.thumbnail_sha256, "
    "a.caption, a.file_name, a.created_at, a.created_by"
)
# Who attaches to a subject is the rule `may_attach` (0027_accounts_and_attachments.sql) of
# the subject ($1 type, $2 id) and the viewer `viewer_of($3 user, $4 API token)`; the insert
# runs it again, so that the attachment is added only while the rule holds.
MAY_ATTACH: Final = "SELECT may_attach($1, $2, viewer_of($3, $4))"
_INSERT_INTO: Final = """
INSERT INTO attachments AS a (county_id, subject_type, subject_id, sha256, content_type, byte_size, thumbnail_sha256,
                              caption, file_name, created_by)
"""
# $2-$9: the `NewAttachment`'s values; $1 user, $10 API token: the viewer
ATTACH: Final = f"""{_INSERT_INTO}
SELECT v.county_id, $2, $3, $4, $5, $6, $7, $8, $9, v.user_id FROM viewer_of($1, $10) v
WHERE may_attach($2, $3, v)
RETURNING {COLUMNS}
"""  # noqa: S608 - constant columns
# the demo's attachments (no viewer): $1 county, $2-$9 the `NewAttachment`'s values, $10 author
INSERT: Final = f"""{_INSERT_INTO}
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING {COLUMNS}
"""
BY_ID: Final = f"SELECT {COLUMNS} FROM attachments a WHERE a.id = ANY($1::bigint[])"  # noqa: S608 - constant columns
# $1: subject types, $2: subject ids (pairwise)
BY_SUBJECT: Final = f"""
SELECT {COLUMNS} FROM attachments a
JOIN unnest($1::text[], $2::bigint[]) AS s (subject_type, subject_id)
  ON a.subject_type = s.subject_type AND a.subject_id = s.subject_id
ORDER BY a.id
"""  # noqa: S608 - constant columns
REFERENCED: Final = "SELECT EXISTS (SELECT 1 FROM attachments WHERE sha256 = $1 OR thumbnail_sha256 = $1)"


def _row(r: object) -> AttachmentRow:
    return AttachmentRow(**dict(r))  # type: ignore[call-overload]


async def may_attach(conn: Conn, subject_type: str, subject_id: int, viewer: ViewerKey) -> bool:
    return bool(await conn.fetchval(MAY_ATTACH, subject_type, subject_id, *viewer))


@dataclass(frozen=True)
class NewAttachment:
    """What an attachment to be added holds (its bytes are already stored under `sha256`)."""

    subject_type: str
    subject_id: int
    sha256: str
    content_type: str
    byte_size: int
    thumbnail_sha256: str | None
    caption: str | None
    file_name: str | None

    def values(self) -> tuple[object, ...]:
        """In the order of the statements' $2-$9."""
        return (
            self.subject_type,
            self.subject_id,
            self.sha256,
            self.content_type,
            self.byte_size,
            self.thumbnail_sha256,
            self.caption,
            self.file_name,
        )


async def attach(conn: Conn, viewer: ViewerKey, new: NewAttachment) -> AttachmentRow | None:
    """The attachment, added by the viewer if `may_attach` lets them (None otherwise)."""
    r = await conn.fetchrow(ATTACH, viewer[0], *new.values(), viewer[1])
    return None if r is None else _row(r)


async def insert(conn: Conn, county_id: int, new: NewAttachment, created_by: int | None) -> AttachmentRow:
    r = await conn.fetchrow(INSERT, county_id, *new.values(), created_by)
    assert r is not None
    return _row(r)


async def by_id(conn: Conn, ids: Sequence[int]) -> dict[int, AttachmentRow]:
    return {r["id"]: _row(r) for r in await conn.fetch(BY_ID, list(ids))}


async def by_subject(conn: Conn, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], list[AttachmentRow]]:
    found: dict[tuple[str, int], list[AttachmentRow]] = {}
    rows = await conn.fetch(BY_SUBJECT, [k[0] for k in keys], [k[1] for k in keys])
    for r in rows:
        found.setdefault((r["subject_type"], r["subject_id"]), []).append(_row(r))
    return found


async def referenced(conn: Conn, sha256: str) -> bool:
    return bool(await conn.fetchval(REFERENCED, sha256))
