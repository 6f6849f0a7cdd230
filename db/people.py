"""Finding people (查找居民): search by name or phone within the viewer's reach, as SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from db.areas import PERSON_COLUMNS, PersonRow, person_row
from db.pool import Conn

# Whom a viewer may look up, as SQL over `p` (person), `h` (their household, if any) and `b`
# (its building): COUNTY_ADMIN anyone of the county ($2), staff the people living inside their
# scopes ($3), a building head the people of their building (by grant, $4, or as its current
# responsible person, $5). The reason is the first rule that admits the person; NULL: not reachable.
# $1 county.
SEARCH_REASON: Final = """
CASE
    WHEN p.county_id <> $1 THEN NULL
    WHEN $2::boolean THEN 'COUNTY_ADMIN'
    WHEN b.path && $3::bigint[] THEN 'STAFF'
    WHEN h.building_id = ANY($4::bigint[])
      OR EXISTS (SELECT 1 FROM responsibilities r
                 WHERE r.area_id = h.building_id AND r.person_id = $5::bigint AND r.until IS NULL) THEN 'BUILDING_HEAD'
END
"""

# $6 name pattern (ILIKE, or null), $7 last digits of the phone (or null), $8 tag (or null)
_FROM_WHERE: Final = f"""
FROM persons p
LEFT JOIN households h ON h.id = p.household_id
LEFT JOIN areas b ON b.id = h.building_id
WHERE p.county_id = $1 AND ({SEARCH_REASON}) IS NOT NULL
  AND ($6::text IS NULL OR p.name ILIKE $6)
  AND ($7::text IS NULL OR regexp_replace(coalesce(p.phone, ''), '[^0-9]', '', 'g') LIKE '%' || $7)
  AND ($8::text IS NULL OR $8 = ANY(p.tags))
"""
PEOPLE_PAGE: Final = f"""
SELECT {PERSON_COLUMNS}, ({SEARCH_REASON}) AS reason
{_FROM_WHERE} AND p.id > $9
ORDER BY p.id LIMIT $10
"""
PEOPLE_COUNT: Final = f"SELECT count(*) {_FROM_WHERE}"


@dataclass(frozen=True)
class PeopleQuery:
    """The viewer's reach (SEARCH_REASON's parameters) and the filters."""

    county_id: int
    county_admin: bool
    staff_areas: list[int]
    head_buildings: list[int]
    person_id: int | None
    name_pattern: str | None
    phone_digits: str | None
    tag: str | None

    def params(self) -> tuple[Any, ...]:
        return (
            self.county_id,
            self.county_admin,
            self.staff_areas,
            self.head_buildings,
            self.person_id,
            self.name_pattern,
            self.phone_digits,
            self.tag,
        )


@dataclass(frozen=True)
class Found:
    person: PersonRow
    reason: str


async def people_page(conn: Conn, query: PeopleQuery, after: int, limit: int) -> list[Found]:
    return [Found(person_row(r), r["reason"]) for r in await conn.fetch(PEOPLE_PAGE, *query.params(), after, limit)]


async def people_count(conn: Conn, query: PeopleQuery) -> int:
    return int(await conn.fetchval(PEOPLE_COUNT, *query.params()))
