"""The area tree (county > town > community > district > compound > building > unit),
organisations, households and people."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db.areas import AreaRow, HouseholdRow, OrganisationRow, PersonRow
from resolvers import areas as r
from schema.base import Connection, Node, is_row

if TYPE_CHECKING:
    from schema.duallist import Resource


@strawberry.enum(description="Level of an area in the tree")
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


@strawberry.enum(description="Kind of organisation")
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


async def _parent(root: AreaRow, info: Info[Any, Any]) -> Annotated[Area, strawberry.lazy("schema.areas")] | None:
    return await r.parent_area(root, info.context)  # type: ignore[return-value]


@strawberry.interface(description="An area of the tree: county, town, community, district, compound, building or unit")
class Area(Node):
    name: str
    level: AreaLevel
    parent: Area | None = strawberry.field(resolver=_parent, description="The area this one stands in")


@strawberry.type(description="County (县): the top of the area tree")
class County(Area):
    is_type_of = is_row(AreaRow, level="COUNTY")


@strawberry.type(description="Town or sub-district (街道/镇)")
class Town(Area):
    is_type_of = is_row(AreaRow, level="TOWN")


@strawberry.type(description="Urban community (社区) run by its two committees")
class Community(Area):
    is_type_of = is_row(AreaRow, level="COMMUNITY")


@strawberry.type(description="District or grid (片区/网格) of a community")
class District(Area):
    is_type_of = is_row(AreaRow, level="DISTRICT")


@strawberry.type(description="Residential compound (小区 / 家属楼 / 自建房)")
class Compound(Area):
    is_type_of = is_row(AreaRow, level="COMPOUND")
    kind: CompoundKind = strawberry.field(resolver=lambda root: root.compound_kind)
    address: str | None


@strawberry.type(description="Building (楼栋) of a compound")
class Building(Area):
    is_type_of = is_row(AreaRow, level="BUILDING")


@strawberry.type(description="Stairwell unit (单元) of a building")
class Unit(Area):
    is_type_of = is_row(AreaRow, level="UNIT")


async def _org_parent(
    root: OrganisationRow, info: Info[Any, Any]
) -> Annotated[Organisation, strawberry.lazy("schema.areas")] | None:
    return await r.parent_organisation(root, info.context)  # type: ignore[return-value]


async def _org_resources(
    root: OrganisationRow, info: Info[Any, Any], first: int | None = None, after: str | None = None
) -> Connection[Annotated[Resource, strawberry.lazy("schema.duallist")]]:
    from resolvers import duallist

    return await duallist.resources_of_organisation(root, info.context, first, after)  # type: ignore[return-value]


@strawberry.type(description="An organisation: party organisation, committee, unit, company or provider")
class Organisation(Node):
    is_type_of = is_row(OrganisationRow)
    name: str
    kind: OrganisationKind
    parent: Organisation | None = strawberry.field(resolver=_org_parent, description="The organisation above this one")
    resources: Connection[Annotated[Resource, strawberry.lazy("schema.duallist")]] = strawberry.field(
        resolver=_org_resources, description="Resources (资源) it offers, oldest first (dual list)"
    )


async def _household_building(root: HouseholdRow, info: Info[Any, Any]) -> Building:
    return await r.building_of(root, info.context)  # type: ignore[return-value]


@strawberry.type(description="Household (家庭户): a dwelling and the people registered in it")
class Household(Node):
    is_type_of = is_row(HouseholdRow)
    label: str = strawberry.field(description="The dwelling's label, e.g. 3号楼2单元501")
    building: Building = strawberry.field(resolver=_household_building)


async def _person_household(root: PersonRow, info: Info[Any, Any]) -> Household | None:
    return await r.household_of(root, info.context)  # type: ignore[return-value]


@strawberry.type(description="A person: resident, party member, cadre or staff")
class Person(Node):
    is_type_of = is_row(PersonRow)
    name: str
    household: Household | None = strawberry.field(resolver=_person_household)


ALL_TYPES = [County, Town, Community, District, Compound, Building, Unit, Organisation, Household, Person]
