"""Every operation the clients send must validate against our schema."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from schema.root import build
from tests.support import contract_operations

# Operations of the contract not served yet. The issue that builds one removes its name;
# the list must end empty. Issue 14: finding people, households and duties.
PENDING_FINDING: set[str] = set()
# Issue 15: reaching people.
PENDING_REACHING: set[str] = set()
PENDING: set[str] = PENDING_FINDING | PENDING_REACHING

OPERATIONS = contract_operations()


def test_pending_names_are_real_operations() -> None:
    assert set(OPERATIONS) >= PENDING, PENDING - set(OPERATIONS)


@pytest.mark.parametrize("name", sorted(set(OPERATIONS) - PENDING))
def test_operation_validates(name: str) -> None:
    schema = build()._schema
    errors = validate(schema, parse(OPERATIONS[name]))
    assert not errors, [e.message for e in errors]


def test_pending_operations_do_not_validate_yet() -> None:
    """A pending operation that already validates must leave the list."""
    schema = build()._schema
    validating = [name for name in sorted(PENDING) if not validate(schema, parse(OPERATIONS[name]))]
    assert not validating, f"{validating} validate now: remove them from PENDING"
