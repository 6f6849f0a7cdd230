"""Adoption, pairing (结对交友) and the three obligations (三个一), dual registration
(双报到), and the coverage, compliance and statistics reports."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db.adoptions import AdoptionRow
from db.areas import HouseholdRow
from db.attachments import AttachmentRow
from db.pairings import Compliance, Coverage, PairingRow, RegistrationRow, VisitRow
from db.pairings import Statistics as StatisticsRow
from resolvers import ids, rules
from resolvers import pairings as r
from resolvers.compiled import declarations as compiled
from resolvers.compiled import planner as compiled_planner
from resolvers.mutations import Outcome
from resolvers.pagination import Page
from resolvers.permissions import SignedIn, described
from schema.adoptions import Adoption, AdoptionDuty
from schema.areas import Community, Household, Organisation, Person
from schema.attachments import Attachment, attachments_field
from schema.base import FILTER, Connection, Node, UserError, UserErrorRows, is_row
from schema.derived import declared, of_rule, paged

First = Annotated[int | None, strawberry.argument(description="Page size: 20 by default, at most 100")]
After = Annotated[str | None, strawberry.argument(description="Cursor of the last item of the previous page")]
AreaId = Annotated[strawberry.ID, strawberry.argument(description="An area of any level (county to stairwell unit)")]


@strawberry.enum(description="The three obligations of a pairing (三个一)")
class ObligationKind(enum.Enum):
    HOME_VISIT = strawberry.enum_value("HOME_VISIT", description="Home visit (入户走访), once a calendar month")
    HEART_TO_HEART = strawberry.enum_value(
        "HEART_TO_HEART", description="Heart-to-heart talk (谈心谈话), once a half-year (Jan-Jun, Jul-Dec)"
    )
    GOOD_DEED = strawberry.enum_value("GOOD_DEED", description="Good deed (办实事), once a calendar year")


@strawberry.enum(description="Whether an obligation is met in its current period")
class ObligationStatus(enum.Enum):
    MET = strawberry.enum_value("MET", description="At least one visit of the kind in the period so far")
    DUE = strawberry.enum_value("DUE", description="No visit of the kind yet in the period")


@strawberry.enum(description="Where a dual registration (双报到) stands")
class RegistrationStatus(enum.Enum):
    PENDING = strawberry.enum_value("PENDING", description="Waiting for the community's staff")
    CONFIRMED = strawberry.enum_value("CONFIRMED", description="Confirmed by the community's staff")
    REJECTED = strawberry.enum_value("REJECTED", description="Rejected; the registrant may register again")


@strawberry.type(description="One obligation of a pairing in the period containing `asOf`")
class Obligation:
    kind: ObligationKind = strawberry.field(description="Which of the three obligations")
    period_start: datetime.date = strawberry.field(description="First day of the period")
    period_end: datetime.date = strawberry.field(description="Last day of the period")
    done: int = strawberry.field(description="Visits of this kind from periodStart to asOf inclusive")
    status: ObligationStatus = strawberry.field(description="MET when done >= 1, otherwise DUE")


@strawberry.type(description="A visit a cadre made to a paired household (入户、谈心、办实事)")
class Visit(Node):
    is_type_of = is_row(VisitRow)
    kind: ObligationKind = strawberry.field(description="The obligation the visit serves")
    occurred_on: datetime.date = strawberry.field(description="The local date of the visit")
    notes: str | None = strawberry.field(
        resolver=of_rule(r.visit_notes),
        description="What was done or learnt; personal data: null except for the cadre, the county admin and "
        "staff in scope",
    )
    pairing: Pairing = strawberry.field(resolver=of_rule(r.visit_pairing), description="The pairing it belongs to")
    attachments: list[AttachmentRow] = strawberry.field(
        resolver=attachments_field,
        graphql_type=list[Attachment],
        description="Photos and documents (照片和文件), oldest first",
    )


@strawberry.type(name="VisitConnection", description="A page of visits, oldest first")
class VisitConnection(Connection[Visit]):
    pass


async def _pairing_obligations(
    root: PairingRow,
    info: Info[Any, Any],
    as_of: Annotated[
        datetime.date | None,
        strawberry.argument(description="The day to judge at; today in the county's time zone by default"),
    ] = None,
) -> list[r.Obligation]:
    return await r.pairing_obligations(root, info.context, as_of)


@strawberry.type(description="Pairing (结对交友): a cadre befriends a household")
class Pairing(Node):
    is_type_of = is_row(PairingRow)
    since: datetime.date = strawberry.field(description="First day of the pairing")
    until: datetime.date | None = strawberry.field(description="Last day, once the pairing has ended")
    cadre: Person = strawberry.field(
        resolver=of_rule(r.pairing_cadre), description="The cadre (a party member working in a unit)"
    )
    household: Household = strawberry.field(resolver=of_rule(r.pairing_household), description="The paired household")
    unit: Organisation | None = strawberry.field(
        resolver=of_rule(r.pairing_unit), description="The unit (机关企事业单位) the cadre works in"
    )
    obligations: list[r.Obligation] = strawberry.field(
        resolver=_pairing_obligations,
        graphql_type=list[Obligation],
        description="The three obligations (三个一) in their periods containing asOf",
    )
    visits: VisitConnection = strawberry.field(
        resolver=paged(r.pairing_visits), description="Visits recorded, oldest first"
    )


@strawberry.type(name="PairingConnection", description="A page of pairings")
class PairingConnection(Connection[Pairing]):
    pass


@strawberry.type(
    description="Dual registration (双报到): a unit's party organisation with the community it serves, "
    "or a party member with the community they live in; staff confirm it. Visible to the registrant "
    "(the person, or the unit's UNIT_ADMIN), COUNTY_ADMIN and staff in scope of the community"
)
class Registration(Node):
    is_type_of = is_row(RegistrationRow)
    status: RegistrationStatus = strawberry.field(description="PENDING until staff confirm or reject it")
    community: Community = declared("The community")
    organisation: Organisation | None = declared("The registering party organisation (or unit), if any")
    person: Person | None = declared("The registering party member, if any")
    registered_at: datetime.datetime = strawberry.field(description="When it was registered")
    decided_at: datetime.datetime | None = strawberry.field(description="When staff confirmed or rejected it")


@strawberry.type(name="RegistrationConnection", description="A page of registrations, oldest first")
class RegistrationConnection(Connection[Registration]):
    pass


@strawberry.input(description="Narrows `registrations`; every given field must match")
class RegistrationFilter:
    community_id: strawberry.ID | None = strawberry.field(default=None, description="Only with this community")
    status: RegistrationStatus | None = strawberry.field(default=None, description="Only in this status")


async def _registrations(
    info: Info[Any, Any],
    filter: Annotated[RegistrationFilter | None, FILTER] = None,
    first: First = None,
    after: After = None,
) -> Page[RegistrationRow]:
    f = filter or RegistrationFilter()
    status = f.status.name if f.status is not None else None
    return await r.registration_list(info.context, f.community_id, status, first, after)


# --- reports ---------------------------------------------------------------------------------


@strawberry.type(description="Coverage (全覆盖) of an area: heads, adoptions and pairings")
class CoverageReport:
    buildings: int = strawberry.field(description="Buildings inside the area")
    buildings_with_head: int = strawberry.field(description="Buildings with a current building head (楼栋长)")
    adopted_buildings: int = strawberry.field(
        description="Buildings adopted (包抓) directly or through their compound, by an active adoption"
    )
    households: int = strawberry.field(description="Households inside the area")
    paired_households: int = strawberry.field(description="Households with at least one active pairing")
    uncovered_households: Connection[Household] = strawberry.field(
        resolver=paged(r.uncovered_households), description="Households without an active pairing"
    )


@strawberry.type(description="MET and DUE counts of one obligation kind")
class KindCompliance:
    kind: ObligationKind = strawberry.field(description="The obligation")
    met: int = strawberry.field(description="Pairings that have met it in the period containing asOf")
    due: int = strawberry.field(description="Pairings that still owe it")


def _by_kind(root: Compliance) -> list[r.KindCompliance]:
    return r.compliance_by_kind(root)


async def _due_households(
    root: Compliance,
    info: Info[Any, Any],
    kind: Annotated[ObligationKind, strawberry.argument(description="The obligation")],
    first: First = None,
    after: After = None,
) -> Page[HouseholdRow]:
    return await r.due_households(root, info.context, kind.name, first, after)


@strawberry.type(description="How the pairings of an area meet the three obligations (三个一) at a date")
class ComplianceReport:
    pairings: int = strawberry.field(description="Pairings of households inside the area, active at asOf")
    by_kind: list[r.KindCompliance] = strawberry.field(
        resolver=_by_kind, graphql_type=list[KindCompliance], description="MET and DUE per kind"
    )
    due: PairingConnection = strawberry.field(
        resolver=paged(r.due_pairings), description="Pairings with at least one DUE obligation"
    )
    due_households: Page[HouseholdRow] = strawberry.field(
        resolver=_due_households,
        graphql_type=Connection[Household],
        description="Households inside the area for which no active pairing has met the obligation `kind` in its "
        "period containing asOf (a household with two cadres is due only when neither met it), ordered by "
        "fullAddress. Households without an active pairing owe nothing: see coverage.uncoveredHouseholds",
    )


@strawberry.type(description="Figures of an area, as the county report gives them")
class Statistics:
    party_branches: int = strawberry.field(description="Party branches (党支部) attached to areas inside")
    functional_branches: int = strawberry.field(description="Compound functional branches (小区功能型党支部)")
    building_heads: int = strawberry.field(description="Distinct people currently heading a building (楼栋长)")
    households: int = strawberry.field(description="Households (家庭户)")
    residents: int = strawberry.field(description="People registered in those households")
    adopting_units: int = strawberry.field(description="Distinct units with an active adoption (包抓) inside")
    adopted_areas: int = strawberry.field(description="Distinct areas inside with an active adoption")
    paired_cadres: int = strawberry.field(description="Distinct cadres with an active pairing (结对) inside")
    paired_households: int = strawberry.field(description="Households with an active pairing")
    parking_spaces_opened: int = strawberry.field(
        description="Total quantity of PARKING resources open to communities of the area (or the area's own "
        "community), neither withdrawn nor past availableUntil"
    )
    activities_held: int = strawberry.field(description="Activities of those communities that have ended")
    renovated_compounds: int = strawberry.field(description="Compounds whose renovation (老旧小区改造) is complete")
    illegal_structures_removed: int = strawberry.field(
        description="Illegal structures removed (拆违): rectified findings of category ILLEGAL_STRUCTURE inside"
    )
    orders_placed: int = strawberry.field(description="Service orders placed by households inside")
    orders_completed: int = strawberry.field(description="Of those, COMPLETED or CLOSED")
    average_rating: float | None = strawberry.field(description="Mean rating of rated orders; null when none")


REPORT_ACCESS = (
    " Allowed to COUNTY_ADMIN, to staff whose scope holds the area, to the building head of a building (for the "
    "building and its stairwell units) and to the UNIT_ADMIN of a unit with an "
    "active adoption of the area or of an area above it; anyone else gets a GraphQL error FORBIDDEN. "
    "Null for an unknown area id."
)


async def _coverage(info: Info[Any, Any], area_id: AreaId) -> Coverage | None:
    return await r.coverage(info.context, area_id)


async def _compliance(
    info: Info[Any, Any],
    area_id: AreaId,
    as_of: Annotated[datetime.date, strawberry.argument(description="The day to judge at (county calendar)")],
) -> Compliance | None:
    return await r.compliance(info.context, area_id, as_of)


async def _statistics(
    info: Info[Any, Any],
    area_id: AreaId,
    from_: Annotated[
        datetime.date | None,
        strawberry.argument(name="from", description="First day of the period (county calendar); with `to`"),
    ] = None,
    to: Annotated[
        datetime.date | None, strawberry.argument(description="Last day of the period, inclusive; with `from`")
    ] = None,
) -> StatisticsRow | None:
    return await r.statistics(info.context, area_id, from_, to)


@strawberry.type
class PairingsQuery:
    coverage: Coverage | None = strawberry.field(
        resolver=_coverage,
        graphql_type=CoverageReport | None,
        permission_classes=[SignedIn],
        description=described(
            "Coverage of an area of any level (counts inside it)." + REPORT_ACCESS, rules.IN_COUNTY, rules.REPORT_READER
        ),
    )
    compliance: Compliance | None = strawberry.field(
        resolver=_compliance,
        graphql_type=ComplianceReport | None,
        permission_classes=[SignedIn],
        description=described(
            "Compliance with the three obligations at asOf." + REPORT_ACCESS, rules.REPORT_READER, rules.PAIRING_ACCESS
        ),
    )
    registrations: Page[RegistrationRow] = strawberry.field(
        resolver=_registrations,
        graphql_type=RegistrationConnection,
        permission_classes=[SignedIn],
        description=described(
            "Dual registrations (双报到) the viewer may see, oldest first: the registrant their own, staff "
            "those of communities in scope, a unit's UNIT_ADMIN those of the unit and its members, COUNTY_ADMIN all",
            rules.REGISTRATION_ACCESS,
        ),
    )
    statistics: StatisticsRow | None = strawberry.field(
        resolver=_statistics,
        graphql_type=Statistics | None,
        permission_classes=[SignedIn],
        description=described(
            "The figures of an area of any level. With a period (`from` to `to` inclusive, county "
            "time), the figures about events (activitiesHeld, renovatedCompounds by year, illegalStructuresRemoved, "
            "ordersPlaced, ordersCompleted, averageRating of the orders rated then) count only what happened in it; "
            "the others describe the area as it is. `from` after `to`: BAD_USER_INPUT." + REPORT_ACCESS,
            rules.IN_COUNTY,
            rules.REPORT_READER,
        ),
    )


# --- mutations -------------------------------------------------------------------------------


@strawberry.input(description="A unit adopts a compound or building")
class AdoptInput:
    unit_id: strawberry.ID = strawberry.field(description="A GOVERNMENT_UNIT, ENTERPRISE or PUBLIC_INSTITUTION")
    area_id: strawberry.ID = strawberry.field(description="A compound or building")
    duties: list[AdoptionDuty] | None = strawberry.field(default=None, description="All three when omitted")
    since: datetime.date | None = strawberry.field(default=None, description="Today when omitted; not in the future")


@strawberry.input(description="End an adoption")
class EndAdoptionInput:
    adoption_id: strawberry.ID = strawberry.field(description="The adoption to end")
    until: datetime.date | None = strawberry.field(
        default=None, description="Its last day: today when omitted; neither in the future nor before it began"
    )


@strawberry.input(description="Pair a cadre with a household")
class PairInput:
    cadre_id: strawberry.ID = strawberry.field(description="A party member holding an active post in a unit")
    household_id: strawberry.ID = strawberry.field(description="The household to befriend")
    since: datetime.date | None = strawberry.field(default=None, description="Today when omitted; not in the future")


@strawberry.input(description="End a pairing")
class EndPairingInput:
    pairing_id: strawberry.ID = strawberry.field(description="The pairing to end")
    until: datetime.date | None = strawberry.field(
        default=None, description="Its last day: today when omitted; neither in the future nor before it began"
    )


@strawberry.input(description="A visit made by the paired cadre")
class RecordVisitInput:
    pairing_id: strawberry.ID = strawberry.field(description="The cadre's own pairing")
    kind: ObligationKind = strawberry.field(description="Home visit, heart-to-heart talk or good deed")
    occurred_on: datetime.date = strawberry.field(
        description="Local date; neither in the future (county time) nor before the pairing began"
    )
    notes: str | None = strawberry.field(default=None, description="What was done or learnt")
    idempotency_key: str | None = strawberry.field(
        default=None, description="Repeating a call with the same key (same user) returns the first visit"
    )


@strawberry.input(description="Correct a visit of the current period; omitted fields stay as they are")
class CorrectVisitInput:
    visit_id: strawberry.ID = strawberry.field(description="The cadre's own visit")
    kind: ObligationKind | None = strawberry.field(default=None, description="The obligation it serves")
    occurred_on: datetime.date | None = strawberry.field(
        default=None, description="Local date, in the current period of its kind and not in the future"
    )
    notes: str | None = strawberry.field(default=None, description="What was done or learnt")


@strawberry.input(description="Delete a visit of the current period")
class DeleteVisitInput:
    visit_id: strawberry.ID = strawberry.field(description="The cadre's own visit")


@strawberry.input(description="Dual registration: give either organisationId or personId")
class RegisterWithCommunityInput:
    community_id: strawberry.ID = strawberry.field(description="The community registered with")
    organisation_id: strawberry.ID | None = strawberry.field(
        default=None, description="A unit's party organisation (or the unit itself); by the unit's UNIT_ADMIN"
    )
    person_id: strawberry.ID | None = strawberry.field(
        default=None, description="A party member registering with their home community; by themself"
    )


@strawberry.input(description="Confirm or reject a pending registration")
class DecideRegistrationInput:
    registration_id: strawberry.ID = strawberry.field(description="A PENDING registration")


MUTATION_INPUT = strawberry.argument(description="The mutation's one input")


def _errors(root: Any) -> list[UserError]:
    return r.user_errors(root)


@strawberry.type(description="The result of adopt / endAdoption")
class AdoptionPayload:
    adoption: Adoption | None = strawberry.field(resolver=lambda root: root.value, description="The adoption")
    user_errors: list[UserError] = strawberry.field(resolver=_errors, description="Why it was refused")


@strawberry.type(description="The result of pair / endPairing")
class PairingPayload:
    pairing: Pairing | None = strawberry.field(resolver=lambda root: root.value, description="The pairing")
    user_errors: list[UserError] = strawberry.field(resolver=_errors, description="Why it was refused")


@strawberry.type(description="The result of recordVisit")
class RecordVisitPayload:
    visit: Visit | None = strawberry.field(
        resolver=lambda root: root.value.visit if root.value else None, description="The recorded visit"
    )
    pairing: Pairing | None = strawberry.field(
        resolver=lambda root: root.value.pairing if root.value else None, description="Its pairing"
    )
    user_errors: list[UserError] = strawberry.field(resolver=_errors, description="Why it was refused")


@strawberry.type(description="The result of deleteVisit")
class DeleteVisitPayload:
    deleted_visit_id: strawberry.ID | None = strawberry.field(
        resolver=lambda root: root.deleted_id, description="The deleted visit's id"
    )
    pairing: Pairing | None = strawberry.field(resolver=lambda root: root.pairing, description="Its pairing")
    user_errors: list[UserError] = strawberry.field(
        resolver=lambda root: list(root.user_errors), description="Why it was refused"
    )


@strawberry.type(description="The result of a registration mutation")
class RegistrationPayload:
    registration: Registration | None = strawberry.field(
        resolver=lambda root: root.value, description="The registration"
    )
    user_errors: list[UserError] = strawberry.field(resolver=_errors, description="Why it was refused")


async def _adopt(info: Info[Any, Any], input: Annotated[AdoptInput, MUTATION_INPUT]) -> Outcome[AdoptionRow]:
    duties = [d.value for d in input.duties] if input.duties is not None else None
    return await r.adopt(info.context, input.unit_id, input.area_id, duties, input.since)


async def _end_adoption(
    info: Info[Any, Any], input: Annotated[EndAdoptionInput, MUTATION_INPUT]
) -> Outcome[AdoptionRow]:
    return await r.end_adoption(info.context, input.adoption_id, input.until)


async def _pair(info: Info[Any, Any], input: Annotated[PairInput, MUTATION_INPUT]) -> Outcome[PairingRow]:
    return await r.pair(info.context, input.cadre_id, input.household_id, input.since)


async def _end_pairing(info: Info[Any, Any], input: Annotated[EndPairingInput, MUTATION_INPUT]) -> Outcome[PairingRow]:
    return await r.end_pairing(info.context, input.pairing_id, input.until)


async def _record_visit(
    info: Info[Any, Any], input: Annotated[RecordVisitInput, MUTATION_INPUT]
) -> Outcome[r.VisitRecorded]:
    return await r.record_visit(
        info.context, input.pairing_id, input.kind.name, input.occurred_on, input.notes, input.idempotency_key
    )


async def _correct_visit(
    info: Info[Any, Any], input: Annotated[CorrectVisitInput, MUTATION_INPUT]
) -> Outcome[r.VisitRecorded]:
    kind = input.kind.name if input.kind is not None else None
    return await r.correct_visit(info.context, input.visit_id, kind, input.occurred_on, input.notes)


@dataclass(frozen=True)
class _Deleted:
    """What deleteVisit answers, read by DeleteVisitPayload's resolvers."""

    deleted_id: str | None
    pairing: PairingRow | None
    user_errors: UserErrorRows


