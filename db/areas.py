"""Areas, organisations, households and people: rows and the batch loads by id."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Final

import asyncpg

from db.access import ViewerKey
from db.pool import Conn


@dataclass(frozen=True)
class AreaRow:
    id: int
    county_id: int
    parent_id: int | None
    level: str
    name: str
    code: str | None
    path: list[int]
    compound_kind: str | None
    address: str | None
    management_plan: str | None
    property_manager_id: int | None


@dataclass(frozen=True)
class OrganisationRow:
    id: int
    county_id: int
    parent_id: int | None
    kind: str
    name: str
    code: str | None
    area_id: int | None


@dataclass(frozen=True)
class HouseholdRow:
    id: int
    county_id: int
    area_id: int
    building_id: int
    label: str
    code: str | None
    # the building's path: county down to the building (scope checks need no extra query)
    path: list[int]


@dataclass(frozen=True)
class PersonRow:
    """A person. `phone`, `id_number` and `tags` are personal data: the schema masks them."""

    id: int
    county_id: int
    name: str
    phone: str | None
    id_number: str | None
    gender: str | None
    birth_year: int | None
    household_id: int | None
    party_member: bool
    tags: list[str]
    code: str | None


AREA_COLUMNS: Final = (
    "a.id, a.county_id, a.parent_id, a.level, a.name, a.code, a.path, a.compound_kind, a.address, "
    "a.management_plan, a.property_manager_id"
)
AREAS_BY_ID: Final = f"SELECT {AREA_COLUMNS} FROM areas a WHERE a.id = ANY($1::bigint[])"  # noqa: S608 - constant columns
ORGANISATION_COLUMNS: Final = "o.id, o.county_id, o.parent_id, o.kind, o.name, o.code, o.area_id"
ORGANISATIONS_BY_ID: Final = f"SELECT {ORGANISATION_COLUMNS} FROM organisations o WHERE o.id = ANY($1::bigint[])"  # noqa: S608 - constant columns
# a household's path is its building's
HOUSEHOLD_COLUMNS: Final = "h.id, h.county_id, h.area_id, h.building_id, h.label, h.code, b.path"
HOUSEHOLDS_BY_ID: Final = f"""
SELECT {HOUSEHOLD_COLUMNS} FROM households h JOIN areas b ON b.id = h.building_id WHERE h.id = ANY($1::bigint[])
"""  # noqa: S608 - constant columns
PERSON_COLUMNS: Final = (
    "p.id, p.county_id, p.name, p.phone, p.id_number, p.gender, p.birth_year, p.household_id, p.party_member, "
    "p.tags, p.code"
)
PERSONS_BY_ID: Final = f"SELECT {PERSON_COLUMNS} FROM persons p WHERE p.id = ANY($1::bigint[])"  # noqa: S608 - constant columns
# An area a mutation acts on, with whether the viewer is its staff: the rule `staff_of_area`
# (0023_may_act.sql), the viewer being `viewer_of($2 user, $3 API token)`. The locked form
# serves a mutation that changes the area itself.
STAFFED_AREA: Final = f"""
SELECT {AREA_COLUMNS}, staff_of_area(a.path, v) AS staff FROM areas a, viewer_of($2, $3) v WHERE a.id = $1
"""  # noqa: S608 - constant columns
LOCK_STAFFED_AREA: Final = STAFFED_AREA + "FOR UPDATE OF a\n"
# The household an order is placed for, with whether the viewer may: the rule
# `orders_for_household` (0023_may_act.sql).
HOUSEHOLD_TO_ORDER_FOR: Final = f"""
SELECT {HOUSEHOLD_COLUMNS}, orders_for_household(h, v) AS orders
FROM households h JOIN areas b ON b.id = h.building_id, viewer_of($2, $3) v WHERE h.id = $1
"""  # noqa: S608 - constant columns
# An organisation, with whether the viewer administers it: the rule `administers_organisation`
# (0023_may_act.sql).
ADMINISTERED_ORGANISATION: Final = f"""
SELECT {ORGANISATION_COLUMNS}, administers_organisation(o.id, v) AS administers
FROM organisations o, viewer_of($2, $3) v WHERE o.id = $1
"""  # noqa: S608 - constant columns
STAFFED_HOUSEHOLD: Final = f"""
SELECT {HOUSEHOLD_COLUMNS}, staff_of_area(b.path, v) AS staff
FROM households h JOIN areas b ON b.id = h.building_id, viewer_of($2, $3) v WHERE h.id = $1
"""  # noqa: S608 - constant columns


def area_row(r: asyncpg.Record) -> AreaRow:
    return AreaRow(**{k: r[k] for k in AreaRow.__dataclass_fields__})


def organisation_row(r: asyncpg.Record) -> OrganisationRow:
    return OrganisationRow(**{k: r[k] for k in OrganisationRow.__dataclass_fields__})


def household_row(r: asyncpg.Record) -> HouseholdRow:
    return HouseholdRow(**{k: r[k] for k in HouseholdRow.__dataclass_fields__})


def person_row(r: asyncpg.Record) -> PersonRow:
    return PersonRow(**{k: r[k] for k in PersonRow.__dataclass_fields__})


async def areas_by_id(conn: Conn, ids: list[int]) -> dict[int, AreaRow]:
    return {r["id"]: area_row(r) for r in await conn.fetch(AREAS_BY_ID, ids)}


async def organisations_by_id(conn: Conn, ids: list[int]) -> dict[int, OrganisationRow]:
    return {r["id"]: organisation_row(r) for r in await conn.fetch(ORGANISATIONS_BY_ID, ids)}


async def staffed_area(conn: Conn, area_id: int, viewer: ViewerKey) -> tuple[AreaRow, bool] | None:
    """The area, with whether the viewer is its staff (`staff_of_area`)."""
    r = await conn.fetchrow(STAFFED_AREA, area_id, *viewer)
    return (area_row(r), r["staff"]) if r else None


async def administered_organisation(
    conn: Conn, organisation_id: int, viewer: ViewerKey
) -> tuple[OrganisationRow, bool] | None:
    """The organisation, with whether the viewer administers it (`administers_organisation`)."""
    r = await conn.fetchrow(ADMINISTERED_ORGANISATION, organisation_id, *viewer)
    return (organisation_row(r), r["administers"]) if r else None


async def household_to_order_for(conn: Conn, household_id: int, viewer: ViewerKey) -> tuple[HouseholdRow, bool] | None:
    """The household, with whether the viewer may order for it (`orders_for_household`)."""
    r = await conn.fetchrow(HOUSEHOLD_TO_ORDER_FOR, household_id, *viewer)
    return (household_row(r), r["orders"]) if r else None


async def staffed_household(conn: Conn, household_id: int, viewer: ViewerKey) -> tuple[HouseholdRow, bool] | None:
    """The household, with whether the viewer is staff of its building (`staff_of_area`)."""
    r = await conn.fetchrow(STAFFED_HOUSEHOLD, household_id, *viewer)
    return (household_row(r), r["staff"]) if r else None


async def households_by_id(conn: Conn, ids: list[int]) -> dict[int, HouseholdRow]:
    return {r["id"]: household_row(r) for r in await conn.fetch(HOUSEHOLDS_BY_ID, ids)}


async def persons_by_id(conn: Conn, ids: list[int]) -> dict[int, PersonRow]:
    return {r["id"]: person_row(r) for r in await conn.fetch(PERSONS_BY_ID, ids)}


# --- visibility: the rules of 0022_place_rules.sql -----------------------------------------------

# `area_access`, `organisation_access`, `household_visible`, `person_visible`, `post_access` and
# `adoption_access` over the row and the viewer `v`; the statements below that take a viewer
# take it as two parameters, user and API token (`viewer_of`). Personal data is masked apart,
# by `household_access` and `person_access` (db/access.py).
VISIBLE_AREAS_BY_ID: Final = f"""
SELECT {AREA_COLUMNS} FROM areas a, viewer_of($2, $3) v WHERE a.id = ANY($1::bigint[]) AND area_access(a, v)
"""  # noqa: S608 - constant columns
VISIBLE_ORGANISATIONS_BY_ID: Final = f"""
SELECT {ORGANISATION_COLUMNS} FROM organisations o, viewer_of($2, $3) v
WHERE o.id = ANY($1::bigint[]) AND organisation_access(o, v)
"""  # noqa: S608 - constant columns
VISIBLE_HOUSEHOLDS_BY_ID: Final = f"""
SELECT {HOUSEHOLD_COLUMNS} FROM households h JOIN areas b ON b.id = h.building_id, viewer_of($2, $3) v
WHERE h.id = ANY($1::bigint[]) AND household_visible(h, v)
"""  # noqa: S608 - constant columns
VISIBLE_PERSONS_BY_ID: Final = f"""
SELECT {PERSON_COLUMNS} FROM persons p, viewer_of($2, $3) v WHERE p.id = ANY($1::bigint[]) AND person_visible(p, v)
"""  # noqa: S608 - constant columns


async def visible_areas_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, AreaRow]:
    """The areas of `ids` the viewer sees (the others are left out)."""
    return {r["id"]: area_row(r) for r in await conn.fetch(VISIBLE_AREAS_BY_ID, ids, *viewer)}


async def visible_organisations_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, OrganisationRow]:
    return {r["id"]: organisation_row(r) for r in await conn.fetch(VISIBLE_ORGANISATIONS_BY_ID, ids, *viewer)}


async def visible_households_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, HouseholdRow]:
    return {r["id"]: household_row(r) for r in await conn.fetch(VISIBLE_HOUSEHOLDS_BY_ID, ids, *viewer)}


async def visible_persons_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, PersonRow]:
    return {r["id"]: person_row(r) for r in await conn.fetch(VISIBLE_PERSONS_BY_ID, ids, *viewer)}


# --- posts, responsibilities -------------------------------------------------------------------


@dataclass(frozen=True)
class PostRow:
    """A person's post in an organisation (任职), with role and dates."""

    id: int
    county_id: int
    person_id: int
    organisation_id: int
    role: str
    since: datetime.date
    until: datetime.date | None


