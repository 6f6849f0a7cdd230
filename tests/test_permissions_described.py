"""Permissions that document themselves: the "Requires: ..." of every root field, mutation
and subscription is written from the rule objects (resolvers/rules.py) the code runs, and
each names its rule; every SQL rule named exists in the migrated database and is called by
the statements in db/."""

from __future__ import annotations

import pathlib
import re

import asyncpg

from resolvers import rules
from schema.root import build

NAMED = re.compile(r"\(rule `([^`]+)`\)")


def _root_fields() -> dict[str, str]:
    schema = build()._schema
    found: dict[str, str] = {}
    for root in (schema.query_type, schema.mutation_type, schema.subscription_type):
        assert root is not None
        for name, field in root.fields.items():
            found[f"{root.name}.{name}"] = field.description or ""
    return found


def test_every_root_field_and_mutation_names_its_rule() -> None:
    known = {r.name for r in rules.ALL}
    missing: list[str] = []
    for where, description in _root_fields().items():
        requires = description.split("Requires: ")
        named = NAMED.findall(requires[-1]) if len(requires) == 2 else []
        if not named or not set(named) <= known:
            missing.append(f"{where}: {description!r}")
    assert not missing, "\n".join(missing)
    assert len(_root_fields()) > 70


def test_the_sentence_is_the_rule_objects_own() -> None:
    described = _root_fields()
    assert f"{rules.RESOURCE_ACCESS.text()}." in described["Query.resources"]
    assert rules.ORDER_PARTIES.text() in described["Mutation.acceptOrder"]
    assert rules.NOTIFICATION_ACCESS.text() in described["Subscription.notifications"]


async def test_every_sql_rule_is_a_function_the_statements_call(conn: asyncpg.Connection) -> None:
    sql_rules = [r for r in rules.ALL if r.sql]
    functions = {
        r["proname"]
        for r in await conn.fetch(
            "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname = ANY($1::text[])",
            [r.name for r in sql_rules],
        )
    }
    assert functions == {r.name for r in sql_rules}
    code = "\n".join(p.read_text() for p in pathlib.Path(__file__).parent.parent.joinpath("db").glob("*.py"))
    assert [r.name for r in sql_rules if f"{r.name}(" not in code] == []


async def test_every_sql_rule_function_is_a_rule_object(conn: asyncpg.Connection) -> None:
    """The other way round: every SQL function of a row and the viewer (a rule such as
    `area_access`, `household_visible` or `order_parties`) has its Rule, so the SDL can name it.
    Functions of the viewer alone (`works_in_county`, `home_areas`) are terms the rules use."""
    functions = {
        r["proname"]
        for r in await conn.fetch(
            """
            SELECT p.proname FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace AND 'viewer'::regtype = ANY(p.proargtypes::oid[])
              AND EXISTS (SELECT 1 FROM unnest(p.proargtypes::oid[]) a (type)
                          JOIN pg_type t ON t.oid = a.type JOIN pg_class c ON c.oid = t.typrelid
                          WHERE c.relkind IN ('r', 'v', 'p', 'm'))
            """
        )
    }
    assert {"area_access", "household_visible", "resource_access", "order_parties"} <= functions
    assert sorted(functions - {r.name for r in rules.ALL if r.sql}) == []
