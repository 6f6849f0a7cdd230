"""The area tree (county > town > community > district > compound > building > unit),
organisations, households and people."""

from __future__ import annotations

import datetime
import enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db.access import BUILDING_OFFICE_OF, HOUSEHOLD_REASON_OF, PERSON_REASON_OF
from db.areas import AreaRow, HouseholdRow, OrganisationRow, PersonRow, PostRow, like_pattern
from resolvers import adoptions as adoption_resolvers
from resolvers import areas as r
from resolvers import duallist as duallist_resolvers
from resolvers import ids, rules
from resolvers import pairings as pairing_resolvers
from resolvers import renovations as renovation_resolvers
from resolvers.compiled import declarations as compiled
from resolvers.compiled import planner as compiled_planner
from resolvers.pagination import Page
from resolvers.permissions import SignedIn, described
from schema.adoptions import Adoption, current_adoptions
from schema.base import (
    FILTER,
    INPUT,
    After,
    Connection,
    First,
    Node,
    UserError,
    UserErrorRows,
    describe_values,
    is_row,
)
from schema.derived import declared, of_rule, own_resolvers, paged

if TYPE_CHECKING:
    from schema.duallist import Resource
    from schema.pairings import Pairing, PairingConnection
    from schema.renovations import Renovation


@strawberry.enum(description="Level of an area in the tree (七级: 县/街道/社区/片区/小区/楼栋/单元)")
class AreaLevel(enum.Enum):
    COUNTY = "COUNTY"
    TOWN = "TOWN"
    COMMUNITY = "COMMUNITY"
    DISTRICT = "DISTRICT"
    COMPOUND = "COMPOUND"
    BUILDING = "BUILDING"
    UNIT = "UNIT"


@strawberry.enum(description="Kind of residential compound (小区 / 家属楼 / 自建房)")
class CompoundKind(enum.Enum):
    COMMERCIAL = "COMMERCIAL"
    STAFF_HOUSING = "STAFF_HOUSING"
    SELF_BUILT = "SELF_BUILT"
    RESETTLEMENT = "RESETTLEMENT"
    OTHER = "OTHER"


@strawberry.enum(
    description="Kind of organisation: party organisations (党总支/党支部/功能型党支部), committees, units, companies"
)
class OrganisationKind(enum.Enum):
    GENERAL_BRANCH = "GENERAL_BRANCH"
    PARTY_BRANCH = "PARTY_BRANCH"
    FUNCTIONAL_BRANCH = "FUNCTIONAL_BRANCH"
    RESIDENTS_COMMITTEE = "RESIDENTS_COMMITTEE"
    OWNER_COMMITTEE = "OWNER_COMMITTEE"
    GOVERNMENT_UNIT = "GOVERNMENT_UNIT"
    ENTERPRISE = "ENTERPRISE"
    PUBLIC_INSTITUTION = "PUBLIC_INSTITUTION"
    PROPERTY_COMPANY = "PROPERTY_COMPANY"
    SERVICE_PROVIDER = "SERVICE_PROVIDER"
    SOCIAL_ORGANISATION = "SOCIAL_ORGANISATION"


describe_values(
    AreaLevel,
    {
        "COUNTY": "County (县)",
        "TOWN": "Town or sub-district (镇/街道)",
        "COMMUNITY": "Community (社区)",
        "DISTRICT": "District of a community (片区)",
        "COMPOUND": "Residential compound (小区)",
        "BUILDING": "Building (楼栋)",
        "UNIT": "Stairwell unit of a building (单元)",
    },
)

describe_values(
    CompoundKind,
    {
        "COMMERCIAL": "Commercial housing estate (商品房小区)",
        "STAFF_HOUSING": "Housing of a work unit (家属楼)",
        "SELF_BUILT": "Self-built houses (自建房)",
        "RESETTLEMENT": "Resettlement housing (安置小区)",
        "OTHER": "Any other kind",
    },
)

describe_values(
    OrganisationKind,
    {
        "GENERAL_BRANCH": "Party general branch (党总支)",
        "PARTY_BRANCH": "Party branch (党支部)",
        "FUNCTIONAL_BRANCH": "Functional party branch (功能型党支部)",
        "RESIDENTS_COMMITTEE": "Residents' committee (居委会)",
        "OWNER_COMMITTEE": "Owners' committee (业委会)",
        "GOVERNMENT_UNIT": "Government department or unit (机关单位)",
        "ENTERPRISE": "Enterprise (企业)",
        "PUBLIC_INSTITUTION": "Public institution (事业单位)",
        "PROPERTY_COMPANY": "Property management company (物业)",
        "SERVICE_PROVIDER": "Service provider (服务商)",
        "SOCIAL_ORGANISATION": "Social organisation (社会组织)",
    },
)


