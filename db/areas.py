"""Areas, organisations, households and people: rows and the batch loads by id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import asyncpg

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
ORGANISATIONS_BY_ID: Final = """
SELECT o.id, o.county_id, o.parent_id, o.kind, o.name, o.code, o.area_id
FROM organisations o WHERE o.id = ANY($1::bigint[])
"""
HOUSEHOLDS_BY_ID: Final = """
SELECT h.id, h.county_id, h.area_id, h.building_id, h.label, h.code, b.path
FROM households h JOIN areas b ON b.id = h.building_id
WHERE h.id = ANY($1::bigint[])
"""
PERSONS_BY_ID: Final = """
SELECT p.id, p.county_id, p.name, p.phone, p.id_number, p.gender, p.birth_year, p.household_id,
       p.party_member, p.tags, p.code
FROM persons p WHERE p.id = ANY($1::bigint[])
"""


def area_row(r: asyncpg.Record) -> AreaRow:
    return AreaRow(**dict(r))


def organisation_row(r: asyncpg.Record) -> OrganisationRow:
    return OrganisationRow(**dict(r))


def household_row(r: asyncpg.Record) -> HouseholdRow:
    return HouseholdRow(**dict(r))


def person_row(r: asyncpg.Record) -> PersonRow:
    return PersonRow(**dict(r))


async def areas_by_id(conn: Conn, ids: list[int]) -> dict[int, AreaRow]:
    return {r["id"]: area_row(r) for r in await conn.fetch(AREAS_BY_ID, ids)}


async def organisations_by_id(conn: Conn, ids: list[int]) -> dict[int, OrganisationRow]:
    return {r["id"]: organisation_row(r) for r in await conn.fetch(ORGANISATIONS_BY_ID, ids)}


async def households_by_id(conn: Conn, ids: list[int]) -> dict[int, HouseholdRow]:
    return {r["id"]: household_row(r) for r in await conn.fetch(HOUSEHOLDS_BY_ID, ids)}


async def persons_by_id(conn: Conn, ids: list[int]) -> dict[int, PersonRow]:
    return {r["id"]: person_row(r) for r in await conn.fetch(PERSONS_BY_ID, ids)}
