"""The Adoption type (包抓), until the areas domain's `schema/adoptions.py` lands on this
branch; then this module goes and the pairings schema uses theirs."""

from __future__ import annotations

import datetime
import enum
from typing import Any

import strawberry
from strawberry.types import Info

from db.pairings import AdoptionRow
from resolvers import pairings as r
from schema.areas import Area, Organisation
from schema.base import Node, is_row


@strawberry.enum(description="A duty a unit takes on when it adopts an area (包抓)")
class AdoptionDuty(enum.Enum):
    ASSIST_MANAGEMENT = "ASSIST_MANAGEMENT"
    PUBLIC_SERVICE = "PUBLIC_SERVICE"
    MOBILISATION = "MOBILISATION"


async def _unit(root: AdoptionRow, info: Info[Any, Any]) -> Organisation:
    return await r.adoption_unit(root, info.context)  # type: ignore[return-value]


async def _area(root: AdoptionRow, info: Info[Any, Any]) -> Area:
    return await r.adoption_area(root, info.context)  # type: ignore[return-value]


@strawberry.type(description="Adoption (包抓): a unit takes responsibility for a compound or building")
class Adoption(Node):
    is_type_of = is_row(AdoptionRow)
    unit: Organisation = strawberry.field(resolver=_unit, description="The adopting unit (机关企事业单位)")
    area: Area = strawberry.field(resolver=_area, description="The adopted compound or building")
    duties: list[AdoptionDuty] = strawberry.field(description="What the unit takes on")
    since: datetime.date = strawberry.field(description="First day of the adoption")
    until: datetime.date | None = strawberry.field(description="Last day, once the adoption has ended")