async def _delete_visit(info: Info[Any, Any], input: Annotated[DeleteVisitInput, MUTATION_INPUT]) -> _Deleted:
    outcome = await r.delete_visit(info.context, input.visit_id)
    deleted = input.visit_id if outcome.value is not None else None
    return _Deleted(deleted, outcome.value, outcome.user_errors)


async def _register(
    info: Info[Any, Any], input: Annotated[RegisterWithCommunityInput, MUTATION_INPUT]
) -> Outcome[RegistrationRow]:
    return await r.register_with_community(info.context, input.community_id, input.organisation_id, input.person_id)


async def _confirm(
    info: Info[Any, Any], input: Annotated[DecideRegistrationInput, MUTATION_INPUT]
) -> Outcome[RegistrationRow]:
    return await r.confirm_registration(info.context, input.registration_id)


async def _reject(
    info: Info[Any, Any], input: Annotated[DecideRegistrationInput, MUTATION_INPUT]
) -> Outcome[RegistrationRow]:
    return await r.reject_registration(info.context, input.registration_id)


@strawberry.type
class PairingsMutation:
    adopt: Outcome[AdoptionRow] = strawberry.mutation(
        resolver=_adopt,
        graphql_type=AdoptionPayload,
        permission_classes=[SignedIn],
        description=described(
            "A unit adopts (包抓) a compound or building. By COUNTY_ADMIN, staff in scope of the area, "
            "or the unit's UNIT_ADMIN. The same unit and area active twice: ALREADY_EXISTS",
            rules.ADOPTION_PARTIES,
        ),
    )
    end_adoption: Outcome[AdoptionRow] = strawberry.mutation(
        resolver=_end_adoption,
        graphql_type=AdoptionPayload,
        permission_classes=[SignedIn],
        description=described(
            "End an adoption on a date (same people as adopt); an ended one: INVALID_STATE", rules.ADOPTION_PARTIES
        ),
    )
    pair: Outcome[PairingRow] = strawberry.mutation(
        resolver=_pair,
        graphql_type=PairingPayload,
        permission_classes=[SignedIn],
        description=described(
            "Pair (结对) a cadre with a household. By COUNTY_ADMIN or staff in scope of the household. "
            "The same active pair twice: ALREADY_EXISTS",
            rules.STAFF_OF_AREA,
        ),
    )
    end_pairing: Outcome[PairingRow] = strawberry.mutation(
        resolver=_end_pairing,
        graphql_type=PairingPayload,
        permission_classes=[SignedIn],
        description=described(
            "End a pairing on a date (same people as pair); an ended one: INVALID_STATE",
            rules.PAIRING_ACCESS,
            rules.STAFF_OF_AREA,
        ),
    )
    record_visit: Outcome[r.VisitRecorded] = strawberry.mutation(
        resolver=_record_visit,
        graphql_type=RecordVisitPayload,
        permission_classes=[SignedIn],
        description=described(
            "Record a visit: only the paired cadre; occurredOn neither in the future (county time) "
            "nor before the pairing began (INVALID)",
            rules.PAIRING_ACCESS,
            rules.PAIRED_CADRE,
        ),
    )
    correct_visit: Outcome[r.VisitRecorded] = strawberry.mutation(
        resolver=_correct_visit,
        graphql_type=RecordVisitPayload,
        permission_classes=[SignedIn],
        description=described(
            "Correct a visit: only its cadre, only while the visit lies in the current period of its kind "
            "(INVALID_STATE after); the change is audited with what it was",
            rules.PAIRING_ACCESS,
            rules.PAIRED_CADRE,
        ),
    )
    delete_visit: _Deleted = strawberry.mutation(
        resolver=_delete_visit,
        graphql_type=DeleteVisitPayload,
        permission_classes=[SignedIn],
        description=described(
            "Delete a visit: only its cadre, only while the visit lies in the current period of its kind "
            "(INVALID_STATE after); audited with what it was",
            rules.PAIRING_ACCESS,
            rules.PAIRED_CADRE,
        ),
    )
    register_with_community: Outcome[RegistrationRow] = strawberry.mutation(
        resolver=_register,
        graphql_type=RegistrationPayload,
        permission_classes=[SignedIn],
        description=described(
            "Dual registration (双报到), PENDING until staff confirm; a live duplicate: ALREADY_EXISTS",
            rules.UNIT_ADMIN_OF_UNIT,
        ),
    )
    confirm_registration: Outcome[RegistrationRow] = strawberry.mutation(
        resolver=_confirm,
        graphql_type=RegistrationPayload,
        permission_classes=[SignedIn],
        description=described(
            "Confirm a PENDING registration: COUNTY_ADMIN or staff in scope of the community",
            rules.REGISTRATION_ACCESS,
            rules.STAFF_OF_AREA,
        ),
    )
    reject_registration: Outcome[RegistrationRow] = strawberry.mutation(
        resolver=_reject,
        graphql_type=RegistrationPayload,
        permission_classes=[SignedIn],
        description=described(
            "Reject a PENDING registration: COUNTY_ADMIN or staff in scope of the community",
            rules.REGISTRATION_ACCESS,
            rules.STAFF_OF_AREA,
        ),
    )


