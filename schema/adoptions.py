"""Adoption (包抓): a unit takes responsibility for a compound or building, with duties.
Declared by the areas domain (compounds and units list their adoptions); the pairings
domain adds the `adopt` mutation on top of it."""

from __future__ import annotations

import datetime
import enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db.adoptions import AdoptionRow
from resolvers import adoptions as r
from schema.base import Node, describe_values, is_row

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


async def _unit(root: AdoptionRow, info: Info[Any, Any]) -> Annotated["Organisation", strawberry.lazy("schema.areas")]:  # noqa: UP037 - a lazy type: the name exists only for the type checker
    return await r.unit(root, info.context)  # type: ignore[return-value]


async def _area(root: AdoptionRow, info: Info[Any, Any]) -> Annotated["Area", strawberry.lazy("schema.areas")]:  # noqa: UP037 - a lazy type: the name exists only for the type checker
    return await r.area(root, info.context)  # type: ignore[return-value]


@strawberry.type(description="Adoption (包抓): a unit taking responsibility for a compound or building")
class Adoption(Node):
    is_type_of = is_row(AdoptionRow)
    unit: Annotated["Organisation", strawberry.lazy("schema.areas")] = strawberry.field(  # noqa: UP037 - a lazy type: the name exists only for the type checker
        resolver=_unit, description="The adopting unit (机关企事业单位)"
    )
    area: Annotated["Area", strawberry.lazy("schema.areas")] = strawberry.field(  # noqa: UP037 - a lazy type: the name exists only for the type checker
        resolver=_area, description="The adopted compound or building"
    )
    duties: list[AdoptionDuty] = strawberry.field(
        resolver=lambda root: [AdoptionDuty(d) for d in root.duties],
        description="Duties: assist management, public-interest service, mobilisation",
    )
    since: datetime.date = strawberry.field(description="Day the adoption began")
    until: datetime.date | None = strawberry.field(description="Day it ended; null while current")
