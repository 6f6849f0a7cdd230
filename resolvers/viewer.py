"""Who is asking: the signed-in user (or a partner unit's API token) and its role grants."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Role(enum.Enum):
    COUNTY_ADMIN = "COUNTY_ADMIN"
    COMMUNITY_STAFF = "COMMUNITY_STAFF"
    BUILDING_HEAD = "BUILDING_HEAD"
    CADRE = "CADRE"
    RESIDENT = "RESIDENT"
    UNIT_ADMIN = "UNIT_ADMIN"


@dataclass(frozen=True)
class Grant:
    id: int
    role: Role
    area_id: int | None = None
    organisation_id: int | None = None


@dataclass(frozen=True)
class Viewer:
    user_id: int
    username: str
    county_id: int
    person_id: int | None
    grants: tuple[Grant, ...]
    household_id: int | None = None
    api_token_id: int | None = None
    last_login_at: datetime.datetime | None = None  # a signed-in user's, as read when it signed in

    def has(self, *roles: Role) -> bool:
        return any(g.role in roles for g in self.grants)

    def area_scopes(self, *roles: Role) -> list[int]:
        """Area ids this viewer holds one of `roles` in (all roles when none is named)."""
        return [g.area_id for g in self.grants if g.area_id is not None and (not roles or g.role in roles)]

    def organisation_scopes(self, *roles: Role) -> list[int]:
        return [
            g.organisation_id for g in self.grants if g.organisation_id is not None and (not roles or g.role in roles)
        ]

    def covers(self, area_path: Iterable[int], *roles: Role) -> bool:
        """True when an area with this path (county down to itself) lies in a scope of `roles`."""
        scopes = set(self.area_scopes(*roles))
        return any(a in scopes for a in area_path)

    @property
    def is_county_admin(self) -> bool:
        return self.has(Role.COUNTY_ADMIN)
