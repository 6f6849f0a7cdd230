"""Adoption, pairing and the three obligations, dual registration, and the reports.

Who may do what (also in the schema's descriptions):
- `adopt` / `endAdoption`: COUNTY_ADMIN, staff in scope of the area, or UNIT_ADMIN of the unit.
- `pair` / `endPairing`: COUNTY_ADMIN or staff in scope of the household.
- `recordVisit`: only the paired cadre.
- `registerWithCommunity`: a unit's party organisation by the unit's UNIT_ADMIN, or a party
  member by themself (with their home community); `confirmRegistration` /
  `rejectRegistration`: COUNTY_ADMIN or staff in scope of the community.
- `coverage`, `compliance`, `statistics`: COUNTY_ADMIN, staff in scope of the area, or
  UNIT_ADMIN of a unit adopting the area (or the compound it lies in); others get a
  FORBIDDEN GraphQL error.

Calendar rules use the county's time zone (`settings.zone`): "today" is the local date.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

import asyncpg

from db import areas as areas_db
from db import pairings as db
from db.adoptions import AdoptionRow
from db.areas import AreaRow, HouseholdRow, OrganisationRow, PersonRow
from db.pairings import (
    Compliance,
    Coverage,
    PairingRow,
    RegistrationRow,
    Statistics,
    VisitRow,
)
from db.pool import Conn
from gongjian import clock
from resolvers import ids, nodes, relations
from resolvers.access import viewer_key
from resolvers.areas import AREA_TYPES, area_by_id, household_by_id, organisation_by_id, person_by_id
from resolvers.context import Context
from resolvers.errors import ErrorCode, Refusal, bad_user_input, forbidden
from resolvers.loading import keyed
from resolvers.mutations import Audited, Outcome, run
from resolvers.pagination import (
    Page,
    checked_first,
    decode_cursor,
    decode_id_cursor,
    page_from_rows,
    page_of_known_total,
)

KINDS: Final = ("HOME_VISIT", "HEART_TO_HEART", "GOOD_DEED")
DUTIES: Final = ("ASSIST_MANAGEMENT", "PUBLIC_SERVICE", "MOBILISATION")


# --- calendar ------------------------------------------------------------------------------


def period(kind: str, as_of: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The period of an obligation containing `as_of`: calendar month (HOME_VISIT),
    half-year Jan-Jun / Jul-Dec (HEART_TO_HEART), calendar year (GOOD_DEED)."""
    if kind == "HOME_VISIT":
        last = calendar.monthrange(as_of.year, as_of.month)[1]
        return as_of.replace(day=1), as_of.replace(day=last)
    if kind == "HEART_TO_HEART":
        if as_of.month <= 6:
            return datetime.date(as_of.year, 1, 1), datetime.date(as_of.year, 6, 30)
        return datetime.date(as_of.year, 7, 1), datetime.date(as_of.year, 12, 31)
    return datetime.date(as_of.year, 1, 1), datetime.date(as_of.year, 12, 31)


def period_starts(as_of: datetime.date) -> tuple[datetime.date, datetime.date, datetime.date]:
    return period("HOME_VISIT", as_of)[0], period("HEART_TO_HEART", as_of)[0], period("GOOD_DEED", as_of)[0]


@dataclass(frozen=True)
class Obligation:
    kind: str
    period_start: datetime.date
    period_end: datetime.date
    done: int

    @property
    def status(self) -> str:
        return "MET" if self.done >= 1 else "DUE"


@dataclass(frozen=True)
class KindCompliance:
    kind: str
    met: int
    due: int


@dataclass(frozen=True)
class VisitRecorded:
    visit: VisitRow
    pairing: PairingRow


# --- visibility ----------------------------------------------------------------------------


# who may see a pairing is the SQL rule `pairing_access` (migration 0010), which gives the
# reason: these readers of a visit's notes are the reasons that allow them
READS_VISIT_NOTES: Final = frozenset({"COUNTY_ADMIN", "STAFF", "CADRE"})
# the reasons that make a viewer staff in scope of the pairing's household
STAFF_REASONS: Final = frozenset({"COUNTY_ADMIN", "STAFF"})