Info_ = Info[Any, Any]
AreaRef = Annotated["Area", strawberry.lazy("schema.areas")]


@strawberry.type(description="A period in which a person was responsible for an area (责任人)")
class ResponsibilityPeriod:
    person: Annotated[Person, strawberry.lazy("schema.areas")] = strawberry.field(
        resolver=of_rule(r.responsibility_person), description="Who was responsible"
    )
    since: datetime.datetime = strawberry.field(description="From when")
    until: datetime.datetime | None = strawberry.field(description="Until when; null while still responsible")


_area_adoptions = of_rule(adoption_resolvers.of_area)


@strawberry.interface(description="An area of the tree: county, town, community, district, compound, building or unit")
class Area(Node):
    name: str = strawberry.field(description="Name, public to every signed-in user of the county")
    level: AreaLevel = strawberry.field(description="Level in the tree")
    code: str | None = strawberry.field(description="External code (used by bulk import), unique in the county")
    parent: AreaRef | None = declared("The area this one stands in")
    path: list[AreaRef] = strawberry.field(
        resolver=of_rule(r.path), description="From the county down to this area, inclusive"
    )
    responsible: Annotated[Person, strawberry.lazy("schema.areas")] | None = strawberry.field(
        resolver=of_rule(r.responsible),
        description="The person currently responsible for the area (责任人); null when nobody",
    )
    household_count: int = strawberry.field(
        resolver=of_rule(r.household_count), description="Households inside the area"
    )
    responsibility_history: list[ResponsibilityPeriod] = strawberry.field(
        resolver=of_rule(r.responsibility_history),
        description="Who was responsible for the area when, newest first. For COUNTY_ADMIN and staff in scope; "
        "empty for everyone else",
    )


@strawberry.type(description="County (县): the top of the area tree")
class County(Area):
    is_type_of = is_row(AreaRow, level="COUNTY")


@strawberry.type(description="Town or sub-district (街道/镇)")
class Town(Area):
    is_type_of = is_row(AreaRow, level="TOWN")


@strawberry.type(description="Urban community (社区) run by its two committees (社区两委)")
class Community(Area):
    is_type_of = is_row(AreaRow, level="COMMUNITY")


@strawberry.type(description="District or grid (片区/网格) of a community")
class District(Area):
    is_type_of = is_row(AreaRow, level="DISTRICT")


@strawberry.type(description="Residential compound (小区 / 家属楼 / 自建房)")
class Compound(Area):
    is_type_of = is_row(AreaRow, level="COMPOUND")
    kind: CompoundKind = declared("Kind of compound")
    address: str | None = strawberry.field(description="Street address")
    management_plan: str | None = strawberry.field(description="The compound's management plan (一区一策)")
    community: Community = declared("The community it belongs to")
    district: District | None = declared("Its district (片区), if any")
    owner_committee: Annotated[Organisation, strawberry.lazy("schema.areas")] | None = strawberry.field(
        resolver=of_rule(r.owner_committee), description="Owner committee (业主委员会)"
    )
    functional_branch: Annotated[Organisation, strawberry.lazy("schema.areas")] | None = strawberry.field(
        resolver=of_rule(r.functional_branch), description="Compound functional party branch (小区功能型党支部)"
    )
    property_manager: Annotated[Organisation, strawberry.lazy("schema.areas")] | None = declared(
        "Property company managing the compound (物业公司)"
    )
    renovations: list[Annotated[Renovation, strawberry.lazy("schema.renovations")]] = strawberry.field(
        resolver=of_rule(renovation_resolvers.of_compound),
        description="Its old-compound renovation projects (老旧小区改造), each with status and year, oldest first",
    )
    adoptions: list[Adoption] = strawberry.field(
        resolver=_area_adoptions, description="Current adoptions of the compound by units (包抓)"
    )
    buildings: Connection[Annotated[Building, strawberry.lazy("schema.areas")]] = strawberry.field(
        resolver=paged(r.buildings), description="Buildings of the compound (楼栋)"
    )


