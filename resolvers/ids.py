"""Opaque global IDs: base64 of "TypeName:id"."""

from __future__ import annotations

import base64
import binascii
from typing import Final

# the GraphQL type (and global-id type name) of an area at each level, county first
AREA_TYPES: Final = {
    "COUNTY": "County",
    "TOWN": "Town",
    "COMMUNITY": "Community",
    "DISTRICT": "District",
    "COMPOUND": "Compound",
    "BUILDING": "Building",
    "UNIT": "Unit",
}


def encode(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode(global_id: str) -> tuple[str, int] | None:
    """The type name and primary key of a global id, or None when it is malformed."""
    if not isinstance(global_id, str) or len(global_id) > 200:
        return None
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    type_name, sep, pk = text.partition(":")
    # isdigit() alone takes '²' and '١' as digits, which int() refuses
    if not sep or not type_name.isidentifier() or not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
        return None
    return type_name, int(pk)


def decode_as(global_id: str, *type_names: str) -> int | None:
    """The primary key when the id names one of `type_names`, else None."""
    decoded = decode(global_id)
    if decoded is None or decoded[0] not in type_names:
        return None
    return decoded[1]


# an id no row has: a list filter naming an id of the wrong kind (or a malformed one) matches nothing
NOTHING = -1


def filter_key(global_id: str | None, *type_names: str) -> int | None:
    """The primary key a list filter narrows to: None when the filter is absent, NOTHING
    when the id does not name one of `type_names`."""
    if global_id is None:
        return None
    pk = decode_as(global_id, *type_names)
    return NOTHING if pk is None else pk