POST_COLUMNS: Final = "p.id, p.county_id, p.person_id, p.organisation_id, p.role, p.since, p.until"
POSTS_BY_ID: Final = f"SELECT {POST_COLUMNS} FROM posts p WHERE p.id = ANY($1::bigint[])"  # noqa: S608 - constant columns


def post_row(r: asyncpg.Record) -> PostRow:
    return PostRow(**{k: r[k] for k in PostRow.__dataclass_fields__})


async def posts_by_id(conn: Conn, ids: list[int]) -> dict[int, PostRow]:
    return {r["id"]: post_row(r) for r in await conn.fetch(POSTS_BY_ID, ids)}


VISIBLE_POSTS_BY_ID: Final = f"""
SELECT {POST_COLUMNS} FROM posts p, viewer_of($2, $3) v WHERE p.id = ANY($1::bigint[]) AND post_access(p, v)
"""  # noqa: S608 - constant columns


async def visible_posts_by_id(conn: Conn, viewer: ViewerKey, ids: list[int]) -> dict[int, PostRow]:
    return {r["id"]: post_row(r) for r in await conn.fetch(VISIBLE_POSTS_BY_ID, ids, *viewer)}


@dataclass(frozen=True)
class ResponsibilityRow:
    """Who was responsible for an area, from `since` until `until` (null: still)."""

    id: int
    area_id: int
    person_id: int
    since: datetime.datetime
    until: datetime.datetime | None