@strawberry.type(description="Building (楼栋) of a compound")
class Building(Area):
    is_type_of = is_row(AreaRow, level="BUILDING")
    compound: Compound = declared("The compound of the building")
    head: Annotated[Person, strawberry.lazy("schema.areas")] | None = strawberry.field(
        resolver=of_rule(r.responsible), description="Building head (楼栋长): the building's responsible person"
    )
    households: Connection[Annotated[Household, strawberry.lazy("schema.areas")]] = strawberry.field(
        resolver=paged(r.households), description="Households (家庭户) of the building"
    )
    adoptions: list[Adoption] = strawberry.field(
        resolver=_area_adoptions, description="Current adoptions of the building by units (包抓)"
    )


@strawberry.type(description="Stairwell unit (单元) of a building")
class Unit(Area):
    is_type_of = is_row(AreaRow, level="UNIT")


@strawberry.type(description="An organisation: party organisation, committee, unit, company or provider")
class Organisation(Node):
    is_type_of = is_row(OrganisationRow)
    name: str = strawberry.field(description="Name, public to every signed-in user of the county")
    kind: OrganisationKind = strawberry.field(description="Kind of organisation")
    code: str | None = strawberry.field(description="External code, unique in the county")
    parent: Annotated[Organisation, strawberry.lazy("schema.areas")] | None = declared(
        "The organisation above this one"
    )
    children: list[Annotated[Organisation, strawberry.lazy("schema.areas")]] = declared(
        "Organisations directly under this one"
    )
    area: Area | None = strawberry.field(
        resolver=of_rule(r.organisation_area), description="The area an organisation of the community is attached to"
    )
    members: Connection[Annotated[Post, strawberry.lazy("schema.areas")]] = strawberry.field(
        resolver=paged(r.members), description="Current posts (任职) in the organisation"
    )
    member_count: int = strawberry.field(resolver=of_rule(r.member_count), description="People holding a current post")
    adoptions: list[Adoption] = strawberry.field(
        resolver=of_rule(adoption_resolvers.of_unit),
        description="Compounds and buildings the unit currently adopts (包抓)",
    )
    resources: Connection[Annotated[Resource, strawberry.lazy("schema.duallist")]] = strawberry.field(
        resolver=paged(duallist_resolvers.resources_of_organisation),
        description="Resources (资源) it offers, oldest first (dual list)",
    )


@strawberry.type(description="A post (任职): a person's role in an organisation, with dates")
class Post(Node):
    is_type_of = is_row(PostRow)
    person: Annotated[Person, strawberry.lazy("schema.areas")] = declared("Who holds the post")
    organisation: Organisation = declared("The organisation the post is in")
    role: str = strawberry.field(description="Role, e.g. 书记, 主任, 委员, 科员")
    since: datetime.date = strawberry.field(description="Day the post began")
    until: datetime.date | None = strawberry.field(description="Day it ended; null while current")


@strawberry.type(description="One level of the seven-level responsibility chain (七级责任体系)")
class ResponsibilityLink:
    level: AreaLevel = strawberry.field(description="The level")
    area: Area | None = strawberry.field(description="The area at this level; null where the tree skips the level")
    responsible: Annotated[Person, strawberry.lazy("schema.areas")] | None = strawberry.field(
        description="Who is responsible there; null where nobody is assigned"
    )


@strawberry.type(description="Household (家庭户): a dwelling and the people registered in it")
class Household(Node):
    is_type_of = is_row(HouseholdRow)
    label: str = strawberry.field(description="The dwelling's label, e.g. 3号楼2单元501")
    full_address: str = strawberry.field(
        resolver=of_rule(r.full_address),
        description="Community, compound, building, stairwell unit and label in one line, unambiguous in the "
        "county (e.g. 城关社区 幸福苑 3号楼 2单元 202)",
    )
    code: str | None = strawberry.field(description="External code, unique in the county")
    building: Building = declared("The building of the dwelling")
    residents: list[Annotated[Person, strawberry.lazy("schema.areas")]] = strawberry.field(
        resolver=of_rule(r.residents),
        description="The people registered in the household: personal data, empty for viewers not allowed to see it",
    )
    responsibility_chain: list[ResponsibilityLink] = strawberry.field(
        resolver=of_rule(r.responsibility_chain),
        description="Responsible people from the county down to the building (and stairwell unit)",
    )
    pairings: list[Annotated[Pairing, strawberry.lazy("schema.pairings")]] = declared(
        "The household's active pairings (结对): its cadres, with their units. Shown to the "
        "household's members, the paired cadre, staff and the building head in scope, COUNTY_ADMIN (and the "
        "cadre's unit admin); empty to everyone else"
    )


