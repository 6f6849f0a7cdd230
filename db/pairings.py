"""Adoption, pairing, visits, dual registration and the three reports, as SQL.

Areas carry `path` (county down to the area), so "inside area $1" is `path @> ARRAY[$1]`
and every report is one statement for an area of any level.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import asyncpg

from db.access import ViewerKey
from db.adoptions import AdoptionRow, adoption_row
from db.areas import AREA_COLUMNS, PERSON_COLUMNS, AreaRow, PersonRow, area_row, person_row
from db.pool import Conn


@dataclass(frozen=True)
class PairingRow:
    id: int
    county_id: int
    cadre_id: int
    household_id: int
    since: datetime.date
    until: datetime.date | None
    # the household's building path (county down to the building)
    path: list[int]


@dataclass(frozen=True)
class VisitRow:
    id: int
    county_id: int
    pairing_id: int
    kind: str
    occurred_on: datetime.date
    notes: str | None


@dataclass(frozen=True)
class RegistrationRow:
    id: int
    county_id: int
    community_id: int
    organisation_id: int | None
    person_id: int | None
    status: str
    registered_at: datetime.datetime
    decided_at: datetime.datetime | None
    # the community's path, for the scope of the staff who confirm it
    path: list[int]
    # the unit whose UNIT_ADMIN acts for the organisation (itself or its parent unit)
    unit_id: int | None


@dataclass(frozen=True)
class Coverage:
    area_id: int
    buildings: int
    buildings_with_head: int
    adopted_buildings: int
    households: int
    paired_households: int


@dataclass(frozen=True)
class Compliance:
    area_id: int
    as_of: datetime.date
    pairings: int
    by_kind: dict[str, tuple[int, int]]  # kind -> (met, due)
    due_pairings: int


@dataclass(frozen=True)
class Statistics:
    party_branches: int
    functional_branches: int
    building_heads: int
    households: int
    residents: int
    adopting_units: int
    adopted_areas: int
    paired_cadres: int
    paired_households: int
    parking_spaces_opened: int
    activities_held: int
    renovated_compounds: int
    illegal_structures_removed: int
    orders_placed: int
    orders_completed: int
    average_rating: float | None


# --- adoptions ---------------------------------------------------------------------------

ADOPTION_COLUMNS: Final = "a.id, a.county_id, a.unit_id, a.area_id, a.duties, a.since, a.until"
INSERT_ADOPTION: Final = f"""
INSERT INTO adoptions AS a (county_id, unit_id, area_id, duties, since, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {ADOPTION_COLUMNS}
"""  # noqa: S608 - constant columns
END_ADOPTION: Final = f"""
UPDATE adoptions AS a SET until = $2 WHERE a.id = $1 AND a.until IS NULL
RETURNING {ADOPTION_COLUMNS}
"""  # noqa: S608 - constant columns
# Who adopts an area and ends an adoption is the rule `adoption_parties` (0023_may_act.sql),
# the viewer being `viewer_of($user, $api_token)`: for a new adoption, read with the area
# ($1 area, $4 unit); for an adoption ended, with the adoption it locks.
ADOPTED_AREA: Final = f"""
SELECT {AREA_COLUMNS}, adoption_parties($4, a.path, v) AS party FROM areas a, viewer_of($2, $3) v WHERE a.id = $1
"""  # noqa: S608 - constant columns
ADOPTION_FOR_UPDATE: Final = f"""
SELECT {ADOPTION_COLUMNS}, adoption_parties(a.unit_id, ar.path, v) AS party
FROM adoptions a JOIN areas ar ON ar.id = a.area_id, viewer_of($2, $3) v
WHERE a.id = $1 FOR UPDATE OF a
"""  # noqa: S608 - constant columns


async def insert_adoption(
    conn: Conn, county_id: int, unit_id: int, area_id: int, duties: list[str], since: datetime.date, user_id: int
) -> AdoptionRow:
    row = await conn.fetchrow(INSERT_ADOPTION, county_id, unit_id, area_id, duties, since, user_id)
    assert row is not None
    return adoption_row(row)


async def area_to_adopt(conn: Conn, area_id: int, unit_id: int, viewer: ViewerKey) -> tuple[AreaRow, bool] | None:
    """The area, with whether the viewer is a party of its adoption by `unit_id`."""
    row = await conn.fetchrow(ADOPTED_AREA, area_id, *viewer, unit_id)
    return (area_row(row), row["party"]) if row else None


async def adoption_for_update(conn: Conn, adoption_id: int, viewer: ViewerKey) -> tuple[AdoptionRow, bool] | None:
    """The adoption locked, with whether the viewer is one of its parties."""
    row = await conn.fetchrow(ADOPTION_FOR_UPDATE, adoption_id, *viewer)
    if row is None:
        return None
    return AdoptionRow(**{k: row[k] for k in AdoptionRow.__dataclass_fields__}), row["party"]


async def end_adoption(conn: Conn, adoption_id: int, until: datetime.date) -> AdoptionRow | None:
    row = await conn.fetchrow(END_ADOPTION, adoption_id, until)
    return adoption_row(row) if row else None


# --- pairings ----------------------------------------------------------------------------

PAIRING_SELECT: Final = """
SELECT p.id, p.county_id, p.cadre_id, p.household_id, p.since, p.until, b.path
FROM pairings p
JOIN households h ON h.id = p.household_id
JOIN areas b ON b.id = h.building_id
"""
PAIRINGS_BY_ID: Final = PAIRING_SELECT + "WHERE p.id = ANY($1::bigint[])"
INSERT_PAIRING: Final = """
INSERT INTO pairings (county_id, cadre_id, household_id, since, created_by)
VALUES ($1, $2, $3, $4, $5) RETURNING id
"""
END_PAIRING: Final = "UPDATE pairings SET until = $2 WHERE id = $1 AND until IS NULL"

# Why the viewer ($2 user, $3 API token) may see each pairing: the rule `pairing_access`.
PAIRING_ACCESS: Final = """
SELECT p.id, pairing_access(p, v) AS reason FROM pairings p, viewer_of($2, $3) v WHERE p.id = ANY($1::bigint[])
"""
# The same rule in the form a mutation needs: the pairing locked, with the viewer's reason,
# and whether they are its cadre (the rule `paired_cadre`, 0023_may_act.sql).
PAIRING_FOR_UPDATE: Final = """
SELECT p.id, p.county_id, p.cadre_id, p.household_id, p.since, p.until, b.path, pairing_access(p, v) AS reason,
       paired_cadre(p, v) AS cadre
FROM pairings p
JOIN households h ON h.id = p.household_id
JOIN areas b ON b.id = h.building_id
CROSS JOIN viewer_of($2, $3) v
WHERE p.id = $1
FOR UPDATE OF p
"""

# A page of each cadre's active pairings the viewer ($1 user, $2 API token) may see, after
# a cursor, with each cadre's total: one statement for every Person.pairings of a request.
PAIRINGS_OF_CADRES: Final = """
SELECT * FROM (
    SELECT p.id, p.county_id, p.cadre_id, p.household_id, p.since, p.until, b.path,
           count(*) OVER (PARTITION BY p.cadre_id) AS total,
           sum((p.id > $4)::int) OVER (PARTITION BY p.cadre_id ORDER BY p.id) AS position
    FROM pairings p
    JOIN households h ON h.id = p.household_id
    JOIN areas b ON b.id = h.building_id
    CROSS JOIN viewer_of($1, $2) v
    WHERE p.cadre_id = ANY($3::bigint[]) AND p.until IS NULL AND pairing_access(p, v) IS NOT NULL
) ranked
WHERE id > $4 AND position <= $5
ORDER BY cadre_id, id
"""


def pairing_row(r: asyncpg.Record) -> PairingRow:
    return PairingRow(
        id=r["id"],
        county_id=r["county_id"],
        cadre_id=r["cadre_id"],
        household_id=r["household_id"],
        since=r["since"],
        until=r["until"],
        path=list(r["path"]),
    )


# The unit each cadre works in (the first, when several): `units_of`, active posts in units.
FIRST_UNIT_OF_PERSONS: Final = """
SELECT p.id, (SELECT min(u) FROM unnest(units_of(p.id)) u) AS unit_id FROM persons p WHERE p.id = ANY($1::bigint[])
"""


async def first_unit_of_persons(conn: Conn, person_ids: list[int]) -> dict[int, int]:
    rows = await conn.fetch(FIRST_UNIT_OF_PERSONS, person_ids)
    return {r["id"]: r["unit_id"] for r in rows if r["unit_id"] is not None}


async def pairings_by_id(conn: Conn, ids: list[int]) -> dict[int, PairingRow]:
    return {r["id"]: pairing_row(r) for r in await conn.fetch(PAIRINGS_BY_ID, ids)}


async def pairing_access(conn: Conn, ids: list[int], viewer: ViewerKey) -> dict[int, str | None]:
    return {r["id"]: r["reason"] for r in await conn.fetch(PAIRING_ACCESS, ids, *viewer)}


@dataclass(frozen=True)
class LockedPairing:
    row: PairingRow
    # why the viewer may see it (None: they may not)
    reason: str | None
    # whether the viewer is its cadre
    cadre: bool


async def pairing_for_update(conn: Conn, pairing_id: int, viewer: ViewerKey) -> LockedPairing | None:
    """The pairing, locked, with why the viewer may see it and whether they are its cadre."""
    row = await conn.fetchrow(PAIRING_FOR_UPDATE, pairing_id, *viewer)
    return LockedPairing(pairing_row(row), row["reason"], row["cadre"]) if row else None


async def insert_pairing(
    conn: Conn, county_id: int, cadre_id: int, household_id: int, since: datetime.date, user_id: int
) -> int:
    return int(await conn.fetchval(INSERT_PAIRING, county_id, cadre_id, household_id, since, user_id))


async def end_pairing(conn: Conn, pairing_id: int, until: datetime.date) -> bool:
    return await conn.execute(END_PAIRING, pairing_id, until) == "UPDATE 1"


# The active pairings of each household ($3) that the viewer ($1 user, $2 API token) may
# see (the rule `pairing_access`), oldest first.
PAIRINGS_OF_HOUSEHOLDS: Final = (
    PAIRING_SELECT
    + """CROSS JOIN viewer_of($1, $2) v
WHERE p.household_id = ANY($3::bigint[]) AND p.until IS NULL AND pairing_access(p, v) IS NOT NULL
ORDER BY p.household_id, p.id
"""
)


async def pairings_of_households(
    conn: Conn, viewer: ViewerKey, household_ids: list[int]
) -> dict[int, list[PairingRow]]:
    found: dict[int, list[PairingRow]] = {}
    for r in await conn.fetch(PAIRINGS_OF_HOUSEHOLDS, *viewer, household_ids):
        found.setdefault(r["household_id"], []).append(pairing_row(r))
    return found


COUNT_PAIRINGS_OF_CADRES: Final = """
SELECT p.cadre_id, count(*) AS total
FROM pairings p CROSS JOIN viewer_of($1, $2) v
WHERE p.cadre_id = ANY($3::bigint[]) AND p.until IS NULL AND pairing_access(p, v) IS NOT NULL
GROUP BY p.cadre_id
"""


R = TypeVar("R")


def _pages(
    records: list[asyncpg.Record], parent: str, row: Callable[[asyncpg.Record], R]
) -> dict[int, tuple[list[R], int]]:
    """Rows of a windowed page query grouped by parent, each with the parent's `total`."""
    found: dict[int, tuple[list[R], int]] = {}
    for r in records:
        rows, _ = found.get(r[parent], ([], 0))
        rows.append(row(r))
        found[r[parent]] = (rows, r["total"])
    return found


async def pairings_of_cadres(
    conn: Conn, viewer: ViewerKey, cadre_ids: list[int], after: int, first: int
) -> dict[int, tuple[list[PairingRow], int]]:
    """Up to `first + 1` visible active pairings per cadre after pairing id `after`, and
    each cadre's total (0 when the cadre has none visible)."""
    found = _pages(await conn.fetch(PAIRINGS_OF_CADRES, *viewer, cadre_ids, after, first + 1), "cadre_id", pairing_row)
    # a cadre whose page after the cursor is empty got no row to carry its total
    missing = [c for c in cadre_ids if c not in found] if after else []
    if missing:
        for r in await conn.fetch(COUNT_PAIRINGS_OF_CADRES, *viewer, missing):
            found[r["cadre_id"]] = ([], r["total"])
    return found


# --- cadres and households -----------------------------------------------------------------

CADRE_UNITS: Final = "SELECT p.party_member, units_of(p.id) AS units FROM persons p WHERE p.id = $1"


async def cadre_units(conn: Conn, person_id: int) -> tuple[bool, list[int]] | None:
    """Whether the person is a party member, and the units they hold an active post in."""
    row = await conn.fetchrow(CADRE_UNITS, person_id)
    return (bool(row["party_member"]), list(row["units"])) if row else None


# --- visits and obligations --------------------------------------------------------------

VISIT_COLUMNS: Final = "v.id, v.county_id, v.pairing_id, v.kind, v.occurred_on, v.notes"
# with an idempotency key ($7) already used by the same user, nothing is inserted
INSERT_VISIT: Final = f"""
INSERT INTO visits AS v (county_id, pairing_id, kind, occurred_on, notes, recorded_by, idempotency_key)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (recorded_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING {VISIT_COLUMNS}
"""  # noqa: S608 - constant columns
VISIT_BY_KEY: Final = f"""
SELECT {VISIT_COLUMNS} FROM visits v WHERE v.recorded_by = $1 AND v.idempotency_key = $2
"""  # noqa: S608 - constant columns
VISIT_FOR_UPDATE: Final = f"SELECT {VISIT_COLUMNS} FROM visits v WHERE v.id = $1 FOR UPDATE"  # noqa: S608
CORRECT_VISIT: Final = f"""
UPDATE visits AS v SET kind = $2, occurred_on = $3, notes = $4 WHERE v.id = $1 RETURNING {VISIT_COLUMNS}
"""  # noqa: S608 - constant columns
DELETE_VISIT: Final = "DELETE FROM visits WHERE id = $1"
VISITS_BY_ID: Final = f"SELECT {VISIT_COLUMNS} FROM visits v WHERE v.id = ANY($1::bigint[])"  # noqa: S608

# Visits of each kind per (pairing, asOf) key, each counted from the start of its period:
# $1 pairing ids, $2 asOf, $3 month starts, $4 half-year starts, $5 year starts.
OBLIGATION_COUNTS: Final = """
SELECT k.i,
       count(v.id) FILTER (WHERE v.kind = 'HOME_VISIT' AND v.occurred_on >= k.m) AS home_visit,
       count(v.id) FILTER (WHERE v.kind = 'HEART_TO_HEART' AND v.occurred_on >= k.h) AS heart_to_heart,
       count(v.id) FILTER (WHERE v.kind = 'GOOD_DEED') AS good_deed
FROM unnest($1::bigint[], $2::date[], $3::date[], $4::date[], $5::date[]) WITH ORDINALITY AS k(pid, a, m, h, y, i)
LEFT JOIN visits v ON v.pairing_id = k.pid AND v.occurred_on BETWEEN k.y AND k.a
GROUP BY k.i
ORDER BY k.i
"""

VISITS_OF_PAIRINGS: Final = f"""
SELECT * FROM (
    SELECT {VISIT_COLUMNS},
           count(*) OVER (PARTITION BY v.pairing_id) AS total,
           sum((v.id > $2)::int) OVER (PARTITION BY v.pairing_id ORDER BY v.id) AS position
    FROM visits v WHERE v.pairing_id = ANY($1::bigint[])
) ranked
WHERE id > $2 AND position <= $3
ORDER BY pairing_id, id
"""  # noqa: S608 - constant columns


COUNT_VISITS_OF_PAIRINGS: Final = """
SELECT v.pairing_id, count(*) AS total FROM visits v WHERE v.pairing_id = ANY($1::bigint[]) GROUP BY v.pairing_id
"""


def visit_row(r: asyncpg.Record) -> VisitRow:
    return VisitRow(
        id=r["id"],
        county_id=r["county_id"],
        pairing_id=r["pairing_id"],
        kind=r["kind"],
        occurred_on=r["occurred_on"],
        notes=r["notes"],
    )


async def insert_visit(
    conn: Conn,
    county_id: int,
    pairing_id: int,
    kind: str,
    occurred_on: datetime.date,
    notes: str | None,
    user_id: int,
    idempotency_key: str | None = None,
) -> tuple[VisitRow, bool]:
    """The new visit (True), or the one recorded before with the same key by the user (False)."""
    row = await conn.fetchrow(INSERT_VISIT, county_id, pairing_id, kind, occurred_on, notes, user_id, idempotency_key)
    if row is not None:
        return visit_row(row), True
    first = await conn.fetchrow(VISIT_BY_KEY, user_id, idempotency_key)
    assert first is not None, "the conflicting visit exists"
    return visit_row(first), False


async def visit_for_update(conn: Conn, visit_id: int) -> VisitRow | None:
    row = await conn.fetchrow(VISIT_FOR_UPDATE, visit_id)
    return visit_row(row) if row else None


async def correct_visit(
    conn: Conn, visit_id: int, kind: str, occurred_on: datetime.date, notes: str | None
) -> VisitRow:
    row = await conn.fetchrow(CORRECT_VISIT, visit_id, kind, occurred_on, notes)
    assert row is not None, "the visit is locked"
    return visit_row(row)


async def delete_visit(conn: Conn, visit_id: int) -> None:
    await conn.execute(DELETE_VISIT, visit_id)


async def visits_by_id(conn: Conn, ids: list[int]) -> dict[int, VisitRow]:
    return {r["id"]: visit_row(r) for r in await conn.fetch(VISITS_BY_ID, ids)}


async def obligation_counts(
    conn: Conn,
    pairing_ids: list[int],
    as_of: list[datetime.date],
    months: list[datetime.date],
    halves: list[datetime.date],
    years: list[datetime.date],
) -> list[dict[str, int]]:
    rows = await conn.fetch(OBLIGATION_COUNTS, pairing_ids, as_of, months, halves, years)
    return [
        {"HOME_VISIT": r["home_visit"], "HEART_TO_HEART": r["heart_to_heart"], "GOOD_DEED": r["good_deed"]}
        for r in rows
    ]


async def visits_of_pairings(
    conn: Conn, pairing_ids: list[int], after: int, first: int
) -> dict[int, tuple[list[VisitRow], int]]:
    """Up to `first + 1` visits per pairing after visit id `after`, and each pairing's total
    (0 when it has none)."""
    found = _pages(await conn.fetch(VISITS_OF_PAIRINGS, pairing_ids, after, first + 1), "pairing_id", visit_row)
    # a pairing whose page after the cursor is empty got no row to carry its total
    missing = [p for p in pairing_ids if p not in found] if after else []
    if missing:
        for r in await conn.fetch(COUNT_VISITS_OF_PAIRINGS, missing):
            found[r["pairing_id"]] = ([], r["total"])
    return found


# --- dual registration ---------------------------------------------------------------------

REGISTRATION_SELECT: Final = """
SELECT r.id, r.county_id, r.community_id, r.organisation_id, r.person_id, r.status, r.registered_at,
       r.decided_at, c.path,
       unit_of(r.organisation_id) AS unit_id
FROM registrations r
JOIN areas c ON c.id = r.community_id
"""
REGISTRATIONS_BY_ID: Final = REGISTRATION_SELECT + "WHERE r.id = ANY($1::bigint[])"
# Why the viewer ($2 user, $3 API token) may see each registration: `registration_access`.
REGISTRATION_ACCESS: Final = """
SELECT r.id, registration_access(r, v) AS reason FROM registrations r, viewer_of($2, $3) v
WHERE r.id = ANY($1::bigint[])
"""
# The same rule for a mutation: the registration locked, with the viewer's reason.
REGISTRATION_FOR_UPDATE: Final = """
SELECT r.id, r.county_id, r.community_id, r.organisation_id, r.person_id, r.status, r.registered_at,
       r.decided_at, c.path, unit_of(r.organisation_id) AS unit_id, registration_access(r, v) AS reason
FROM registrations r
JOIN areas c ON c.id = r.community_id
CROSS JOIN viewer_of($2, $3) v
WHERE r.id = $1
FOR UPDATE OF r
"""
INSERT_REGISTRATION: Final = """
INSERT INTO registrations (county_id, community_id, organisation_id, person_id)
VALUES ($1, $2, $3, $4) RETURNING id
"""
DECIDE_REGISTRATION: Final = """
UPDATE registrations SET status = $2, decided_at = now(), decided_by = $3 WHERE id = $1 AND status = 'PENDING'
"""
# The community a party member registers with: the one they live in; without a household
# in the county, a community their unit serves (an active adoption inside it, or the unit's
# confirmed registration with it).
HOME_COMMUNITIES: Final = """
SELECT c.id FROM persons p
JOIN households h ON h.id = p.household_id
JOIN areas b ON b.id = h.building_id
JOIN areas c ON c.id = ANY(b.path) AND c.level = 'COMMUNITY'
WHERE p.id = $1
UNION
SELECT c.id FROM persons p
JOIN posts po ON po.person_id = p.id AND post_active(po.until)
JOIN adoptions a ON a.unit_id = po.organisation_id AND a.until IS NULL
JOIN areas x ON x.id = a.area_id
JOIN areas c ON c.id = ANY(x.path) AND c.level = 'COMMUNITY'
WHERE p.id = $1 AND p.household_id IS NULL
UNION
SELECT r.community_id FROM persons p
JOIN posts po ON po.person_id = p.id AND post_active(po.until)
JOIN registrations r ON r.organisation_id = po.organisation_id AND r.status = 'CONFIRMED'
WHERE p.id = $1 AND p.household_id IS NULL
"""


# Who may see a registration, as SQL over `r` (registration), `c` (its community) and `o` (its
# organisation): $1 county; $2 the county admin sees all; $3 staff scopes (area ids) see those of
# communities inside; $4 the registrant (a person) sees their own; $5 units the viewer administers
# see those of the unit (or its party organisation) and of the unit's members.
RegistrationFilter = tuple[int | None, str | None]  # community, status


# Registrations the viewer ($1 user, $2 API token) may see (the rule `registration_access`),
# $3 community (or null), $4 status (or null); the page: $5 after id, $6 limit.
_REGISTRATIONS_WHERE: Final = """
CROSS JOIN viewer_of($1, $2) v
WHERE registration_access(r, v) IS NOT NULL
  AND ($3::bigint IS NULL OR r.community_id = $3) AND ($4::text IS NULL OR r.status = $4)
"""
REGISTRATIONS_PAGE: Final = REGISTRATION_SELECT + _REGISTRATIONS_WHERE + "AND r.id > $5 ORDER BY r.id LIMIT $6"
REGISTRATIONS_COUNT: Final = "SELECT count(*) FROM registrations r" + _REGISTRATIONS_WHERE  # noqa: S608 - constant SQL


def registration_row(r: asyncpg.Record) -> RegistrationRow:
    return RegistrationRow(**{**{k: v for k, v in r.items() if k != "reason"}, "path": list(r["path"])})


async def registrations_by_id(conn: Conn, ids: list[int]) -> dict[int, RegistrationRow]:
    return {r["id"]: registration_row(r) for r in await conn.fetch(REGISTRATIONS_BY_ID, ids)}


async def registration_access(conn: Conn, ids: list[int], viewer: ViewerKey) -> dict[int, str | None]:
    return {r["id"]: r["reason"] for r in await conn.fetch(REGISTRATION_ACCESS, ids, *viewer)}


async def registration_for_update(
    conn: Conn, registration_id: int, viewer: ViewerKey
) -> tuple[RegistrationRow, str | None] | None:
    """The registration, locked, and why the viewer may see it (None: they may not)."""
    row = await conn.fetchrow(REGISTRATION_FOR_UPDATE, registration_id, *viewer)
    return (registration_row(row), row["reason"]) if row else None


async def registrations_page(
    conn: Conn, viewer: ViewerKey, flt: RegistrationFilter, after: int, limit: int
) -> list[RegistrationRow]:
    return [registration_row(r) for r in await conn.fetch(REGISTRATIONS_PAGE, *viewer, *flt, after, limit)]


async def registrations_count(conn: Conn, viewer: ViewerKey, flt: RegistrationFilter) -> int:
    return int(await conn.fetchval(REGISTRATIONS_COUNT, *viewer, *flt))


async def insert_registration(
    conn: Conn, county_id: int, community_id: int, organisation_id: int | None, person_id: int | None
) -> int:
    return int(await conn.fetchval(INSERT_REGISTRATION, county_id, community_id, organisation_id, person_id))


async def decide_registration(conn: Conn, registration_id: int, status: str, user_id: int) -> bool:
    return await conn.execute(DECIDE_REGISTRATION, registration_id, status, user_id) == "UPDATE 1"


async def home_communities(conn: Conn, person_id: int) -> set[int]:
    return {int(r["id"]) for r in await conn.fetch(HOME_COMMUNITIES, person_id)}


# Whether a party member ($1) may take service orders of a community ($2): a CONFIRMED
# registration (双报到) with it.
CONFIRMED_WITH: Final = """
SELECT EXISTS (SELECT 1 FROM registrations r
               WHERE r.person_id = $1 AND r.community_id = $2 AND r.status = 'CONFIRMED')
"""


async def confirmed_with(conn: Conn, person_id: int, community_id: int) -> bool:
    return bool(await conn.fetchval(CONFIRMED_WITH, person_id, community_id))


# --- reports -------------------------------------------------------------------------------

# Whether one of the units ($1) adopts the area or one of its ancestors ($2 = the area's path).
# The area of a report, with whether the viewer reads its reports: the rule `report_reader`
# (0023_may_act.sql).
REPORT_AREA: Final = f"""
SELECT {AREA_COLUMNS}, report_reader(a.path, v) AS reader FROM areas a, viewer_of($2, $3) v WHERE a.id = $1
"""  # noqa: S608 - constant columns

# The unit acting for an organisation (itself, or the unit whose party organisation it is).
UNIT_OF: Final = "SELECT unit_of($1)"
# Who registers with a community is the rule `registers_for` (0023_may_act.sql): for an
# organisation, read with the unit acting for it; for a person, with the person.
REGISTERING_ORGANISATION: Final = (
    "SELECT unit_of($1) AS unit, registers_for($1, NULL, v) AS may FROM viewer_of($2, $3) v"
)
REGISTERING_PERSON: Final = f"""
SELECT {PERSON_COLUMNS}, registers_for(NULL, p.id, v) AS may FROM persons p, viewer_of($2, $3) v WHERE p.id = $1
"""  # noqa: S608 - constant columns


async def unit_of(conn: Conn, organisation_id: int) -> int | None:
    value = await conn.fetchval(UNIT_OF, organisation_id)
    return int(value) if value is not None else None


async def registering_organisation(conn: Conn, organisation_id: int, viewer: ViewerKey) -> tuple[int | None, bool]:
    """The unit acting for the organisation (None: not a unit's), and whether the viewer
    registers it."""
    row = await conn.fetchrow(REGISTERING_ORGANISATION, organisation_id, *viewer)
    assert row is not None
    return row["unit"], row["may"]


async def registering_person(conn: Conn, person_id: int, viewer: ViewerKey) -> tuple[PersonRow, bool] | None:
    """The person, and whether the viewer registers them."""
    row = await conn.fetchrow(REGISTERING_PERSON, person_id, *viewer)
    return (person_row(row), row["may"]) if row else None


async def report_area(conn: Conn, area_id: int, viewer: ViewerKey) -> tuple[AreaRow, bool] | None:
    """The area, with whether the viewer reads its reports."""
    row = await conn.fetchrow(REPORT_AREA, area_id, *viewer)
    return (area_row(row), row["reader"]) if row else None


# The figures that grow with the households (households, those with an active pairing)
# are kept per area by triggers (0030_report_counts.sql): `kept_count` reads them.
COVERAGE: Final = """
SELECT count(*) AS buildings,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM responsibilities r WHERE r.area_id = b.id AND r.until IS NULL)) AS buildings_with_head,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM adoptions a WHERE a.area_id IN (b.id, b.parent_id) AND a.until IS NULL)) AS adopted_buildings,
       kept_count($1, 'households', '-infinity', '-infinity') AS households,
       kept_count($1, 'paired_households', '-infinity', '-infinity') AS paired_households
FROM areas b WHERE b.path @> ARRAY[$1::bigint] AND b.level = 'BUILDING'
"""

UNCOVERED_HOUSEHOLDS: Final = """
SELECT hh.id FROM households hh JOIN areas a ON a.id = hh.area_id
WHERE a.path @> ARRAY[$1::bigint] AND hh.id > $2
  AND NOT EXISTS (SELECT 1 FROM pairings p WHERE p.household_id = hh.id AND p.until IS NULL)
ORDER BY hh.id LIMIT $3
"""

# Pairings active at asOf ($2) of households inside area $1, and how many of them met each
# obligation in its period ($3 month, $4 half-year, $5 year, each up to asOf) and all three
# (`due`: the others): the dated figures kept per area (0030_report_counts.sql).
COMPLIANCE: Final = """
SELECT kept_count($1, 'pairings', '-infinity', $2) AS pairings,
       kept_count($1, 'HOME_VISIT', $3, $2) AS home_visit_met,
       kept_count($1, 'HEART_TO_HEART', $4, $2) AS heart_to_heart_met,
       kept_count($1, 'GOOD_DEED', $5, $2) AS good_deed_met,
       kept_count($1, 'pairings', '-infinity', $2) - kept_count($1, 'ALL', $3, $2) AS due
"""
# The same pairings with at least one DUE obligation, in id order from a cursor: probes
# per pairing, so a page stops as soon as it is full.
DUE_PAIRINGS: Final = """
SELECT pr.id
FROM pairings pr
JOIN households h ON h.id = pr.household_id
JOIN areas a ON a.id = h.area_id
WHERE a.path @> ARRAY[$1::bigint] AND pr.since <= $2 AND (pr.until IS NULL OR pr.until >= $2) AND pr.id > $6
  AND NOT (
    EXISTS (SELECT 1 FROM visits v WHERE v.pairing_id = pr.id AND v.kind = 'HOME_VISIT'
            AND v.occurred_on BETWEEN $3 AND $2)
    AND EXISTS (SELECT 1 FROM visits v WHERE v.pairing_id = pr.id AND v.kind = 'HEART_TO_HEART'
                AND v.occurred_on BETWEEN $4 AND $2)
    AND EXISTS (SELECT 1 FROM visits v WHERE v.pairing_id = pr.id AND v.kind = 'GOOD_DEED'
                AND v.occurred_on BETWEEN $5 AND $2))
ORDER BY pr.id
LIMIT $7
"""

# Households inside area $1 for which no pairing active at asOf ($2) has met obligation $4 in
# its period (from $3 to asOf): a household with two cadres is due only when neither met it.
# Households without an active pairing owe nothing (coverage lists them). Ordered by full address.
_DUE_HOUSEHOLDS: Final = """
WITH active AS (
    SELECT pr.id, pr.household_id FROM pairings pr
    JOIN households hh ON hh.id = pr.household_id
    JOIN areas a ON a.id = hh.area_id
    WHERE a.path @> ARRAY[$1::bigint] AND pr.since <= $2 AND (pr.until IS NULL OR pr.until >= $2)
), due AS (
    SELECT hh.id, household_address(hh.area_id, hh.label) AS address
    FROM households hh
    WHERE hh.id IN (SELECT household_id FROM active)
      AND NOT EXISTS (SELECT 1 FROM active ap JOIN visits v ON v.pairing_id = ap.id
                      WHERE ap.household_id = hh.id AND v.kind = $4 AND v.occurred_on BETWEEN $3 AND $2)
)
"""
# a page after the cursor (address $5, id $6), $7 rows
DUE_HOUSEHOLDS_PAGE: Final = f"""{_DUE_HOUSEHOLDS}
SELECT id, address FROM due WHERE $5::text IS NULL OR (address, id) > ($5, $6::bigint)
ORDER BY address, id LIMIT $7
"""  # noqa: S608 - constant SQL fragments
DUE_HOUSEHOLDS_COUNT: Final = f"{_DUE_HOUSEHOLDS} SELECT count(*) FROM due"  # noqa: S608 - constant SQL fragments


# The figures that grow with the households (households, residents, those paired, the cadres
# paired) are kept per area (0030_report_counts.sql); the others count their few rows.
# Community-level figures (parking, activities) count the communities inside the area, or
# the area's own community when the area lies below a community. Figures about events count
# only those from $2 (inclusive) to $3 (exclusive) when a period is given (a null bound of the
# tstzrange is open: all time):
# activities by their end, findings by their rectification, orders by when they were placed,
# completed and rated; renovations, recorded by year, by their year from $4 to $5.
# An order's status, rating and placing, and with a period ($2) when it was completed and rated.
ORDER_TIMES: Final = """
SELECT o.status, o.rating, o.created_at,
       CASE WHEN $2::timestamptz IS NOT NULL THEN
           (SELECT max(e.at) FROM order_events e WHERE e.order_id = o.id AND e.action = 'COMPLETED') END
           AS completed_at,
       CASE WHEN $2::timestamptz IS NOT NULL THEN
           (SELECT max(e.at) FROM order_events e WHERE e.order_id = o.id AND e.action = 'RATED') END AS rated_at
"""
# The figures over `communities` (those of the area) and `so` (orders of its households, ORDER_TIMES).
COMMUNITY_AND_ORDER_FIGURES: Final = """
    (SELECT coalesce(sum(re.quantity), 0) FROM resources re
     WHERE re.category = 'PARKING' AND re.withdrawn_at IS NULL
       AND (re.available_until IS NULL OR re.available_until > now())
       AND EXISTS (SELECT 1 FROM resource_communities rc JOIN communities c ON c.id = rc.community_id
                   WHERE rc.resource_id = re.id)
    ) AS parking_spaces_opened,
    (SELECT count(*) FROM activities ac JOIN communities c ON c.id = ac.community_id
     WHERE ac.ends_at <= now() AND tstzrange($2::timestamptz, $3::timestamptz) @> ac.ends_at
    ) AS activities_held,
    (SELECT count(*) FROM so
     WHERE tstzrange($2::timestamptz, $3::timestamptz) @> created_at) AS orders_placed,
    (SELECT count(*) FROM so WHERE status IN ('COMPLETED', 'CLOSED')
       AND ($2::timestamptz IS NULL OR (completed_at >= $2 AND completed_at < $3))) AS orders_completed,
    (SELECT round(avg(rating), 2)::float8 FROM so WHERE rating IS NOT NULL
       AND ($2::timestamptz IS NULL OR (rated_at >= $2 AND rated_at < $3))) AS average_rating
"""
STATISTICS: Final = f"""
WITH communities AS MATERIALIZED (
    SELECT c.id FROM areas c, areas self
    WHERE self.id = $1 AND c.level = 'COMMUNITY' AND (c.path @> ARRAY[$1::bigint] OR c.id = ANY(self.path))
), ad AS MATERIALIZED (
    SELECT a.unit_id, a.area_id FROM adoptions a JOIN areas ar ON ar.id = a.area_id
    WHERE ar.path @> ARRAY[$1::bigint] AND a.until IS NULL
), so AS MATERIALIZED (
    {ORDER_TIMES}
    FROM service_orders o JOIN households hh ON hh.id = o.household_id JOIN areas a ON a.id = hh.area_id
    WHERE a.path @> ARRAY[$1::bigint]
)
SELECT
    (SELECT count(*) FROM organisations o JOIN areas a ON a.id = o.area_id
     WHERE a.path @> ARRAY[$1::bigint] AND o.kind = 'PARTY_BRANCH') AS party_branches,
    (SELECT count(*) FROM organisations o JOIN areas a ON a.id = o.area_id
     WHERE a.path @> ARRAY[$1::bigint] AND o.kind = 'FUNCTIONAL_BRANCH') AS functional_branches,
    (SELECT count(DISTINCT r.person_id) FROM responsibilities r JOIN areas a ON a.id = r.area_id
     WHERE a.path @> ARRAY[$1::bigint] AND a.level = 'BUILDING' AND r.until IS NULL) AS building_heads,
    kept_count($1, 'households', '-infinity', '-infinity') AS households,
    kept_count($1, 'residents', '-infinity', '-infinity') AS residents,
    (SELECT count(DISTINCT unit_id) FROM ad) AS adopting_units,
    (SELECT count(DISTINCT area_id) FROM ad) AS adopted_areas,
    (SELECT count(*) FROM report_counts c WHERE c.area_id = $1 AND c.figure = 'cadre' AND c.n > 0) AS paired_cadres,
    kept_count($1, 'paired_households', '-infinity', '-infinity') AS paired_households,
    (SELECT count(DISTINCT rn.compound_id) FROM renovations rn JOIN areas a ON a.id = rn.compound_id
     WHERE a.path @> ARRAY[$1::bigint] AND rn.status = 'COMPLETED'
       AND rn.year BETWEEN coalesce($4::integer, rn.year) AND coalesce($5::integer, rn.year)
    ) AS renovated_compounds,
    (SELECT count(*) FROM findings f JOIN areas a ON a.id = f.compound_id
     WHERE a.path @> ARRAY[$1::bigint] AND f.category = 'ILLEGAL_STRUCTURE' AND f.rectified_at IS NOT NULL
       AND tstzrange($2::timestamptz, $3::timestamptz) @> f.rectified_at
    ) AS illegal_structures_removed,
    {COMMUNITY_AND_ORDER_FIGURES}
"""  # noqa: S608 - constant SQL fragments


# A report's best plan depends on how much of the county the area holds: after five runs
# PostgreSQL may switch a prepared statement to a generic plan built for an area of
# unknown size (measured: compliance of a 25,000-household county 280 ms -> 530 ms), so
# reports plan for their actual parameters.
CUSTOM_PLAN: Final = "SET LOCAL plan_cache_mode = force_custom_plan"


async def _report(conn: Conn, sql: str, *args: Any) -> list[asyncpg.Record]:
    async with conn.transaction():
        await conn.execute(CUSTOM_PLAN)
        return await conn.fetch(sql, *args)


async def coverage(conn: Conn, area_id: int) -> Coverage:
    row = (await _report(conn, COVERAGE, area_id))[0]
    return Coverage(area_id=area_id, **dict(row))


async def uncovered_households(conn: Conn, area_id: int, after: int, first: int) -> list[int]:
    return [r["id"] for r in await _report(conn, UNCOVERED_HOUSEHOLDS, area_id, after, first + 1)]


async def compliance(conn: Conn, area_id: int, as_of: datetime.date, starts: tuple[datetime.date, ...]) -> Compliance:
    row = (await _report(conn, COMPLIANCE, area_id, as_of, *starts))[0]
    total = int(row["pairings"])
    by_kind = {
        kind: (int(row[f"{kind.lower()}_met"]), total - int(row[f"{kind.lower()}_met"]))
        for kind in ("HOME_VISIT", "HEART_TO_HEART", "GOOD_DEED")
    }
    return Compliance(area_id=area_id, as_of=as_of, pairings=total, by_kind=by_kind, due_pairings=int(row["due"]))


async def due_pairings(
    conn: Conn, area_id: int, as_of: datetime.date, starts: tuple[datetime.date, ...], after: int, first: int
) -> list[int]:
    return [r["id"] for r in await _report(conn, DUE_PAIRINGS, area_id, as_of, *starts, after, first + 1)]


async def due_households(
    conn: Conn,
    area_id: int,
    as_of: datetime.date,
    period_start: datetime.date,
    kind: str,
    after: tuple[str, int] | None,
    limit: int,
) -> list[tuple[int, str]]:
    """(household id, full address) of a page of due households."""
    address, after_id = after if after is not None else (None, None)
    rows = await conn.fetch(DUE_HOUSEHOLDS_PAGE, area_id, as_of, period_start, kind, address, after_id, limit)
    return [(r["id"], r["address"]) for r in rows]


async def due_households_count(
    conn: Conn, area_id: int, as_of: datetime.date, period_start: datetime.date, kind: str
) -> int:
    return int(await conn.fetchval(DUE_HOUSEHOLDS_COUNT, area_id, as_of, period_start, kind))


@dataclass(frozen=True)
class Period:
    """From `start` (inclusive) to `end` (exclusive), and the calendar years they span."""

    start: datetime.datetime
    end: datetime.datetime
    first_year: int
    last_year: int


async def statistics(conn: Conn, area_id: int, period: Period | None = None) -> Statistics:
    bounds = (period.start, period.end, period.first_year, period.last_year) if period else (None,) * 4
    row = (await _report(conn, STATISTICS, area_id, *bounds))[0]
    return Statistics(**dict(row))