# Who was responsible when is for the staff of the area (the rule `staff_of_area`,
# 0023_may_act.sql; the viewer `viewer_of($2, $3)`): others get no rows.
RESPONSIBILITY_HISTORIES: Final = """
SELECT r.id, r.area_id, r.person_id, r.since, r.until
FROM responsibilities r JOIN areas a ON a.id = r.area_id, viewer_of($2, $3) v
WHERE r.area_id = ANY($1::bigint[]) AND staff_of_area(a.path, v)
ORDER BY r.area_id, r.since DESC, r.id DESC
"""


async def responsibility_histories(
    conn: Conn, area_ids: list[int], viewer: ViewerKey
) -> dict[int, list[ResponsibilityRow]]:
    """Each area's responsible people, newest first, for the areas the viewer is staff of."""
    found: dict[int, list[ResponsibilityRow]] = {}
    for r in await conn.fetch(RESPONSIBILITY_HISTORIES, area_ids, *viewer):
        found.setdefault(r["area_id"], []).append(ResponsibilityRow(**dict(r)))
    return found


RESPONSIBLE_BY_AREA: Final = """
SELECT r.area_id, r.person_id FROM responsibilities r WHERE r.area_id = ANY($1::bigint[]) AND r.until IS NULL
"""


async def responsible_by_area(conn: Conn, area_ids: list[int]) -> dict[int, int]:
    """The current responsible person of each area that has one."""
    return {r["area_id"]: r["person_id"] for r in await conn.fetch(RESPONSIBLE_BY_AREA, area_ids)}


