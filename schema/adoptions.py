"""Adoption (包抓): a unit takes responsibility for a compound or building, with duties.
Declared by the areas domain (compounds and units list their adoptions); the pairings
domain adds the `adopt` mutation on top of it."""

from __future__ import annotations

import datetime
import enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.adoptions import AdoptionRow
from resolvers.compiled import declarations as compiled
from schema.base import Node, describe_values, is_row
from schema.derived import declared

if TYPE_CHECKING:
    from schema.areas import Area, Organisation


@strawberry.enum(description="What an adopting unit does for the area (包抓职责)")
class AdoptionDuty(enum.Enum):
    ASSIST_MANAGEMENT = "ASSIST_MANAGEMENT"
    PUBLIC_SERVICE = "PUBLIC_SERVICE"
    MOBILISATION = "MOBILISATION"


describe_values(
    AdoptionDuty,
    {
        "ASSIST_MANAGEMENT": "Helps manage the area (协助管理)",
        "PUBLIC_SERVICE": "Provides public services (公共服务)",
        "MOBILISATION": "Mobilises people in emergencies (应急动员)",
    },
)


@strawberry.type(description="Adoption (包抓): a unit taking responsibility for a compound or building")
class Adoption(Node):
    is_type_of = is_row(AdoptionRow)
    unit: Annotated["Organisation", strawberry.lazy("schema.areas")] = declared(  # noqa: UP037 - a lazy type: the name exists only for the type checker
        "The adopting unit (机关企事业单位)"
    )
    area: Annotated["Area", strawberry.lazy("schema.areas")] = declared(  # noqa: UP037 - a lazy type: the name exists only for the type checker
        "The adopted compound or building"
    )
    duties: list[AdoptionDuty] = strawberry.field(
        resolver=lambda root: [AdoptionDuty(d) for d in root.duties],
        description="Duties: assist management, public-interest service, mobilisation",
    )
    since: datetime.date = strawberry.field(description="Day the adoption began")
    until: datetime.date | None = strawberry.field(description="Day it ended; null while current")


# the compiled read path (resolvers/compiled): who sees an adoption is `adoption_access` (0022)
_OF = "{row}.until IS NULL AND adoption_access({row}, {viewer})"
compiled.declare(
    "Adoption",
    compiled.Source(
        "adoptions",
        "adoption_access({row}, {viewer})",
        {
            "id": compiled.GlobalId(),
            "unit": compiled.Relation("Organisation", "one", "{row}.id = {parent}.unit_id"),
            "area": compiled.Relation("Area", "one", "{row}.id = {parent}.area_id"),
            "duties": compiled.Column("{row}.duties"),
            "since": compiled.Column(compiled.date("{row}.since")),
            "until": compiled.Column(compiled.date("{row}.until")),
        },
    ),
)


def current_adoptions(column: str) -> compiled.Relation:
    """The current adoptions whose `column` is the parent (an area, a unit), oldest first
    (db/adoptions.py ACTIVE_BY_AREA, ACTIVE_BY_UNIT)."""
    return compiled.Relation(
        "Adoption", "list", "{row}." + column + " = {parent}.id AND " + _OF, rank="{row}.since, {row}.id"
    )
