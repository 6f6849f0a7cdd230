"""Date and DateTime as strawberry declares them, refusing values outside years 1000-8999.

Nobody's appointment, deadline or filter lies outside them, and the edges are where
arithmetic fails: `9999-12-31T23:59:59-14:00` is a valid ISO string whose UTC instant
(year 10000) neither Python nor asyncpg can hold, so it reached the database as an
INTERNAL_SERVER_ERROR. Refused here, such a value is a BAD_USER_INPUT coercion error.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import Final

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

EARLIEST: Final = datetime.date(1000, 1, 1)
LATEST: Final = datetime.date(8999, 12, 31)


def _in_range(day: datetime.date, type_name: str) -> None:
    if not EARLIEST <= day <= LATEST:
        raise StrawberryInputCoercionError(
            f"Value cannot represent a {type_name}: expected years {EARLIEST.year} to {LATEST.year}"
        )


def _parser(definition: ScalarDefinition) -> Callable[[object], object]:
    """strawberry's own parse_value of a scalar (optional on ScalarDefinition, given for these)."""
    parse = definition.parse_value
    assert parse is not None, f"strawberry parses {definition.name} values"
    return parse


_STRAWBERRY_PARSE_DATE: Final = _parser(DateDefinition)
_STRAWBERRY_PARSE_DATETIME: Final = _parser(DateTimeDefinition)


def _parse_date(value: object) -> datetime.date:
    parsed = _STRAWBERRY_PARSE_DATE(value)  # strawberry's coercion errors included
    assert isinstance(parsed, datetime.date)
    _in_range(parsed, "Date")
    return parsed


def _parse_datetime(value: object) -> datetime.datetime:
    parsed = _STRAWBERRY_PARSE_DATETIME(value)
    assert isinstance(parsed, datetime.datetime)
    _in_range(parsed.date(), "DateTime")  # the offset moves it at most a day: the UTC instant stays representable
    return parsed


OVERRIDES: Final[dict[object, ScalarDefinition]] = {
    datetime.date: dataclasses.replace(DateDefinition, parse_value=_parse_date),
    datetime.datetime: dataclasses.replace(DateTimeDefinition, parse_value=_parse_datetime),
}