ALL_TYPES = [Pairing, Visit, Registration]


# --- the compiled read path: each type's SQL, declared once (resolvers/compiled) -------------

# the rule (0027_accounts_and_attachments.sql), as db/pairings.py asks it
_PAIRING_VISIBLE = "EXISTS (SELECT 1 FROM {viewer_from} w WHERE pairing_access({row}, w) IS NOT NULL)"
compiled.declare(
    "Pairing",
    compiled.Source(
        "pairings",
        _PAIRING_VISIBLE,
        {
            "id": compiled.GlobalId(),
            "since": compiled.Column(compiled.date("{row}.since")),
            "until": compiled.Column(compiled.date("{row}.until")),
            "cadre": compiled.Relation("Person", "one", "{row}.id = {parent}.cadre_id"),
            "household": compiled.Relation("Household", "one", "{row}.id = {parent}.household_id"),
            # db/pairings.py FIRST_UNIT_OF_PERSONS: the unit the cadre works in (the first, when several)
            "unit": compiled.Relation(
                "Organisation", "one", "{row}.id = (SELECT min(u) FROM unnest(units_of({parent}.cadre_id)) u)"
            ),
        },
    ),
)
# db/pairings.py PAIRINGS_OF_HOUSEHOLDS: the household's active pairings the viewer may see
compiled.declare_field(
    "Household",
    "pairings",
    compiled.Relation(
        "Pairing", "list", "{row}.household_id = {parent}.id AND {row}.until IS NULL AND " + _PAIRING_VISIBLE
    ),
)