@strawberry.type(description="A person: resident, party member, cadre or staff")
class Person(Node):
    is_type_of = is_row(PersonRow)
    name: str = strawberry.field(description="Full name")
    party_member: bool = strawberry.field(description="Member of the Communist Party (党员)")
    phone: str | None = strawberry.field(
        resolver=of_rule(r.phone), description="Phone: personal data, null for viewers not allowed to see it"
    )
    household: Household | None = strawberry.field(
        resolver=of_rule(r.person_household), description="Where the person lives: personal data, masked like the phone"
    )
    pairings: Annotated[PairingConnection, strawberry.lazy("schema.pairings")] = strawberry.field(
        resolver=paged(pairing_resolvers.person_pairings),
        description="The person's active pairings as a cadre (结对), those the viewer may see",
    )


@strawberry.type(
    description="A person holding posts on both sides: owner committee and community committees (交叉任职)"
)
class CrossAppointmentType:
    person: Person = strawberry.field(description="The person")
    posts: list[Post] = strawberry.field(
        description="Their posts in the owner committee and the community's organisations"
    )


# --- inputs, filters, root fields --------------------------------------------------------------


@strawberry.input(description="Narrows `areas`")
class AreaFilter:
    parent_id: strawberry.ID | None = strawberry.field(default=None, description="Only direct children of this area")
    level: AreaLevel | None = strawberry.field(default=None, description="Only areas of this level")
    search: str | None = strawberry.field(default=None, description="Case-insensitive substring of the name")


@strawberry.input(description="Narrows `compounds`")
class CompoundFilter:
    within: strawberry.ID | None = strawberry.field(default=None, description="Only compounds anywhere under this area")
    search: str | None = strawberry.field(default=None, description="Case-insensitive substring of the name")


@strawberry.input(description="Narrows `organisations`")
class OrganisationFilter:
    kind: OrganisationKind | None = strawberry.field(default=None, description="Only organisations of this kind")
    search: str | None = strawberry.field(default=None, description="Case-insensitive substring of the name")


@strawberry.input(description="Narrows `people`")
class PeopleFilter:
    search: str = strawberry.field(
        description="A substring of the name (Chinese included), or 4 or more digits: the end of the phone number; "
        "empty matches everyone within reach"
    )
    tag: str | None = strawberry.field(default=None, description="Only people with this tag (e.g. 独居老人, 低保)")


@strawberry.input(description="Who becomes responsible for an area")
class AssignResponsibleInput:
    area_id: strawberry.ID = strawberry.field(description="The area (any level)")
    person_id: strawberry.ID = strawberry.field(description="The person, of the same county")


@strawberry.type(description="Result of `assignResponsible`")
class AssignResponsiblePayload:
    area: AreaRow | None = strawberry.field(
        graphql_type=Area | None, description="The area, with its new responsible person"
    )
    user_errors: UserErrorRows = strawberry.field(
        graphql_type=list[UserError], description="Why it was refused, if it was"
    )


async def _areas(
    info: Info_, filter: Annotated[AreaFilter | None, FILTER] = None, first: First = None, after: After = None
) -> Page[AreaRow]:
    f = filter or AreaFilter()
    level = f.level.value if f.level else None
    return await r.area_list(info.context, f.parent_id, level, f.search, first, after)


async def _compounds(
    info: Info_, filter: Annotated[CompoundFilter | None, FILTER] = None, first: First = None, after: After = None
) -> Page[AreaRow]:
    f = filter or CompoundFilter()
    return await r.compound_list(info.context, f.within, f.search, first, after)


async def _organisations(
    info: Info_, filter: Annotated[OrganisationFilter | None, FILTER] = None, first: First = None, after: After = None
) -> Page[OrganisationRow]:
    f = filter or OrganisationFilter()
    kind = f.kind.value if f.kind else None
    return await r.organisation_list(info.context, kind, f.search, first, after)


async def _people(
    info: Info_,
    filter: Annotated[PeopleFilter, FILTER],
    first: First = None,
    after: After = None,
) -> Page[PersonRow]:
    from resolvers import people

    return await people.search_people(info.context, filter.search, filter.tag, first, after)


async def _cross_appointments(
    info: Info_, community_id: Annotated[strawberry.ID, strawberry.argument(description="The community")]
) -> list[r.CrossAppointment]:
    return await r.cross_appointments(info.context, community_id)