async def pairing_access(ctx: Context, keys: list[int]) -> list[str | None]:
    """Batch: why the viewer may see each pairing (None: hidden)."""
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.pairing_access(conn, keys, viewer_key(viewer))
    return [found.get(k) for k in keys]


async def registration_access(ctx: Context, keys: list[int]) -> list[str | None]:
    """Batch: why the viewer may see each registration (None: hidden)."""
    viewer = ctx.viewer
    if viewer is None:
        return [None for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.registration_access(conn, keys, viewer_key(viewer))
    return [found.get(k) for k in keys]


# --- loaders -------------------------------------------------------------------------------


pairing_by_id = keyed(db.pairings_by_id)


visit_by_id = keyed(db.visits_by_id)


registration_by_id = keyed(db.registrations_by_id)


async def obligations_by_pairing(ctx: Context, keys: list[tuple[int, datetime.date]]) -> list[list[Obligation] | None]:
    """The three obligations per (pairing id, asOf): one statement for every pairing."""
    starts = [period_starts(as_of) for _, as_of in keys]
    async with ctx.db.connection() as conn:
        counts = await db.obligation_counts(
            conn,
            [pid for pid, _ in keys],
            [as_of for _, as_of in keys],
            [s[0] for s in starts],
            [s[1] for s in starts],
            [s[2] for s in starts],
        )
    return [
        [Obligation(k, *period(k, as_of), done=done[k]) for k in KINDS]
        for (_, as_of), done in zip(keys, counts, strict=True)
    ]


PageKey = tuple[int, int, int]  # parent id, after id, first


async def pairings_by_cadre(ctx: Context, keys: list[PageKey]) -> list[Page[PairingRow] | None]:
    """Each cadre's visible active pairings, one statement per distinct (after, first)."""
    viewer = viewer_key(ctx.signed_in)
    pages: dict[PageKey, Page[PairingRow]] = {}
    for after, first in {(k[1], k[2]) for k in keys}:
        cadres = [k[0] for k in keys if (k[1], k[2]) == (after, first)]
        async with ctx.db.connection() as conn:
            found = await db.pairings_of_cadres(conn, viewer, cadres, after, first)
        for cadre in cadres:
            rows, total = found.get(cadre, ([], 0))
            pages[(cadre, after, first)] = page_of_known_total(rows, first, lambda r: [r.id], total)
    return [pages[k] for k in keys]


async def visits_by_pairing(ctx: Context, keys: list[PageKey]) -> list[Page[VisitRow] | None]:
    pages: dict[PageKey, Page[VisitRow]] = {}
    for after, first in {(k[1], k[2]) for k in keys}:
        parents = [k[0] for k in keys if (k[1], k[2]) == (after, first)]
        async with ctx.db.connection() as conn:
            found = await db.visits_of_pairings(conn, parents, after, first)
        for parent in parents:
            rows, total = found.get(parent, ([], 0))
            pages[(parent, after, first)] = page_of_known_total(rows, first, lambda r: [r.id], total)
    return [pages[k] for k in keys]


async def pairings_by_household(ctx: Context, keys: list[int]) -> list[list[PairingRow]]:
    """Each household's active pairings that the viewer may see (the rule `pairing_access`):
    to its members, the paired cadre, staff and the building head in scope, the county admin
    (and the cadre's unit admin); none to anyone else."""
    if ctx.viewer is None:
        return [[] for _ in keys]
    async with ctx.db.connection() as conn:
        found = await db.pairings_of_households(conn, viewer_key(ctx.signed_in), keys)
    return [found.get(k, []) for k in keys]


# Household.pairings, as schema/pairings.py declares it: the active ones, through the rule
relations.register_children("Pairing", "household_id", pairings_by_household, "{row}.until IS NULL")


def _after_id(after: str | None) -> int:
    return decode_id_cursor(after) or 0


# --- node loaders ----------------------------------------------------------------------------


async def _pairing_nodes(ctx: Context, keys: list[int]) -> list[PairingRow | None]:
    reasons = await ctx.loader(pairing_access).load_many(keys)
    rows = await ctx.loader(pairing_by_id).load_many([k for k, r in zip(keys, reasons, strict=True) if r is not None])
    visible = {r.id: r for r in rows if r is not None}
    return [visible.get(k) for k in keys]


async def _visit_nodes(ctx: Context, keys: list[int]) -> list[VisitRow | None]:
    """A visit is visible with its pairing."""
    visits = await ctx.loader(visit_by_id).load_many(keys)
    reasons = await ctx.loader(pairing_access).load_many([v.pairing_id if v else 0 for v in visits])
    return [v if v is not None and r is not None else None for v, r in zip(visits, reasons, strict=True)]


async def _registration_nodes(ctx: Context, keys: list[int]) -> list[RegistrationRow | None]:
    reasons = await ctx.loader(registration_access).load_many(keys)
    rows = await ctx.loader(registration_by_id).load_many([k for k, r in zip(keys, reasons, strict=True) if r])
    visible = {r.id: r for r in rows if r is not None}
    return [visible.get(k) for k in keys]


nodes.register("Pairing", _pairing_nodes)
nodes.register("Visit", _visit_nodes)
nodes.register("Registration", _registration_nodes)


# --- field resolvers -------------------------------------------------------------------------


async def pairing_cadre(root: PairingRow, ctx: Context) -> PersonRow | None:
    return await ctx.loader(person_by_id).load(root.cadre_id)


async def pairing_household(root: PairingRow, ctx: Context) -> HouseholdRow | None:
    return await ctx.loader(household_by_id).load(root.household_id)


first_unit_of_cadre = keyed(db.first_unit_of_persons)


async def pairing_unit(root: PairingRow, ctx: Context) -> OrganisationRow | None:
    """The unit the cadre works in (the first, when several)."""
    unit = await ctx.loader(first_unit_of_cadre).load(root.cadre_id)
    return None if unit is None else await ctx.loader(organisation_by_id).load(unit)


async def pairing_obligations(root: PairingRow, ctx: Context, as_of: datetime.date | None) -> list[Obligation]:
    found = await ctx.loader(obligations_by_pairing).load((root.id, as_of or clock.today(ctx.settings.zone)))
    return found or []


async def pairing_visits(root: PairingRow, ctx: Context, first: int | None, after: str | None) -> Page[VisitRow]:
    page = await ctx.loader(visits_by_pairing).load((root.id, _after_id(after), checked_first(first)))
    assert page is not None
    return page


async def visit_notes(root: VisitRow, ctx: Context) -> str | None:
    """A visit's notes may tell of the household's hardship: only the cadre who paid the
    visit, the county admin and staff in scope read them; to others they are null."""
    reason = await ctx.loader(pairing_access).load(root.pairing_id)
    return root.notes if reason in READS_VISIT_NOTES else None


async def visit_pairing(root: VisitRow, ctx: Context) -> PairingRow | None:
    """Always visible with the visit: a visit is visible with its pairing (`pairing_access`,
    `_visit_nodes`; visits are listed under their pairing only)."""
    return await ctx.loader(pairing_by_id).load(root.pairing_id)


async def person_pairings(root: PersonRow, ctx: Context, first: int | None, after: str | None) -> Page[PairingRow]:
    """The person's active pairings as a cadre, those the viewer may see."""
    page = await ctx.loader(pairings_by_cadre).load((root.id, _after_id(after), checked_first(first)))
    assert page is not None
    return page


async def registration_list(
    ctx: Context, community_id: str | None, status: str | None, first: int | None, after: str | None
) -> Page[RegistrationRow]:
    """Registrations the viewer may see (the rule `registration_access`), oldest first."""
    viewer = ctx.signed_in
    limit = checked_first(first)
    after_id = _after_id(after)
    community: int | None = None
    if community_id is not None:
        community = ids.decode_as(community_id, "Community")
        if community is None:
            raise bad_user_input("`communityId` is not the id of a community", argument="communityId")
    flt = (community, status)
    async with ctx.db.connection() as conn:
        rows = await db.registrations_page(conn, viewer_key(viewer), flt, after_id, limit + 1)

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.registrations_count(conn, viewer_key(viewer), flt)

    return page_from_rows(rows, limit, lambda r: [r.id], count)


# --- reports ---------------------------------------------------------------------------------


async def _report_area(ctx: Context, area_id: str) -> AreaRow | None:
    """The area of a report, or None when unknown; FORBIDDEN unless the viewer reads its reports
    (the rule `report_reader`)."""
    viewer = ctx.signed_in
    decoded = ids.decode(area_id)
    if decoded is None or decoded[0] not in AREA_TYPES.values():
        return None
    async with ctx.db.connection() as conn:
        found = await db.report_area(conn, decoded[1], viewer_key(viewer))
    if found is None or found[0].county_id != viewer.county_id or AREA_TYPES[found[0].level] != decoded[0]:
        return None
    area, reader = found
    ctx.loader(area_by_id).prime(area.id, area)  # the report's own fields read it again
    if reader:
        return area
    raise forbidden(
        "Reports are for the county's administrators, the staff of the area, its building's head and its adopting units"
    )


async def coverage(ctx: Context, area_id: str) -> Coverage | None:
    area = await _report_area(ctx, area_id)
    if area is None:
        return None
    async with ctx.db.connection() as conn:
        return await db.coverage(conn, area.id)


async def uncovered_households(
    root: Coverage, ctx: Context, first: int | None, after: str | None
) -> Page[HouseholdRow]:
    limit = checked_first(first)
    after_id = _after_id(after)
    if root.households == root.paired_households:  # full coverage: nothing to look for
        return page_of_known_total([], limit, lambda r: [r.id], 0)
    async with ctx.db.connection() as conn:
        found = await db.uncovered_households(conn, root.area_id, after_id, limit)
    rows = [r for r in await ctx.loader(household_by_id).load_many(found) if r is not None]
    return page_of_known_total(rows, limit, lambda r: [r.id], root.households - root.paired_households)


async def compliance(ctx: Context, area_id: str, as_of: datetime.date) -> Compliance | None:
    area = await _report_area(ctx, area_id)
    if area is None:
        return None
    async with ctx.db.connection() as conn:
        return await db.compliance(conn, area.id, as_of, period_starts(as_of))


def compliance_by_kind(root: Compliance) -> list[KindCompliance]:
    return [KindCompliance(kind, *root.by_kind[kind]) for kind in KINDS]


async def due_pairings(root: Compliance, ctx: Context, first: int | None, after: str | None) -> Page[PairingRow]:
    limit = checked_first(first)
    after_id = _after_id(after)
    if root.due_pairings == 0:  # everything met: nothing to look for
        return page_of_known_total([], limit, lambda r: [r.id], 0)
    async with ctx.db.connection() as conn:
        found = await db.due_pairings(conn, root.area_id, root.as_of, period_starts(root.as_of), after_id, limit)
    rows = [r for r in await ctx.loader(pairing_by_id).load_many(found) if r is not None]
    return page_of_known_total(rows, limit, lambda r: [r.id], root.due_pairings)


def _address_cursor(after: str | None) -> tuple[str, int] | None:
    key = decode_cursor(after)
    if key is None:
        return None
    if len(key) != 2 or not isinstance(key[0], str) or not isinstance(key[1], int):
        raise bad_user_input("`after` is not a cursor this API gave out", argument="after")
    return key[0], key[1]


async def due_households(
    root: Compliance, ctx: Context, kind: str, first: int | None, after: str | None
) -> Page[HouseholdRow]:
    """Households none of whose active pairings has met `kind` in its period, by full address."""
    limit = checked_first(first)
    cursor = _address_cursor(after)
    start = period(kind, root.as_of)[0]
    async with ctx.db.connection() as conn:
        found = await db.due_households(conn, root.area_id, root.as_of, start, kind, cursor, limit + 1)
    rows = await ctx.loader(household_by_id).load_many([h for h, _ in found])
    addresses = dict(found)
    page_rows = [r for r in rows if r is not None]

    async def count() -> int:
        async with ctx.db.connection() as conn:
            return await db.due_households_count(conn, root.area_id, root.as_of, start, kind)

    return page_from_rows(page_rows, limit, lambda r: [addresses[r.id], r.id], count)


def statistics_period(ctx: Context, start: datetime.date | None, end: datetime.date | None) -> db.Period | None:
    """`from` to `to` inclusive, as instants of the county's calendar; both or neither."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise bad_user_input("Give both `from` and `to`, or neither", argument="from" if start is None else "to")
    if start > end:
        raise bad_user_input("`from` is after `to`", argument="from")
    zone = ctx.settings.zone

    def midnight(day: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time(), tzinfo=zone)

    return db.Period(midnight(start), midnight(end + datetime.timedelta(days=1)), start.year, end.year)


async def statistics(
    ctx: Context, area_id: str, start: datetime.date | None = None, end: datetime.date | None = None
) -> Statistics | None:
    window = statistics_period(ctx, start, end)
    area = await _report_area(ctx, area_id)
    if area is None:
        return None
    async with ctx.db.connection() as conn:
        return await db.statistics(conn, area.id, window)


# --- mutations -------------------------------------------------------------------------------


def _id(global_id: str, field: str, *type_names: str) -> int:
    pk = ids.decode_as(global_id, *type_names)
    if pk is None:
        noun = "area" if len(type_names) > 1 else type_names[0].lower()
        raise Refusal(ErrorCode.NOT_FOUND, f"No such {noun}", [field])
    return pk


def _not_future(ctx: Context, day: datetime.date, field: str) -> None:
    if day > clock.today(ctx.settings.zone):
        raise Refusal(ErrorCode.INVALID, "The date may not be in the future (county time)", [field])


class _CountyRow(Protocol):
    @property
    def county_id(self) -> int: ...


R = TypeVar("R", bound=_CountyRow)


def _in_county(row: R | None, ctx: Context, what: str, field: str) -> R:
    """The row when it exists in the viewer's county; NOT_FOUND on `field` otherwise."""
    if row is None or row.county_id != ctx.signed_in.county_id:
        raise Refusal(ErrorCode.NOT_FOUND, f"No such {what}", [field])
    return row


async def _area(conn: Conn, ctx: Context, area_id: int, field: str) -> AreaRow:
    return _in_county((await areas_db.areas_by_id(conn, [area_id])).get(area_id), ctx, "area", field)


async def _organisation(conn: Conn, ctx: Context, org_id: int, field: str) -> OrganisationRow:
    return _in_county((await areas_db.organisations_by_id(conn, [org_id])).get(org_id), ctx, "organisation", field)


async def _person(conn: Conn, ctx: Context, person_id: int, field: str) -> PersonRow:
    return _in_county((await areas_db.persons_by_id(conn, [person_id])).get(person_id), ctx, "person", field)


async def adopt(
    ctx: Context, unit_id: str, area_id: str, duties: list[str] | None, since: datetime.date | None
) -> Outcome[AdoptionRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[AdoptionRow, Audited]:
        unit = await _organisation(conn, ctx, _id(unit_id, "unitId", "Organisation"), "unitId")
        area_pk = _id(area_id, "areaId", *AREA_TYPES.values())
        found = await db.area_to_adopt(conn, area_pk, unit.id, viewer_key(viewer))
        area = _in_county(found[0] if found else None, ctx, "area", "areaId")
        if not (found and found[1]):
            raise Refusal(ErrorCode.FORBIDDEN, "Only the county, staff of the area or the unit's admin may adopt")
        if await db.unit_of(conn, unit.id) != unit.id:
            raise Refusal(
                ErrorCode.INVALID, "Only a government unit, enterprise or public institution adopts", ["unitId"]
            )
        if area.level not in ("COMPOUND", "BUILDING"):
            raise Refusal(ErrorCode.INVALID, "A unit adopts a compound or a building", ["areaId"])
        chosen = list(dict.fromkeys(duties)) if duties is not None else list(DUTIES)
        if not chosen:
            raise Refusal(ErrorCode.INVALID, "An adoption has at least one duty", ["duties"])
        start = since or clock.today(ctx.settings.zone)
        _not_future(ctx, start, "since")
        try:
            async with conn.transaction():
                row = await db.insert_adoption(conn, viewer.county_id, unit.id, area.id, chosen, start, viewer.user_id)
        except asyncpg.UniqueViolationError:
            raise Refusal(ErrorCode.ALREADY_EXISTS, "This unit already adopts this area", ["areaId"]) from None
        return row, Audited("Adoption", row.id, {"unit": unit.id, "area": area.id})

    return await run(ctx, "adopt", body)


async def end_adoption(ctx: Context, adoption_id: str, until: datetime.date | None) -> Outcome[AdoptionRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[AdoptionRow, Audited]:
        locked = await db.adoption_for_update(conn, _id(adoption_id, "adoptionId", "Adoption"), viewer_key(viewer))
        if locked is None or locked[0].county_id != viewer.county_id:
            raise Refusal(ErrorCode.NOT_FOUND, "No such adoption", ["adoptionId"])
        found, party = locked
        if not party:
            raise Refusal(ErrorCode.FORBIDDEN, "Only the county, staff of the area or the unit's admin may end it")
        if found.until is not None:
            raise Refusal(ErrorCode.INVALID_STATE, "This adoption has already ended", ["adoptionId"])
        day = until or clock.today(ctx.settings.zone)
        _not_future(ctx, day, "until")
        if day < found.since:
            raise Refusal(ErrorCode.INVALID, "An adoption cannot end before it began", ["until"])
        ended = await db.end_adoption(conn, found.id, day)
        assert ended is not None
        return ended, Audited("Adoption", found.id, {"until": day.isoformat()})

    return await run(ctx, "endAdoption", body)


async def pair(ctx: Context, cadre_id: str, household_id: str, since: datetime.date | None) -> Outcome[PairingRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[PairingRow, Audited]:
        cadre = await _person(conn, ctx, _id(cadre_id, "cadreId", "Person"), "cadreId")
        household_pk = _id(household_id, "householdId", "Household")
        staffed = await areas_db.staffed_household(conn, household_pk, viewer_key(viewer))
        household = _in_county(staffed[0] if staffed else None, ctx, "household", "householdId")
        if not (staffed and staffed[1]):
            raise Refusal(ErrorCode.FORBIDDEN, "Only the county or staff of the household's community may pair")
        standing = await db.cadre_units(conn, cadre.id)
        if standing is None or not standing[0] or not standing[1]:
            raise Refusal(ErrorCode.INVALID, "A cadre is a party member holding an active post in a unit", ["cadreId"])
        start = since or clock.today(ctx.settings.zone)
        _not_future(ctx, start, "since")
        try:
            async with conn.transaction():
                new_id = await db.insert_pairing(conn, viewer.county_id, cadre.id, household.id, start, viewer.user_id)
        except asyncpg.UniqueViolationError:
            raise Refusal(ErrorCode.ALREADY_EXISTS, "This cadre is already paired with this household") from None
        row = (await db.pairings_by_id(conn, [new_id]))[new_id]
        return row, Audited("Pairing", new_id, {"cadre": cadre.id, "household": household.id})

    return await run(ctx, "pair", body)


async def end_pairing(ctx: Context, pairing_id: str, until: datetime.date | None) -> Outcome[PairingRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[PairingRow, Audited]:
        locked = await db.pairing_for_update(conn, _id(pairing_id, "pairingId", "Pairing"), viewer_key(viewer))
        if locked is None or locked.reason is None:
            raise Refusal(ErrorCode.NOT_FOUND, "No such pairing", ["pairingId"])
        found = locked.row
        if locked.reason not in STAFF_REASONS:
            raise Refusal(ErrorCode.FORBIDDEN, "Only the county or staff of the household's community may end it")
        if found.until is not None:
            raise Refusal(ErrorCode.INVALID_STATE, "This pairing has already ended", ["pairingId"])
        day = until or clock.today(ctx.settings.zone)
        _not_future(ctx, day, "until")
        if day < found.since:
            raise Refusal(ErrorCode.INVALID, "A pairing cannot end before it began", ["until"])
        await db.end_pairing(conn, found.id, day)
        row = (await db.pairings_by_id(conn, [found.id]))[found.id]
        return row, Audited("Pairing", found.id, {"until": day.isoformat()})

    return await run(ctx, "endPairing", body)


MAX_KEY = 100


async def record_visit(
    ctx: Context,
    pairing_id: str,
    kind: str,
    occurred_on: datetime.date,
    notes: str | None,
    idempotency_key: str | None = None,
) -> Outcome[VisitRecorded]:
    viewer = ctx.signed_in
    key = idempotency_key.strip() if idempotency_key is not None else None

    async def body(conn: Conn) -> tuple[VisitRecorded, Audited]:
        if key is not None and (not key or len(key) > MAX_KEY or "\x00" in key):
            raise Refusal(ErrorCode.INVALID, f"An idempotency key has 1 to {MAX_KEY} characters", ["idempotencyKey"])
        locked = await db.pairing_for_update(conn, _id(pairing_id, "pairingId", "Pairing"), viewer_key(viewer))
        if locked is None or locked.reason is None:
            raise Refusal(ErrorCode.NOT_FOUND, "No such pairing", ["pairingId"])
        found = locked.row
        if not locked.cadre:
            raise Refusal(ErrorCode.FORBIDDEN, "Only the paired cadre records visits")
        if found.until is not None:
            raise Refusal(ErrorCode.INVALID_STATE, "This pairing has ended", ["pairingId"])
        _not_future(ctx, occurred_on, "occurredOn")
        if occurred_on < found.since:
            raise Refusal(ErrorCode.INVALID, "The visit cannot be before the pairing began", ["occurredOn"])
        text = notes.strip() if notes else None
        visit, new = await db.insert_visit(
            conn, viewer.county_id, found.id, kind, occurred_on, text or None, viewer.user_id, key
        )
        if not new:  # a repeat: the first visit, pairing and all
            first = (await db.pairings_by_id(conn, [visit.pairing_id]))[visit.pairing_id]
            return VisitRecorded(visit, first), Audited("Visit", visit.id, {"repeated": True})
        return VisitRecorded(visit, found), Audited("Visit", visit.id, {"pairing": found.id, "kind": kind})

    return await run(ctx, "recordVisit", body)


async def _own_current_visit(ctx: Context, conn: Conn, visit_id: str) -> tuple[VisitRow, PairingRow]:
    """A visit the viewer recorded as the pairing's cadre, still in its current period."""
    viewer = ctx.signed_in
    pk = _id(visit_id, "visitId", "Visit")
    visit = await db.visit_for_update(conn, pk)
    locked = await db.pairing_for_update(conn, visit.pairing_id, viewer_key(viewer)) if visit else None
    if visit is None or locked is None or locked.reason is None:
        raise Refusal(ErrorCode.NOT_FOUND, "No such visit", ["visitId"])
    pairing = locked.row
    if not locked.cadre:
        raise Refusal(ErrorCode.FORBIDDEN, "Only the paired cadre corrects their visits")
    if visit.occurred_on < period(visit.kind, clock.today(ctx.settings.zone))[0]:
        raise Refusal(ErrorCode.INVALID_STATE, "Only a visit of the current period may be changed", ["visitId"])
    return visit, pairing


def _visit_detail(visit: VisitRow) -> dict[str, Any]:
    return {"kind": visit.kind, "occurredOn": visit.occurred_on.isoformat(), "notes": visit.notes}


async def correct_visit(
    ctx: Context, visit_id: str, kind: str | None, occurred_on: datetime.date | None, notes: str | None
) -> Outcome[VisitRecorded]:
    """The cadre corrects a visit of the current period: its kind, day or notes (audited, with
    what it was)."""

    async def body(conn: Conn) -> tuple[VisitRecorded, Audited]:
        visit, pairing = await _own_current_visit(ctx, conn, visit_id)
        new_kind = kind or visit.kind
        day = occurred_on or visit.occurred_on
        _not_future(ctx, day, "occurredOn")
        if day < pairing.since:
            raise Refusal(ErrorCode.INVALID, "The visit cannot be before the pairing began", ["occurredOn"])
        if day < period(new_kind, clock.today(ctx.settings.zone))[0]:
            raise Refusal(ErrorCode.INVALID, "A corrected visit stays in the current period", ["occurredOn"])
        text = (notes.strip() or None) if notes is not None else visit.notes
        changed = await db.correct_visit(conn, visit.id, new_kind, day, text)
        detail = {"before": _visit_detail(visit), "after": _visit_detail(changed)}
        return VisitRecorded(changed, pairing), Audited("Visit", visit.id, detail)

    return await run(ctx, "correctVisit", body)


async def delete_visit(ctx: Context, visit_id: str) -> Outcome[PairingRow]:
    """The cadre deletes a visit of the current period (audited, with what it was)."""

    async def body(conn: Conn) -> tuple[PairingRow, Audited]:
        visit, pairing = await _own_current_visit(ctx, conn, visit_id)
        await db.delete_visit(conn, visit.id)
        return pairing, Audited("Visit", visit.id, {"deleted": _visit_detail(visit), "pairing": pairing.id})

    return await run(ctx, "deleteVisit", body)


async def register_with_community(
    ctx: Context, community_id: str, organisation_id: str | None, person_id: str | None
) -> Outcome[RegistrationRow]:
    viewer = ctx.signed_in

    async def body(conn: Conn) -> tuple[RegistrationRow, Audited]:
        if (organisation_id is None) == (person_id is None):
            raise Refusal(ErrorCode.INVALID, "Give either organisationId or personId", ["organisationId"])
        community = await _area(conn, ctx, _id(community_id, "communityId", *AREA_TYPES.values()), "communityId")
        if community.level != "COMMUNITY":
            raise Refusal(ErrorCode.INVALID, "Registration is with a community", ["communityId"])
        org: int | None = None
        person: int | None = None
        if organisation_id is not None:
            found = await _organisation(
                conn, ctx, _id(organisation_id, "organisationId", "Organisation"), "organisationId"
            )
            unit, registers = await db.registering_organisation(conn, found.id, viewer_key(viewer))
            if unit is None:
                raise Refusal(ErrorCode.INVALID, "Only a unit's party organisation registers", ["organisationId"])
            if not registers:
                raise Refusal(ErrorCode.FORBIDDEN, "Only the unit's admin registers its party organisation")
            org = found.id
        else:
            assert person_id is not None
            registering = await db.registering_person(conn, _id(person_id, "personId", "Person"), viewer_key(viewer))
            member = _in_county(registering[0] if registering else None, ctx, "person", "personId")
            if not (registering and registering[1]):
                raise Refusal(ErrorCode.FORBIDDEN, "A party member registers themself")
            if not member.party_member:
                raise Refusal(ErrorCode.INVALID, "Only a party member registers", ["personId"])
            if community.id not in await db.home_communities(conn, member.id):
                raise Refusal(
                    ErrorCode.INVALID,
                    "A party member registers with the community they live in (without a household in the county: "
                    "a community their unit serves)",
                    ["communityId"],
                )
            person = member.id
        try:
            async with conn.transaction():
                new_id = await db.insert_registration(conn, viewer.county_id, community.id, org, person)
        except asyncpg.UniqueViolationError:
            raise Refusal(ErrorCode.ALREADY_EXISTS, "Already registered with this community", ["communityId"]) from None
        row = (await db.registrations_by_id(conn, [new_id]))[new_id]
        return row, Audited("Registration", new_id, {"community": community.id})

    return await run(ctx, "registerWithCommunity", body)


def decide_registration(status: str, action: str) -> Callable[[Context, str], Awaitable[Outcome[RegistrationRow]]]:
    async def decide(ctx: Context, registration_id: str) -> Outcome[RegistrationRow]:
        viewer = ctx.signed_in

        async def body(conn: Conn) -> tuple[RegistrationRow, Audited]:
            locked = await db.registration_for_update(
                conn, _id(registration_id, "registrationId", "Registration"), viewer_key(viewer)
            )
            if locked is None or locked[1] is None:
                raise Refusal(ErrorCode.NOT_FOUND, "No such registration", ["registrationId"])
            found, reason = locked
            if reason != "STAFF":
                raise Refusal(ErrorCode.FORBIDDEN, "Only the county or staff of the community decide")
            if found.status != "PENDING":
                raise Refusal(ErrorCode.INVALID_STATE, f"This registration is already {found.status}")
            await db.decide_registration(conn, found.id, status, viewer.user_id)
            row = (await db.registrations_by_id(conn, [found.id]))[found.id]
            return row, Audited("Registration", found.id, {"status": status})

        return await run(ctx, action, body)

    return decide


confirm_registration = decide_registration("CONFIRMED", "confirmRegistration")
reject_registration = decide_registration("REJECTED", "rejectRegistration")


def user_errors(outcome: Outcome[Any]) -> list[Any]:
    return list(outcome.user_errors)