# --- lists: what the viewer sees (the rules above), narrowed by filters, keyset-paged by id ----------

# $1 user, $2 API token (the viewer), $3 parent (or null), $4 level (or null), $5 ILIKE pattern (or null),
# $6 after id, $7 limit
_AREAS_WHERE: Final = """
FROM areas a, viewer_of($1, $2) v
WHERE area_access(a, v) AND ($3::bigint IS NULL OR a.parent_id = $3) AND ($4::text IS NULL OR a.level = $4)
  AND ($5::text IS NULL OR a.name ILIKE $5)"""
AREAS_PAGE: Final = f"SELECT {AREA_COLUMNS} {_AREAS_WHERE} AND a.id > $6 ORDER BY a.id LIMIT $7"
AREAS_COUNT: Final = f"SELECT count(*) {_AREAS_WHERE}"
# $1, $2 the viewer, $3 within (or null), $4 pattern, $5 after id, $6 limit
_COMPOUNDS_WHERE: Final = """
FROM areas a, viewer_of($1, $2) v
WHERE area_access(a, v) AND a.level = 'COMPOUND' AND ($3::bigint IS NULL OR a.path @> ARRAY[$3::bigint])
  AND ($4::text IS NULL OR a.name ILIKE $4)"""
COMPOUNDS_PAGE: Final = f"SELECT {AREA_COLUMNS} {_COMPOUNDS_WHERE} AND a.id > $5 ORDER BY a.id LIMIT $6"
COMPOUNDS_COUNT: Final = f"SELECT count(*) {_COMPOUNDS_WHERE}"
# $1, $2 the viewer, $3 kind (or null), $4 pattern, $5 after id, $6 limit
_ORGANISATIONS_WHERE: Final = """
FROM organisations o, viewer_of($1, $2) v
WHERE organisation_access(o, v) AND ($3::text IS NULL OR o.kind = $3) AND ($4::text IS NULL OR o.name ILIKE $4)"""
ORGANISATIONS_PAGE: Final = f"SELECT {ORGANISATION_COLUMNS} {_ORGANISATIONS_WHERE} AND o.id > $5 ORDER BY o.id LIMIT $6"
ORGANISATIONS_COUNT: Final = f"SELECT count(*) {_ORGANISATIONS_WHERE}"