async def _assign_responsible(info: Info_, input: Annotated[AssignResponsibleInput, INPUT]) -> AssignResponsiblePayload:
    outcome = await r.assign_responsible(info.context, input.area_id, input.person_id)
    return AssignResponsiblePayload(area=outcome.value, user_errors=outcome.user_errors)


@strawberry.type
class AreasQuery:
    areas: Page[AreaRow] = strawberry.field(
        resolver=_areas,
        graphql_type=Connection[Area],
        permission_classes=[SignedIn],
        description=described("Areas of the viewer's county; `parentId` gives direct children", rules.AREA_ACCESS),
    )
    compounds: Page[AreaRow] = strawberry.field(
        resolver=_compounds,
        graphql_type=Connection[Compound],
        permission_classes=[SignedIn],
        description=described(
            "Compounds of the viewer's county; `within` gives those anywhere under an area", rules.AREA_ACCESS
        ),
    )
    organisations: Page[OrganisationRow] = strawberry.field(
        resolver=_organisations,
        graphql_type=Connection[Organisation],
        permission_classes=[SignedIn],
        description=described("Organisations of the viewer's county", rules.ORGANISATION_ACCESS),
    )
    people: Page[PersonRow] = strawberry.field(
        resolver=_people,
        graphql_type=Connection[Person],
        permission_classes=[SignedIn],
        description=described(
            "Find people by name or phone (查找居民), in id order. COUNTY_ADMIN searches the county, staff "
            "their scope, a building head their building; everyone else gets an empty list. Each page is audited "
            "(one row per household read by staff or a building head); phones are masked as everywhere",
            rules.PERSON_FINDABLE,
            rules.PERSON_ACCESS,
            rules.HOUSEHOLD_ACCESS,
        ),
    )
    cross_appointments: list[r.CrossAppointment] = strawberry.field(
        resolver=_cross_appointments,
        graphql_type=list[CrossAppointmentType],
        permission_classes=[SignedIn],
        description=described(
            "People with posts in an owner committee and the community's party organisation or "
            "residents' committee (交叉任职)",
            rules.POST_ACCESS,
        ),
    )


@strawberry.type
class AreasMutation:
    assign_responsible: AssignResponsiblePayload = strawberry.mutation(
        resolver=_assign_responsible,
        permission_classes=[SignedIn],
        description=described(
            "Replace the responsible person of an area (COUNTY_ADMIN, or staff in scope); history is kept",
            rules.STAFF_OF_AREA,
        ),
    )


ALL_TYPES = [
    County,
    Town,
    Community,
    District,
    Compound,
    Building,
    Unit,
    Organisation,
    Household,
    Person,
    Post,
    Adoption,
]


# --- the compiled read path: each type's SQL, declared once (resolvers/compiled) -------------

# node(id) applies the SQL rules of the types (0022_place_rules.sql), as the ordinary path does
_AREA_IN_COUNTY = "area_access({row}, {viewer}) AND {row}.level = '%s'"
_RESPONSIBLE = compiled.Relation(
    "Person",
    "one",
    "{row}.id = (SELECT r.person_id FROM responsibilities r WHERE r.area_id = {parent}.id AND r.until IS NULL)",
)
_HOUSEHOLD_COUNT = compiled.Column(
    "(SELECT count(*) FROM households h JOIN areas b ON b.id = h.building_id "
    "WHERE b.path @> ARRAY[{row}.id] AND household_visible(h, {viewer}))"
)
_AREA_FIELDS: dict[str, compiled.Field] = {
    "id": compiled.GlobalId(),
    "name": compiled.Column("{row}.name"),
    "level": compiled.Column("{row}.level"),
    "code": compiled.Column("{row}.code"),
    "parent": compiled.Relation("Area", "one", "{row}.id = {parent}.parent_id"),
    # from the county down to the area (r.path)
    "path": compiled.Relation(
        "Area",
        "list",
        "{row}.id = ANY({parent}.path) AND area_access({row}, {viewer})",
        rank="array_position({parent}.path, {row}.id)",
    ),
    "responsible": _RESPONSIBLE,
    "householdCount": _HOUSEHOLD_COUNT,
}


def _ancestor(type_name: str, level: str) -> compiled.Relation:
    return compiled.Relation(type_name, "one", "{row}.id = ANY({parent}.path) AND {row}.level = '" + level + "'")


def _attached(kind: str) -> compiled.Relation:
    """The first organisation of `kind` attached to the area (r.attached)."""
    return compiled.Relation("Organisation", "one", "{row}.area_id = {parent}.id AND {row}.kind = '" + kind + "'")


