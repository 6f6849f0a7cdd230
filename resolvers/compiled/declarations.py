"""How a GraphQL type is read in SQL: declared once, beside the type in `schema/`.

Placeholders in the SQL fragments: `{row}` is a row of the type's table (a composite of
that table's row type), `{parent}` the row a relation starts from, `{viewer}` the viewer
(`viewer_of(user, api token)`), `{viewer_from}` the same as a FROM item (a rule tested as
`EXISTS (SELECT 1 FROM {viewer_from} w WHERE rule({row}, w))` is inlined by PostgreSQL),
`{county}` the viewer's county id, `{base_url}` the request's base URL (as starlette gives it,
ending in a slash). Fragments are constant
text written here and in `schema/`; values only ever travel as bind parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

# personal-data reads audited (resolvers/access.py AUDITED): staff, building heads, cadres, assignees
AUDITED_REASONS: tuple[str, ...] = ("STAFF", "BUILDING_HEAD", "CADRE", "ASSIGNEE")


@dataclass(frozen=True)
class Reason:
    """Why the viewer may read a row's personal data (NULL: masked), from the single SQL
    rules (household_access, person_access): it masks and it is audited, as the ordinary
    path does (one `read.personalData` row per household, field and reason)."""

    sql: str
    # None: a reason no field is masked by, only handed to a relation's rows (`Handed`): not audited
    audit_field: str | None = None
    audit_household: str = "NULL"
    # the rows for which the ordinary path asks the rule (e.g. only a phone that is set)
    audit_when: str = "true"


@dataclass(frozen=True)
class GlobalId:
    """The `id` field: base64 of "TypeName:id"."""


@dataclass(frozen=True)
class Column:
    """A scalar: an SQL expression over `{row}`; `masked_by` names a Reason of the type."""

    sql: str
    masked_by: str | None = None


@dataclass(frozen=True)
class Handed:
    """A reason of the target's rows computed from a reason of the parent's row: `sql` over
    `{row}`, `{viewer}` and `{given}`, the parent's reason `given`. Declared on a relation
    whose `where` makes the parent the very row the target's rule would look up (a
    household's residents: their household; a building's households: their building), with
    `sql` the `_at` form of that rule (migration 0032): the rule asked once per parent row."""

    reason: str
    given: str
    sql: str


@dataclass(frozen=True)
class Relation:
    """Rows of `target` reached from `{parent}`: `where` selects them from the target's
    table (as `{row}`), in id order. `one`: at most one; `list`: all of them; `connection`:
    a keyset page by id, `count` its totalCount (a scalar SQL over `{parent}`).
    `guard` names a Reason of the parent type: where it is NULL the relation is empty."""

    target: str
    kind: Literal["one", "list", "connection"]
    where: str
    count: str | None = None
    guard: str | None = None
    # a connection ranked in this order (SQL over `{row}` and `{parent}`, ending in a unique
    # key) and paged by the rank: the cursor `[rank]` (resolvers/duallist.py `matches_of`);
    # a list: its rows in this order (else by id)
    rank: str | None = None
    hands: tuple[Handed, ...] = ()


Field = GlobalId | Column | Relation


def base64url(text_sql: str) -> str:
    """base64url without padding, as resolvers/ids.py and resolvers/pagination.py write it."""
    return f"rtrim(translate(encode(convert_to({text_sql}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"


# Bytes of text that PostgreSQL's base64 writes on one line (it breaks lines every 76 digits)
BASE64_LINE: Final = 57


def base64url_of_key(text_sql: str) -> str:
    """`base64url` of a global id or a cursor, without its `translate`: their text is ASCII
    without '>', '?', '~' or DEL (a GraphQL name, ':', digits, brackets, quotes, a comma and
    an ISO time) and at most `BASE64_LINE` bytes, which standard base64 writes on one line
    with neither '+' nor '/': in each group of three bytes, the first three digits each hold
    the top bit of a byte (0 in ASCII) among their first five bits, where '+' (62) and '/' (63)
    are 11111x; the fourth is the low six bits of the third byte, 11111x only for those four
    characters. `translate` read every character of every id (about 4% of a building's
    households' statement in `perf`)."""
    return f"rtrim(encode(convert_to({text_sql}, 'UTF8'), 'base64'), '=')"


def date_time(sql: str) -> str:
    """A `timestamptz` as the DateTime scalar writes it: Python's `isoformat()` of the UTC
    value asyncpg reads (microseconds only when there are some, `+00:00`). One `to_char`,
    its six-digit fraction dropped when it is zero: a second `to_char` and an `extract` of
    the fraction cost ServiceOrders' statement about 3.5% (65 timestamps)."""
    utc = f"(({sql}) AT TIME ZONE 'UTC')"
    return f"(replace(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || '+00:00')"


def date(sql: str) -> str:
    """A `date` as the Date scalar writes it (`isoformat()`: the scalar's years have four digits)."""
    return f"to_char({sql}, 'YYYY-MM-DD')"


@dataclass(frozen=True)
class Source:
    """A type's SQL source: its table, the predicate `node(id)` applies (visibility), its
    fields and its reasons. A type that is no table's rows (e.g. `ResponsibilityLink`) has
    for its table a parenthesised SELECT of the rows computed from `{parent}`, each with an
    `id` unique in the statement; it is reached only through a relation."""

    table: str
    node_filter: str
    fields: dict[str, Field]
    reasons: dict[str, Reason] = field(default_factory=dict)
    # False: a Node type read only through its relations; node(id) of one runs on the ordinary path
    node: bool = True


@dataclass(frozen=True)
class Alternative:
    """One of a root connection's alternatives (`RootConnection.alternatives`): `where` over
    `{row}`, read from `table` (None: the connection's own), a table whose rows are those of
    the connection's table with the columns `where` reads."""

    where: str
    table: str | None = None


@dataclass(frozen=True)
class RootConnection:
    """A root list field compiled as a connection over `table`: `where` uses `{county}`
    and the named arguments `{arg_NAME}` (its `totalCount` counts the rows `where` selects);
    `arguments` turns the field's GraphQL arguments into those parameters (raising
    `Fallback` for what the ordinary path refuses): the field's `filter` argument, or where
    it has none, its other arguments by name."""

    target: str
    table: str
    where: str
    parameters: tuple[tuple[str, str], ...]  # (name, SQL type)
    # the field's `filter` argument (None when absent) -> the parameters' values, by name
    arguments: Callable[[Any], dict[str, Any]]
    # newest first: pages by id descending (`after` a cursor of a greater id)
    descending: bool = False
    # paged by a time and then the id (SQL over `{row}`, a timestamptz): cursors
    # `[isoformat, id]` as resolvers/life.py `time_cursor` reads them; None: by id alone
    time: str | None = None
    # a set the fragments read once a statement (SQL over `{viewer}` and the arguments, e.g. a
    # set-returning rule): a MATERIALIZED CTE that `where` and `audit` name `{once}`
    once: str | None = None
    # why the viewer reads each row of the page, audited as the ordinary path audits the list
    # itself (`people`: resolvers/people.py, field "people")
    audit: Reason | None = None
    # the field's own rule, a boolean SQL over `{viewer}` (db/ruled_page.py: `users`, `auditLog`):
    # where it is false the statement reads nothing and returns no row, and the ordinary path
    # answers with its refusal (FORBIDDEN)
    rule: str | None = None
    # `where` as disjoint predicates whose rows together are those `where` selects, each
    # gated by what the viewer is (a condition over `{viewer}` alone, which the generic plan
    # tests once), and maybe by where the row lies for that viewer. Each is planned apart
    # and their rows are a UNION ALL: a statement's one generic plan then serves the viewer who
    # scans the county (staff) and the one whose few rows an index finds (a resident), where
    # the OR of `where` leaves both to a scan. Paged by id only (`time` None).
    alternatives: tuple[Alternative, ...] = ()

    def __post_init__(self) -> None:
        assert not self.alternatives or self.time is None, "alternatives page by id"


@dataclass(frozen=True)
class Interface:
    """An interface a relation leads to, whose rows all live in `table`: `type_name` is SQL
    over `{row}` naming each row's GraphQL type, `node_filter` the predicate node(id) applies
    to a row of any of them. Compiled only where the selection is the same for every type
    that implements it and reads fields each of them declares alike (id, columns)."""

    table: str
    node_filter: str
    type_name: str


SOURCES: dict[str, Source] = {}
ROOTS: dict[str, RootConnection] = {}
INTERFACES: dict[str, Interface] = {}


def declare(type_name: str, source: Source) -> None:
    SOURCES[type_name] = source


def declare_field(type_name: str, field_name: str, declared: Field) -> None:
    """One more field of a declared type (declared beside the field, away from its type's)."""
    SOURCES[type_name].fields[field_name] = declared


def declare_root(field_name: str, root: RootConnection) -> None:
    ROOTS[field_name] = root


def declare_interface(type_name: str, interface: Interface) -> None:
    INTERFACES[type_name] = interface