def like_pattern(search: str) -> str:
    """A case-insensitive substring pattern: `%`, `_` and `\\` in the text match themselves."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def areas_page(
    conn: Conn, viewer: ViewerKey, parent: int | None, level: str | None, pattern: str | None, after: int, limit: int
) -> list[AreaRow]:
    return [area_row(r) for r in await conn.fetch(AREAS_PAGE, *viewer, parent, level, pattern, after, limit)]


async def areas_count(conn: Conn, viewer: ViewerKey, parent: int | None, level: str | None, pattern: str | None) -> int:
    return int(await conn.fetchval(AREAS_COUNT, *viewer, parent, level, pattern))


async def compounds_page(
    conn: Conn, viewer: ViewerKey, within: int | None, pattern: str | None, after: int, limit: int
) -> list[AreaRow]:
    return [area_row(r) for r in await conn.fetch(COMPOUNDS_PAGE, *viewer, within, pattern, after, limit)]


async def compounds_count(conn: Conn, viewer: ViewerKey, within: int | None, pattern: str | None) -> int:
    return int(await conn.fetchval(COMPOUNDS_COUNT, *viewer, within, pattern))


async def organisations_page(
    conn: Conn, viewer: ViewerKey, kind: str | None, pattern: str | None, after: int, limit: int
) -> list[OrganisationRow]:
    return [organisation_row(r) for r in await conn.fetch(ORGANISATIONS_PAGE, *viewer, kind, pattern, after, limit)]


async def organisations_count(conn: Conn, viewer: ViewerKey, kind: str | None, pattern: str | None) -> int:
    return int(await conn.fetchval(ORGANISATIONS_COUNT, *viewer, kind, pattern))


# --- relations, batched by parent ----------------------------------------------------------------

# The lists under an object hold what the viewer sees of them (the rules above): the viewer
# is the last two parameters of each statement.
# children of many parents at once: the first $3 rows after id $2 of each parent
CHILD_AREAS_PAGES: Final = f"""
SELECT * FROM (
  SELECT {AREA_COLUMNS}, row_number() OVER (PARTITION BY a.parent_id ORDER BY a.id) AS rn
  FROM areas a, viewer_of($5, $6) v
  WHERE a.parent_id = ANY($1::bigint[]) AND a.level = $4 AND a.id > $2 AND area_access(a, v)
) x WHERE x.rn <= $3 ORDER BY x.parent_id, x.id
"""  # noqa: S608 - constant columns
CHILD_AREAS_COUNT: Final = """
SELECT a.parent_id, count(*) FROM areas a, viewer_of($3, $4) v
WHERE a.parent_id = ANY($1::bigint[]) AND a.level = $2 AND area_access(a, v) GROUP BY a.parent_id
"""
HOUSEHOLDS_PAGES: Final = f"""
SELECT * FROM (
  SELECT {HOUSEHOLD_COLUMNS}, row_number() OVER (PARTITION BY h.building_id ORDER BY h.id) AS rn
  FROM households h JOIN areas b ON b.id = h.building_id, viewer_of($4, $5) v
  WHERE h.building_id = ANY($1::bigint[]) AND h.id > $2 AND household_visible(h, v)
) x WHERE x.rn <= $3 ORDER BY x.building_id, x.id
"""  # noqa: S608 - constant columns
# households inside each area (any level)
HOUSEHOLD_COUNTS: Final = """
SELECT k.id, (SELECT count(*) FROM households h JOIN areas b ON b.id = h.building_id
              WHERE b.path @> ARRAY[k.id] AND household_visible(h, v))