# a row of the interface Area: its type by its level (ids.AREA_TYPES, as `is_type_of` tells them apart)
compiled.declare_interface(
    "Area",
    compiled.Interface(
        "areas",
        "area_access({row}, {viewer})",
        "(CASE {row}.level "
        + " ".join(f"WHEN '{level}' THEN '{name}'" for level, name in ids.AREA_TYPES.items())
        + " END)",
    ),
)
for _level, _type in (("COUNTY", "County"), ("TOWN", "Town"), ("COMMUNITY", "Community"), ("DISTRICT", "District")):
    compiled.declare(_type, compiled.Source("areas", _AREA_IN_COUNTY % _level, _AREA_FIELDS))
compiled.declare("Unit", compiled.Source("areas", _AREA_IN_COUNTY % "UNIT", _AREA_FIELDS))
compiled.declare(
    "Compound",
    compiled.Source(
        "areas",
        _AREA_IN_COUNTY % "COMPOUND",
        {
            **_AREA_FIELDS,
            "kind": compiled.Column("{row}.compound_kind"),
            "address": compiled.Column("{row}.address"),
            "managementPlan": compiled.Column("{row}.management_plan"),
            "community": _ancestor("Community", "COMMUNITY"),
            "district": _ancestor("District", "DISTRICT"),
            "ownerCommittee": _attached("OWNER_COMMITTEE"),
            "functionalBranch": _attached("FUNCTIONAL_BRANCH"),
            "propertyManager": compiled.Relation("Organisation", "one", "{row}.id = {parent}.property_manager_id"),
            "adoptions": current_adoptions("area_id"),
            "buildings": compiled.Relation(
                "Building",
                "connection",
                "{row}.parent_id = {parent}.id AND {row}.level = 'BUILDING' AND area_access({row}, {viewer})",
                count="SELECT count(*) FROM areas a WHERE a.parent_id = {parent}.id AND a.level = 'BUILDING' "
                "AND area_access(a, {viewer})",
            ),
        },
    ),
)
compiled.declare(
    "Building",
    compiled.Source(
        "areas",
        _AREA_IN_COUNTY % "BUILDING",
        {
            **_AREA_FIELDS,
            "compound": compiled.Relation("Compound", "one", "{row}.id = {parent}.parent_id"),
            "head": _RESPONSIBLE,
            "adoptions": current_adoptions("area_id"),
            "households": compiled.Relation(
                "Household",
                "connection",
                "{row}.building_id = {parent}.id AND household_visible({row}, {viewer})",
                count="SELECT count(*) FROM households h JOIN areas b ON b.id = h.building_id "
                "WHERE b.path @> ARRAY[{parent}.id] AND household_visible(h, {viewer})",
                # their building is the parent: its office asked once, not once per household
                hands=(compiled.Handed("residents", "office", HOUSEHOLD_REASON_OF),),
            ),
        },
        reasons={"office": compiled.Reason(BUILDING_OFFICE_OF)},
    ),
)
compiled.declare(
    "Household",
    compiled.Source(
        "households",
        "household_visible({row}, {viewer})",
        {
            "id": compiled.GlobalId(),
            "label": compiled.Column("{row}.label"),
            "code": compiled.Column("{row}.code"),
            "fullAddress": compiled.Column("coalesce(household_address({row}.area_id, {row}.label), {row}.label)"),
            "building": compiled.Relation("Building", "one", "{row}.id = {parent}.building_id"),
            "residents": compiled.Relation(
                "Person",
                "list",
                "{row}.household_id = {parent}.id AND person_visible({row}, {viewer})",
                guard="residents",
                # their household is the parent: its reason is the one their rule looks up
                hands=(compiled.Handed("phone", "residents", PERSON_REASON_OF),),
            ),
        },
        reasons={
            "residents": compiled.Reason("(SELECT r FROM household_reason({row}, {viewer}) r)", "residents", "{row}.id")
        },
    ),
)
compiled.declare(
    "Person",
    compiled.Source(
        "persons",
        "person_visible({row}, {viewer})",
        {
            "id": compiled.GlobalId(),
            "name": compiled.Column("{row}.name"),
            "partyMember": compiled.Column("{row}.party_member"),
            "phone": compiled.Column("{row}.phone", masked_by="phone"),
            "household": compiled.Relation("Household", "one", "{row}.id = {parent}.household_id", guard="household"),
        },
        reasons={
            "phone": compiled.Reason(
                "(SELECT r FROM person_reason({row}, {viewer}) r)",
                "phone",
                "{row}.household_id",
                "{row}.phone IS NOT NULL",
            ),
            "household": compiled.Reason(
                "(SELECT r FROM households h, household_reason(h, {viewer}) r WHERE h.id = {row}.household_id)",
                "residents",
                "{row}.household_id",
                "{row}.household_id IS NOT NULL",
            ),
        },
    ),
)