# the rule (0012_finding_parties.sql)
_REGISTRATION_VISIBLE = "EXISTS (SELECT 1 FROM {viewer_from} w WHERE registration_access({row}, w) IS NOT NULL)"
compiled.declare(
    "Registration",
    compiled.Source(
        "registrations",
        _REGISTRATION_VISIBLE,
        {
            "id": compiled.GlobalId(),
            "status": compiled.Column("{row}.status"),
            "registeredAt": compiled.Column(compiled.date_time("{row}.registered_at")),
            "decidedAt": compiled.Column(compiled.date_time("{row}.decided_at")),
            "community": compiled.Relation("Community", "one", "{row}.id = {parent}.community_id"),
            "organisation": compiled.Relation("Organisation", "one", "{row}.id = {parent}.organisation_id"),
            "person": compiled.Relation("Person", "one", "{row}.id = {parent}.person_id"),
        },
    ),
)
_REGISTRATIONS_WHERE = (
    _REGISTRATION_VISIBLE + " AND ({arg_community} IS NULL OR {row}.community_id = {arg_community}) "
    "AND ({arg_status} IS NULL OR {row}.status = {arg_status})"
)


def _registration_arguments(given: Any) -> dict[str, Any]:
    """The filter as `registration_list` reads it (an id of no community: its error)."""
    if given is not None and not isinstance(given, dict):
        raise compiled_planner.Fallback("filter")
    f = given or {}
    community = f.get("communityId")
    status = f.get("status")
    pk = ids.decode_as(community, "Community") if community is not None else None
    if community is not None and pk is None:
        raise compiled_planner.Fallback("communityId")
    return {"community": pk, "status": status.name if isinstance(status, RegistrationStatus) else None}


compiled.declare_root(
    "registrations",
    compiled.RootConnection(
        "Registration",
        "registrations",
        _REGISTRATIONS_WHERE,
        (("community", "bigint"), ("status", "text")),
        _registration_arguments,
    ),
)