FROM unnest($1::bigint[]) AS k (id), viewer_of($2, $3) v
"""
RESIDENTS_BY_HOUSEHOLD: Final = f"""
SELECT {PERSON_COLUMNS} FROM persons p, viewer_of($2, $3) v
WHERE p.household_id = ANY($1::bigint[]) AND person_visible(p, v) ORDER BY p.household_id, p.id
"""  # noqa: S608 - constant columns
ORGANISATIONS_AT_AREAS: Final = f"""
SELECT {ORGANISATION_COLUMNS} FROM organisations o, viewer_of($2, $3) v
WHERE o.area_id = ANY($1::bigint[]) AND organisation_access(o, v) ORDER BY o.id
"""  # noqa: S608 - constant columns
CHILD_ORGANISATIONS: Final = f"""
SELECT {ORGANISATION_COLUMNS} FROM organisations o, viewer_of($2, $3) v
WHERE o.parent_id = ANY($1::bigint[]) AND organisation_access(o, v) ORDER BY o.id
"""  # noqa: S608 - constant columns
MEMBERS_PAGES: Final = f"""
SELECT * FROM (
  SELECT {POST_COLUMNS}, row_number() OVER (PARTITION BY p.organisation_id ORDER BY p.id) AS rn
  FROM posts p, viewer_of($4, $5) v
  WHERE p.organisation_id = ANY($1::bigint[]) AND post_active(p.until) AND p.id > $2 AND post_access(p, v)
) x WHERE x.rn <= $3 ORDER BY x.organisation_id, x.id
"""  # noqa: S608 - constant columns
MEMBER_COUNTS: Final = """
SELECT p.organisation_id, count(*) AS posts, count(DISTINCT p.person_id) AS people
FROM posts p, viewer_of($2, $3) v
WHERE p.organisation_id = ANY($1::bigint[]) AND post_active(p.until) AND post_access(p, v) GROUP BY p.organisation_id
"""


async def child_area_pages(
    conn: Conn, viewer: ViewerKey, parents: list[int], level: str, after: int, limit: int
) -> dict[int, list[AreaRow]]:
    found: dict[int, list[AreaRow]] = {}
    for r in await conn.fetch(CHILD_AREAS_PAGES, parents, after, limit, level, *viewer):
        found.setdefault(r["parent_id"], []).append(area_row(r))
    return found


async def child_area_counts(conn: Conn, viewer: ViewerKey, parents: list[int], level: str) -> dict[int, int]:
    return {r[0]: r[1] for r in await conn.fetch(CHILD_AREAS_COUNT, parents, level, *viewer)}


async def household_pages(
    conn: Conn, viewer: ViewerKey, buildings: list[int], after: int, limit: int
) -> dict[int, list[HouseholdRow]]:
    found: dict[int, list[HouseholdRow]] = {}
    for r in await conn.fetch(HOUSEHOLDS_PAGES, buildings, after, limit, *viewer):
        found.setdefault(r["building_id"], []).append(household_row(r))
    return found


async def household_counts(conn: Conn, viewer: ViewerKey, areas: list[int]) -> dict[int, int]:
    return {r[0]: r[1] for r in await conn.fetch(HOUSEHOLD_COUNTS, areas, *viewer)}


HOUSEHOLD_ADDRESSES: Final = """
SELECT h.id, household_address(h.area_id, h.label) AS address FROM households h WHERE h.id = ANY($1::bigint[])
"""


async def household_addresses(conn: Conn, households: list[int]) -> dict[int, str]:
    """Each household's full address (community, compound, building, unit, label)."""
    return {r["id"]: r["address"] for r in await conn.fetch(HOUSEHOLD_ADDRESSES, households)}


async def residents_by_household(conn: Conn, viewer: ViewerKey, households: list[int]) -> dict[int, list[PersonRow]]:
    found: dict[int, list[PersonRow]] = {}
    for r in await conn.fetch(RESIDENTS_BY_HOUSEHOLD, households, *viewer):
        found.setdefault(r["household_id"], []).append(person_row(r))
    return found


async def organisations_at_areas(conn: Conn, viewer: ViewerKey, areas: list[int]) -> dict[int, list[OrganisationRow]]:
    found: dict[int, list[OrganisationRow]] = {}
    for r in await conn.fetch(ORGANISATIONS_AT_AREAS, areas, *viewer):
        found.setdefault(r["area_id"], []).append(organisation_row(r))
    return found


async def child_organisations(conn: Conn, viewer: ViewerKey, parents: list[int]) -> dict[int, list[OrganisationRow]]:
    found: dict[int, list[OrganisationRow]] = {}
    for r in await conn.fetch(CHILD_ORGANISATIONS, parents, *viewer):
        found.setdefault(r["parent_id"], []).append(organisation_row(r))
    return found


async def member_pages(
    conn: Conn, viewer: ViewerKey, organisations: list[int], after: int, limit: int
) -> dict[int, list[PostRow]]:
    found: dict[int, list[PostRow]] = {}
    for r in await conn.fetch(MEMBERS_PAGES, organisations, after, limit, *viewer):
        found.setdefault(r["organisation_id"], []).append(post_row(r))
    return found


async def member_counts(conn: Conn, viewer: ViewerKey, organisations: list[int]) -> dict[int, tuple[int, int]]:
    """(active posts, distinct people) per organisation."""
    return {r[0]: (r[1], r[2]) for r in await conn.fetch(MEMBER_COUNTS, organisations, *viewer)}