compiled.declare(
    "Organisation",
    compiled.Source(
        "organisations",
        "organisation_access({row}, {viewer})",
        {
            "id": compiled.GlobalId(),
            "name": compiled.Column("{row}.name"),
            "kind": compiled.Column("{row}.kind"),
            "code": compiled.Column("{row}.code"),
            "parent": compiled.Relation("Organisation", "one", "{row}.id = {parent}.parent_id"),
            # the rule `organisation_access` (0022), as db/areas.py CHILD_ORGANISATIONS asks it
            "children": compiled.Relation(
                "Organisation", "list", "{row}.parent_id = {parent}.id AND organisation_access({row}, {viewer})"
            ),
            "adoptions": current_adoptions("unit_id"),
            # current posts (db/areas.py MEMBERS_PAGES, MEMBER_COUNTS), by the rule `post_access` (0022)
            "members": compiled.Relation(
                "Post",
                "connection",
                "{row}.organisation_id = {parent}.id AND post_active({row}.until) AND post_access({row}, {viewer})",
                count="SELECT count(*) FROM posts p WHERE p.organisation_id = {parent}.id AND post_active(p.until) "
                "AND post_access(p, {viewer})",
            ),
            # distinct people holding a current post (db/areas.py MEMBER_COUNTS)
            "memberCount": compiled.Column(
                "(SELECT count(DISTINCT p.person_id) FROM posts p "
                "WHERE p.organisation_id = {row}.id AND post_active(p.until))"
            ),
            # the rule `resource_access` (0021): what the viewer sees of its resources
            "resources": compiled.Relation(
                "Resource",
                "connection",
                "{row}.provider_id = {parent}.id "
                "AND EXISTS (SELECT 1 FROM {viewer_from} w WHERE resource_access({row}, w) IS NOT NULL)",
                count="SELECT count(*) FROM resources rs, {viewer_from} w "
                "WHERE rs.provider_id = {parent}.id AND resource_access(rs, w) IS NOT NULL",
            ),
        },
    ),
)

compiled.declare(
    "Post",
    compiled.Source(
        "posts",
        "post_access({row}, {viewer})",
        {
            "id": compiled.GlobalId(),
            "person": compiled.Relation("Person", "one", "{row}.id = {parent}.person_id"),
            "organisation": compiled.Relation("Organisation", "one", "{row}.id = {parent}.organisation_id"),
            "role": compiled.Column("{row}.role"),
            "since": compiled.Column(compiled.date("{row}.since")),
            "until": compiled.Column(compiled.date("{row}.until")),
        },
    ),
)

# the responsibility chain (r.responsibility_chain): a link per level of the path of the
# household's building or stairwell unit, COUNTY to BUILDING, and UNIT where there is one; a
# level the tree skips has no area (and nobody responsible). Ids: the household's, times 8,
# plus the level's place (unique in a statement)
compiled.declare(
    "ResponsibilityLink",
    compiled.Source(
        "(SELECT {parent}.id * 8 + l.n AS id, l.level, a.id AS area_id FROM areas home "
        "CROSS JOIN unnest(ARRAY['COUNTY', 'TOWN', 'COMMUNITY', 'DISTRICT', 'COMPOUND', 'BUILDING', 'UNIT']) "
        "WITH ORDINALITY l (level, n) "
        "LEFT JOIN areas a ON a.id = ANY(home.path) AND a.level = l.level AND area_access(a, {viewer}) "
        "WHERE home.id = {parent}.area_id AND (l.level <> 'UNIT' OR a.id IS NOT NULL))",
        "false",
        {
            "level": compiled.Column("{row}.level"),
            "area": compiled.Relation("Area", "one", "{row}.id = {parent}.area_id"),
            "responsible": compiled.Relation(
                "Person",
                "one",
                "{row}.id = (SELECT r.person_id FROM responsibilities r "
                "WHERE r.area_id = {parent}.area_id AND r.until IS NULL)",
            ),
        },
    ),
)
compiled.declare_field("Household", "responsibilityChain", compiled.Relation("ResponsibilityLink", "list", "true"))

