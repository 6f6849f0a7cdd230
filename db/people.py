"""Finding people (查找居民): search by name or phone within the viewer's reach, as SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from db.access import ViewerKey
from db.areas import PERSON_COLUMNS, PersonRow, person_row
from db.pool import Conn

# Whom a viewer may look up is the SQL rule `findable_people` (0026_read_rules.sql) of the
# viewer `v` (`viewer_of($1 user, $2 API token)`): COUNTY_ADMIN anyone of the county, whoever
# serves a building by office (staff in scope, the building's head, its current responsible
# person) the people living in it. Its reason goes to the audit log.
# $3 name pattern (ILIKE, or null), $4 last digits of the phone (or null), $5 tag (or null)
_FROM_WHERE: Final = """
FROM viewer_of($1, $2) v
CROSS JOIN LATERAL findable_people(v) f
JOIN persons p ON p.id = f.person_id
WHERE ($3::text IS NULL OR p.name ILIKE $3)
  AND ($4::text IS NULL OR regexp_replace(coalesce(p.phone, ''), '[^0-9]', '', 'g') LIKE '%' || $4)
  AND ($5::text IS NULL OR $5 = ANY(p.tags))
"""
PEOPLE_PAGE: Final = f"""
SELECT {PERSON_COLUMNS}, f.reason
{_FROM_WHERE} AND p.id > $6
ORDER BY p.id LIMIT $7
"""
PEOPLE_COUNT: Final = f"SELECT count(*) {_FROM_WHERE}"


@dataclass(frozen=True)
class PeopleQuery:
    """The viewer (the arguments of `viewer_of`) and the filters."""

    viewer: ViewerKey
    name_pattern: str | None
    phone_digits: str | None
    tag: str | None

    def params(self) -> tuple[Any, ...]:
        return (*self.viewer, self.name_pattern, self.phone_digits, self.tag)


@dataclass(frozen=True)
class Found:
    person: PersonRow
    reason: str


async def people_page(conn: Conn, query: PeopleQuery, after: int, limit: int) -> list[Found]:
    return [Found(person_row(r), r["reason"]) for r in await conn.fetch(PEOPLE_PAGE, *query.params(), after, limit)]


async def people_count(conn: Conn, query: PeopleQuery) -> int:
    return int(await conn.fetchval(PEOPLE_COUNT, *query.params()))