# --- cross-appointments (交叉任职) -----------------------------------------------------------------

CROSS_APPOINTMENTS: Final = f"""
WITH owner AS (
  SELECT p.person_id, p.id FROM posts p JOIN organisations o ON o.id = p.organisation_id
  JOIN areas a ON a.id = o.area_id
  WHERE o.kind = 'OWNER_COMMITTEE' AND a.path @> ARRAY[$1::bigint] AND post_active(p.until)
), party AS (
  SELECT p.person_id, p.id FROM posts p JOIN organisations o ON o.id = p.organisation_id
  JOIN areas a ON a.id = o.area_id
  WHERE o.kind IN ('GENERAL_BRANCH', 'PARTY_BRANCH', 'FUNCTIONAL_BRANCH', 'RESIDENTS_COMMITTEE')
    AND a.path @> ARRAY[$1::bigint] AND post_active(p.until)
), both_sides AS (
  SELECT person_id FROM owner INTERSECT SELECT person_id FROM party
)
SELECT {POST_COLUMNS} FROM posts p, viewer_of($2, $3) v
WHERE post_access(p, v) AND p.person_id IN (SELECT person_id FROM both_sides)
  AND p.id IN (SELECT id FROM owner UNION ALL SELECT id FROM party)
ORDER BY p.person_id, p.id
"""  # noqa: S608 - constant columns


async def cross_appointments(conn: Conn, viewer: ViewerKey, community: int) -> list[PostRow]:
    """The posts that make people cross-appointed in a community, of those the viewer sees."""
    return [post_row(r) for r in await conn.fetch(CROSS_APPOINTMENTS, community, *viewer)]


# --- assigning a responsible person ---------------------------------------------------------------

CURRENT_RESPONSIBLE: Final = "SELECT person_id FROM responsibilities WHERE area_id = $1 AND until IS NULL"
# clock time, not transaction start: a waiting assignment closes one committed after it began
CLOSE_RESPONSIBILITY: Final = """
UPDATE responsibilities SET until = greatest(clock_timestamp(), since) WHERE area_id = $1 AND until IS NULL
"""
OPEN_RESPONSIBILITY: Final = """
INSERT INTO responsibilities (county_id, area_id, person_id, assigned_by, since)
VALUES ($1, $2, $3, $4, clock_timestamp())
"""


# BUILDING_HEAD grants follow the building's responsible person (migration 0010)
FOLLOW_BUILDING_HEAD: Final = "SELECT f.action, f.user_id FROM follow_building_head($1) f ORDER BY f.action DESC"


async def follow_building_head(conn: Conn, building_id: int) -> list[tuple[str, int]]:
    """Revoke the BUILDING_HEAD grants on the building of anyone but its head and grant it to
    the head's user: (action, user id) of each change, revocations first."""
    return [(r["action"], r["user_id"]) for r in await conn.fetch(FOLLOW_BUILDING_HEAD, building_id)]


async def lock_area(conn: Conn, area_id: int, viewer: ViewerKey) -> tuple[AreaRow, bool] | None:
    """The area locked for a change of it, with whether the viewer is its staff."""
    r = await conn.fetchrow(LOCK_STAFFED_AREA, area_id, *viewer)
    return (area_row(r), r["staff"]) if r else None


async def current_responsible(conn: Conn, area_id: int) -> int | None:
    value = await conn.fetchval(CURRENT_RESPONSIBLE, area_id)
    return None if value is None else int(value)


async def replace_responsible(conn: Conn, area: AreaRow, person_id: int, assigned_by: int | None) -> bool:
    """Make `person_id` the current responsible of a locked area, closing the previous
    assignment; False when they already are."""
    if await conn.fetchval(CURRENT_RESPONSIBLE, area.id) == person_id:
        return False
    await conn.execute(CLOSE_RESPONSIBILITY, area.id)
    await conn.execute(OPEN_RESPONSIBILITY, area.county_id, area.id, person_id, assigned_by)
    return True