# declared relations whose ordinary resolver stays written beside the type (schema/derived.py)
_BY_SUBQUERY = "a subquery over the current responsibilities: the batch r.responsible_by_area reads them"
_PAGED = "a keyset connection with its count: read by its page and count loaders"
_PERSONAL = "guarded by a personal-data reason: masked and audited by resolvers/access.py"
_PATH = "a list in the path's order: the areas of the path, read by the batch of areas by id"
_ATTACHED = "the first organisation of its kind attached to the area: read from the batch of the area's organisations"
_ADOPTIONS = "the current adoptions, oldest first: read by the batch of the current adoptions of each area or unit"
for _type in ids.AREA_TYPES.values():
    own_resolvers(_type, {"responsible": _BY_SUBQUERY, "path": _PATH})
own_resolvers(
    "Compound",
    {"buildings": _PAGED, "ownerCommittee": _ATTACHED, "functionalBranch": _ATTACHED, "adoptions": _ADOPTIONS},
)
own_resolvers("Building", {"head": _BY_SUBQUERY, "households": _PAGED, "adoptions": _ADOPTIONS})
_LINK = "held by the link r.responsibility_chain builds from the batches of areas and responsible people"
own_resolvers(
    "Household",
    {"residents": _PERSONAL, "responsibilityChain": "computed links, one per level: r.responsibility_chain"},
)
own_resolvers("ResponsibilityLink", {"area": _LINK, "responsible": _LINK})
own_resolvers("Person", {"household": _PERSONAL})
own_resolvers("Organisation", {"resources": _PAGED, "members": _PAGED, "adoptions": _ADOPTIONS})

_AREAS_WHERE = (
    "area_access({row}, {viewer}) AND ({arg_parent} IS NULL OR {row}.parent_id = {arg_parent}) "
    "AND ({arg_level} IS NULL OR {row}.level = {arg_level}) AND ({arg_search} IS NULL OR {row}.name ILIKE {arg_search})"
)


def _area_arguments(given: Any) -> dict[str, Any]:
    found = compiled_planner.filter_of(given)
    level = found.get("level")
    return {
        "parent": r.decode_area_argument(found.get("parentId"), "parentId"),
        "level": level.value if isinstance(level, AreaLevel) else None,
        "search": r._pattern(found.get("search")),
    }


# the rows of every level, each as its own type (the interface Area)
compiled.declare_root(
    "areas",
    compiled.RootConnection(
        "Area",
        "areas",
        _AREAS_WHERE,
        (("parent", "bigint"), ("level", "text"), ("search", "text")),
        _area_arguments,
    ),
)

_COMPOUNDS_WHERE = (
    "area_access({row}, {viewer}) AND {row}.level = 'COMPOUND' AND ({arg_within} IS NULL OR {row}.path @> "
    "ARRAY[{arg_within}]) AND ({arg_search} IS NULL OR {row}.name ILIKE {arg_search})"
)


def _compound_arguments(given: Any) -> dict[str, Any]:
    def part(name: str) -> Any:
        return given.get(name) if isinstance(given, dict) else getattr(given, name, None)

    search = part("search")
    return {
        "within": r.decode_area_argument(part("within"), "within") if given is not None else None,
        "search": like_pattern(search) if search else None,
    }


compiled.declare_root(
    "compounds",
    compiled.RootConnection(
        "Compound",
        "areas",
        _COMPOUNDS_WHERE,
        (("within", "bigint"), ("search", "text")),
        _compound_arguments,
    ),
)


_ORGANISATIONS_WHERE = (
    "organisation_access({row}, {viewer}) AND ({arg_kind} IS NULL OR {row}.kind = {arg_kind}) "
    "AND ({arg_search} IS NULL OR {row}.name ILIKE {arg_search})"
)


def _organisation_arguments(given: Any) -> dict[str, Any]:
    kind = given.get("kind") if isinstance(given, dict) else None
    search = given.get("search") if isinstance(given, dict) else None
    if given is not None and not isinstance(given, dict):
        raise compiled_planner.Fallback("filter")
    return {"kind": kind.value if isinstance(kind, OrganisationKind) else None, "search": r._pattern(search)}


compiled.declare_root(
    "organisations",
    compiled.RootConnection(
        "Organisation",
        "organisations",
        _ORGANISATIONS_WHERE,
        (("kind", "text"), ("search", "text")),
        _organisation_arguments,
    ),
)
