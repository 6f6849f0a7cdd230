"""Finding people (查找居民): who may search, what a search matches, and its audit.

`people(filter: {search, tag})`: COUNTY_ADMIN in the county, staff within their scope, a
building head within their building; everyone else (partner API tokens included) gets an
empty list. `search` matches a name substring, or with 4 or more digits the end of a phone
number; `tag` narrows to people carrying it. The reach is the SQL rule `findable_people`
(0026_read_rules.sql), run with the viewer in the search's statement (`db/people.py`);
each page writes one `read.personalData` audit row per household read by staff or a
building head, as every other personal-data read does (`resolvers/access.py`).
"""

from __future__ import annotations

import re

from db import people as db
from db.areas import PersonRow, like_pattern
from resolvers import access
from resolvers.context import Context
from resolvers.errors import bad_user_input
from resolvers.pagination import Page, checked_first, decode_id_cursor, page_from_rows

MAX_SEARCH = 100
PHONE = re.compile(r"^[0-9]{4,}$")


def filters(search: str, tag: str | None) -> tuple[str | None, str | None, str | None]:
    """(name pattern, phone digits, tag) of a search."""
    text = search.strip()
    if len(text) > MAX_SEARCH or "\x00" in text or (tag is not None and ("\x00" in tag or len(tag) > MAX_SEARCH)):
        raise bad_user_input(f"`search` and `tag` hold at most {MAX_SEARCH} characters", argument="filter")
    compact = re.sub(r"[\s+-]", "", text)
    if PHONE.match(compact):
        return None, compact, tag or None
    return (like_pattern(text) if text else None), None, tag or None


async def search_people(
    ctx: Context, search: str, tag: str | None, first: int | None, after: str | None
) -> Page[PersonRow]:
    viewer = ctx.signed_in
    limit = checked_first(first)
    after_id = decode_id_cursor(after) or 0
    pattern, digits, wanted = filters(search, tag)
    query = db.PeopleQuery(
        viewer=access.viewer_key(viewer),
        name_pattern=pattern,
        phone_digits=digits,
        tag=wanted,
    )
    async with ctx.db.connection() as conn:
        found = await db.people_page(conn, query, after_id, limit + 1)
        reads = {
            f.person.household_id: f.reason
            for f in found[:limit]
            if f.person.household_id is not None and f.reason in access.AUDITED
        }
        await access.audit_household_reads(ctx, conn, "people", reads)

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.people_count(conn, query)

    return page_from_rows([f.person for f in found], limit, lambda r: [r.id], count)
