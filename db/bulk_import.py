"""Bulk import of areas, households, people and posts from CSV files (`gongjian import`).

Every file is checked whole before anything is written: first line by line (columns,
encoding, values, duplicates inside the files), then against the database inside the
import's transaction (unknown parents, levels, moves, clashes). Any bad line and nothing
is imported. Rows are matched by their external `code` within the county, so importing
the same files again updates rows and never duplicates them. Rows go in with COPY into
temporary tables and one set-based `INSERT ... ON CONFLICT` per table (and per level for
areas, whose path trigger needs the parent first).
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from db.pool import Conn

LEVELS: Final = ("COUNTY", "TOWN", "COMMUNITY", "DISTRICT", "COMPOUND", "BUILDING", "UNIT")
COMPOUND_KINDS: Final = ("COMMERCIAL", "STAFF_HOUSING", "SELF_BUILT", "RESETTLEMENT", "OTHER")
PHONE: Final = re.compile(r"^[0-9+\- ]{5,20}$")
ID_NUMBER: Final = re.compile(r"^[0-9]{17}[0-9X]$")
TRUE: Final = ("true", "1", "yes", "是")
FALSE: Final = ("false", "0", "no", "否", "")

COLUMNS: Final = {
    "areas": ("code", "parent_code", "level", "name", "compound_kind", "address"),
    "households": ("code", "building_code", "unit_code", "label"),
    "people": ("code", "name", "household_code", "phone", "id_number", "gender", "birth_year", "party_member"),
    "posts": ("person_code", "organisation", "role", "since", "until"),
}
ORDER: Final[tuple[str, ...]] = ("areas", "households", "people", "posts")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class ImportRefused(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} bad line(s); nothing was imported")
        self.problems = problems


@dataclass
class Parsed:
    """The rows of one file: (line number, values by column)."""

    kind: str
    name: str
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def read(kind: str, path: Path, problems: list[Problem]) -> Parsed:
    """Read a CSV file (UTF-8, header line first), reporting undecodable or malformed lines."""
    parsed = Parsed(kind, path.name)
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(Problem(path.name, number, "not UTF-8 text (save the file as UTF-8, e.g. not GBK)"))
            lines.append("")
    if any(p.file == path.name for p in problems):
        return parsed
    reader = csv.reader(io.StringIO("\n".join(lines), newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        problems.append(Problem(path.name, 1, "empty file: a header line is needed"))
        return parsed
    expected = COLUMNS[kind]
    if sorted(header) != sorted(expected) or len(set(header)) != len(header):
        missing = [c for c in expected if c not in header]
        unknown = [c for c in header if c not in expected]
        problems.append(
            Problem(
                path.name,
                1,
                f"wrong columns: expected {','.join(expected)}"
                + (f"; missing {','.join(missing)}" if missing else "")
                + (f"; unknown {','.join(unknown)}" if unknown else ""),
            )
        )
        return parsed
    try:
        for values in reader:
            number = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                problems.append(Problem(path.name, number, f"expected {len(header)} fields, found {len(values)}"))
                continue
            parsed.rows.append((number, {h: v.strip() for h, v in zip(header, values, strict=True)}))
    except csv.Error as exc:
        problems.append(Problem(path.name, reader.line_num, f"malformed CSV: {exc}"))
    return parsed


def _duplicates(parsed: Parsed, key: Callable[[dict[str, str]], Any], what: str, problems: list[Problem]) -> None:
    seen: dict[Any, int] = {}
    for number, row in parsed.rows:
        k = key(row)
        if k is None:
            continue
        if k in seen:
            problems.append(Problem(parsed.name, number, f"duplicate {what} (first on line {seen[k]})"))
        else:
            seen[k] = number


def _date(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


def check_lines(files: dict[str, Parsed], problems: list[Problem]) -> None:
    """The checks that need no database: values, required fields, duplicates inside the files."""

    def bad(p: Parsed, line: int, reason: str) -> None:
        problems.append(Problem(p.name, line, reason))

    if (a := files.get("areas")) is not None:
        for n, r in a.rows:
            if not r["code"]:
                bad(a, n, "code is required")
            if not r["name"]:
                bad(a, n, "name is required")
            if r["level"] not in LEVELS:
                bad(a, n, f"unknown level {r['level']!r} (one of {', '.join(LEVELS)})")
            elif (r["level"] == "COUNTY") != (r["parent_code"] == ""):
                bad(a, n, "parent_code is empty for the county and only for it")
            if r["level"] == "COMPOUND" and r["compound_kind"] not in COMPOUND_KINDS:
                bad(a, n, f"compound_kind must be one of {', '.join(COMPOUND_KINDS)}")
            if r["level"] != "COMPOUND" and r["compound_kind"]:
                bad(a, n, "compound_kind is only for compounds")
        _duplicates(a, lambda r: r["code"] or None, "code", problems)
        _duplicates(
            a, lambda r: (r["parent_code"], r["name"]) if r["name"] else None, "name under one parent", problems
        )
    if (h := files.get("households")) is not None:
        for n, r in h.rows:
            for column in ("code", "building_code", "label"):
                if not r[column]:
                    bad(h, n, f"{column} is required")
        _duplicates(h, lambda r: r["code"] or None, "code", problems)
        _duplicates(
            h, lambda r: (r["building_code"], r["unit_code"], r["label"]) if r["label"] else None, "label", problems
        )
    if (p := files.get("people")) is not None:
        for n, r in p.rows:
            if not r["code"]:
                bad(p, n, "code is required")
            if not r["name"]:
                bad(p, n, "name is required")
            if r["phone"] and not PHONE.match(r["phone"]):
                bad(p, n, f"phone {r['phone']!r} is not a phone number")
            if r["id_number"] and not ID_NUMBER.match(r["id_number"]):
                bad(p, n, "id_number must be 18 characters: 17 digits and a digit or X")
            if r["gender"] not in ("", "FEMALE", "MALE"):
                bad(p, n, "gender must be FEMALE, MALE or empty")
            if r["birth_year"] and not (
                r["birth_year"].isascii() and r["birth_year"].isdigit() and 1900 <= int(r["birth_year"]) <= 2100
            ):
                bad(p, n, "birth_year must be a year between 1900 and 2100")
            if r["party_member"].lower() not in TRUE + FALSE:
                bad(p, n, "party_member must be true or false")
        _duplicates(p, lambda r: r["code"] or None, "code", problems)
        _duplicates(p, lambda r: r["id_number"] or None, "id_number", problems)
    if (s := files.get("posts")) is not None:
        for n, r in s.rows:
            for column in ("person_code", "organisation", "role", "since"):
                if not r[column]:
                    bad(s, n, f"{column} is required")
            since, until = _date(r["since"]), _date(r["until"]) if r["until"] else None
            if r["since"] and since is None:
                bad(s, n, "since must be a date YYYY-MM-DD")
            if r["until"] and until is None:
                bad(s, n, "until must be a date YYYY-MM-DD")
            if since and until and until < since:
                bad(s, n, "until is before since")
        _duplicates(
            s,
            lambda r: (r["person_code"], r["organisation"], r["role"]) if not r["until"] else None,
            "current post",
            problems,
        )


# --- the database side ---------------------------------------------------------------------------

TEMP_TABLES: Final = """
DROP TABLE IF EXISTS pg_temp.import_areas, pg_temp.import_households, pg_temp.import_people, pg_temp.import_posts;
CREATE TEMP TABLE import_areas (line int, code text, parent_code text, level text, name text,
                                compound_kind text, address text) ON COMMIT DROP;
CREATE TEMP TABLE import_households (line int, code text, building_code text, unit_code text, label text)
    ON COMMIT DROP;
CREATE TEMP TABLE import_people (line int, code text, name text, household_code text, phone text, id_number text,
                                 gender text, birth_year int, party_member boolean) ON COMMIT DROP;
CREATE TEMP TABLE import_posts (line int, person_code text, organisation text, role text, since date, until date)
    ON COMMIT DROP;
"""
FIND_COUNTY: Final = "SELECT id FROM areas WHERE parent_id IS NULL AND code = $1"
CREATE_COUNTY: Final = """
INSERT INTO areas (level, name, code, address)
SELECT 'COUNTY', i.name, i.code, nullif(i.address, '') FROM import_areas i WHERE i.level = 'COUNTY' AND i.code = $1
RETURNING id
"""
UPDATE_COUNTY: Final = """
UPDATE areas a SET name = i.name FROM import_areas i WHERE a.id = $1 AND i.level = 'COUNTY' AND i.code = a.code
"""

# each check returns (line, reason) for the bad rows; $1 is the county
AREA_CHECKS: Final = (
    """
    SELECT i.line, 'unknown parent_code ' || quote_literal(i.parent_code) FROM import_areas i
    WHERE i.level <> 'COUNTY'
      AND NOT EXISTS (SELECT 1 FROM import_areas p WHERE p.code = i.parent_code)
      AND NOT EXISTS (SELECT 1 FROM areas p WHERE p.county_id = $1::bigint AND p.code = i.parent_code)
    """,
    """
    SELECT i.line, 'a ' || i.level || ' cannot stand under a ' || coalesce(fp.level, dp.level) FROM import_areas i
    LEFT JOIN import_areas fp ON fp.code = i.parent_code
    LEFT JOIN areas dp ON dp.county_id = $1::bigint AND dp.code = i.parent_code AND dp.code IS NOT NULL
    WHERE i.level <> 'COUNTY' AND coalesce(fp.level, dp.level) IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM area_level_parents x
                      WHERE x.level = i.level AND x.parent_level = coalesce(fp.level, dp.level))
    """,
    """
    SELECT i.line, 'the area ' || quote_literal(i.code) || ' exists under another parent or level: areas are not moved'
    FROM import_areas i JOIN areas a ON a.county_id = $1::bigint AND a.code = i.code
    LEFT JOIN areas p ON p.id = a.parent_id
    WHERE i.level <> 'COUNTY' AND (p.code IS DISTINCT FROM i.parent_code OR a.level <> i.level)
    """,
    """
    SELECT i.line, 'another area is already named ' || quote_literal(i.name) || ' there' FROM import_areas i
    JOIN areas p ON p.county_id = $1::bigint AND p.code = i.parent_code
    JOIN areas a ON a.parent_id = p.id AND a.name = i.name
    WHERE a.code IS DISTINCT FROM i.code
    """,
    """
    SELECT i.line, 'the county code ' || quote_literal(i.code) || ' is not the county being imported'
    FROM import_areas i WHERE i.level = 'COUNTY' AND i.code <> $2::text AND $1::bigint IS NOT NULL
    """,
)
HOUSEHOLD_CHECKS: Final = (
    """
    SELECT i.line, 'unknown building_code ' || quote_literal(i.building_code) FROM import_households i
    WHERE NOT EXISTS (SELECT 1 FROM areas b WHERE b.county_id = $1::bigint AND b.code = i.building_code
                      AND b.level = 'BUILDING')
    """,
    """
    SELECT i.line, 'unknown unit_code ' || quote_literal(i.unit_code) || ' in that building' FROM import_households i
    WHERE i.unit_code <> '' AND NOT EXISTS (
      SELECT 1 FROM areas u JOIN areas b ON b.id = u.parent_id
      WHERE u.county_id = $1::bigint AND u.code = i.unit_code AND u.level = 'UNIT' AND b.code = i.building_code)
    """,
    """
    SELECT i.line, 'another household already has the label ' || quote_literal(i.label) || ' there'
    FROM import_households i
    JOIN areas a ON a.county_id = $1::bigint AND a.code = coalesce(nullif(i.unit_code, ''), i.building_code)
    JOIN households h ON h.area_id = a.id AND h.label = i.label
    WHERE h.code IS DISTINCT FROM i.code
    """,
)
PEOPLE_CHECKS: Final = (
    """
    SELECT i.line, 'unknown household_code ' || quote_literal(i.household_code) FROM import_people i
    WHERE i.household_code <> ''
      AND NOT EXISTS (SELECT 1 FROM households h WHERE h.county_id = $1::bigint AND h.code = i.household_code)
    """,
    """
    SELECT i.line, 'another person already has this id_number' FROM import_people i
    JOIN persons p ON p.id_number = i.id_number
    WHERE p.county_id <> $1::bigint OR p.code IS DISTINCT FROM i.code
    """,
)
POST_CHECKS: Final = (
    """
    SELECT i.line, 'unknown person_code ' || quote_literal(i.person_code) FROM import_posts i
    WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.county_id = $1::bigint AND p.code = i.person_code)
    """,
    """
    SELECT i.line, 'unknown organisation ' || quote_literal(i.organisation) || ' (give its code or its name)'
    FROM import_posts i
    WHERE NOT EXISTS (SELECT 1 FROM organisations o WHERE o.county_id = $1::bigint
                      AND (o.code = i.organisation OR o.name = i.organisation))
    """,
)

UPSERT_AREAS: Final = """
INSERT INTO areas (county_id, parent_id, level, name, code, compound_kind, address)
SELECT $1, p.id, i.level, i.name, i.code, nullif(i.compound_kind, ''), nullif(i.address, '')
FROM import_areas i JOIN areas p ON p.county_id = $1 AND p.code = i.parent_code
WHERE i.level = $2
ORDER BY i.line
ON CONFLICT (county_id, code) WHERE code IS NOT NULL DO UPDATE
SET name = EXCLUDED.name, compound_kind = EXCLUDED.compound_kind, address = EXCLUDED.address
WHERE (areas.name, areas.compound_kind, areas.address)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.compound_kind, EXCLUDED.address)
"""
UPSERT_HOUSEHOLDS: Final = """
INSERT INTO households (county_id, area_id, building_id, label, code)
SELECT $1, coalesce(u.id, b.id), b.id, i.label, i.code
FROM import_households i
JOIN areas b ON b.county_id = $1 AND b.code = i.building_code
LEFT JOIN areas u ON u.county_id = $1 AND u.code = nullif(i.unit_code, '')
ORDER BY i.line
ON CONFLICT (county_id, code) WHERE code IS NOT NULL DO UPDATE
SET area_id = EXCLUDED.area_id, building_id = EXCLUDED.building_id, label = EXCLUDED.label
WHERE (households.area_id, households.building_id, households.label)
      IS DISTINCT FROM (EXCLUDED.area_id, EXCLUDED.building_id, EXCLUDED.label)
"""
UPSERT_PEOPLE: Final = """
INSERT INTO persons (county_id, name, household_id, phone, id_number, gender, birth_year, party_member, code)
SELECT $1, i.name, h.id, nullif(i.phone, ''), nullif(i.id_number, ''), nullif(i.gender, ''), i.birth_year,
       i.party_member, i.code
FROM import_people i LEFT JOIN households h ON h.county_id = $1 AND h.code = nullif(i.household_code, '')
ORDER BY i.line
ON CONFLICT (county_id, code) WHERE code IS NOT NULL DO UPDATE
SET name = EXCLUDED.name, household_id = EXCLUDED.household_id, phone = EXCLUDED.phone,
    id_number = EXCLUDED.id_number, gender = EXCLUDED.gender, birth_year = EXCLUDED.birth_year,
    party_member = EXCLUDED.party_member
WHERE (persons.name, persons.household_id, persons.phone, persons.id_number, persons.gender, persons.birth_year,
       persons.party_member)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.household_id, EXCLUDED.phone, EXCLUDED.id_number, EXCLUDED.gender,
                        EXCLUDED.birth_year, EXCLUDED.party_member)
"""
# current posts are matched by (person, organisation, role); ended ones are added once
UPSERT_POSTS: Final = """
WITH resolved AS (
  SELECT i.line, p.id AS person_id,
         (SELECT o.id FROM organisations o
          WHERE o.county_id = $1 AND (o.code = i.organisation OR o.name = i.organisation)
          ORDER BY (o.code = i.organisation) DESC NULLS LAST, o.id LIMIT 1) AS organisation_id,
         i.role, i.since, i.until
  FROM import_posts i JOIN persons p ON p.county_id = $1 AND p.code = i.person_code
)
INSERT INTO posts (county_id, person_id, organisation_id, role, since, until)
SELECT $1, r.person_id, r.organisation_id, r.role, r.since, r.until FROM resolved r
WHERE r.until IS NULL OR NOT EXISTS (
  SELECT 1 FROM posts x WHERE x.person_id = r.person_id AND x.organisation_id = r.organisation_id
    AND x.role = r.role AND x.since = r.since AND x.until = r.until)
ORDER BY r.line
ON CONFLICT (person_id, organisation_id, role) WHERE until IS NULL DO UPDATE SET since = EXCLUDED.since
WHERE posts.since <> EXCLUDED.since
"""


def _records(parsed: Parsed | None, convert: Callable[[int, dict[str, str]], tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [] if parsed is None else [convert(n, r) for n, r in parsed.rows]


def _area_record(n: int, r: dict[str, str]) -> tuple[Any, ...]:
    return (n, r["code"], r["parent_code"], r["level"], r["name"], r["compound_kind"], r["address"])


def _household_record(n: int, r: dict[str, str]) -> tuple[Any, ...]:
    return (n, r["code"], r["building_code"], r["unit_code"], r["label"])


def _person_record(n: int, r: dict[str, str]) -> tuple[Any, ...]:
    return (
        n,
        r["code"],
        r["name"],
        r["household_code"],
        r["phone"],
        r["id_number"],
        r["gender"],
        int(r["birth_year"]) if r["birth_year"] else None,
        r["party_member"].lower() in TRUE,
    )


def _post_record(n: int, r: dict[str, str]) -> tuple[Any, ...]:
    return (n, r["person_code"], r["organisation"], r["role"], _date(r["since"]), _date(r["until"]) or None)


TABLES: Final = {
    "areas": ("import_areas", _area_record, COLUMNS["areas"]),
    "households": ("import_households", _household_record, COLUMNS["households"]),
    "people": ("import_people", _person_record, COLUMNS["people"]),
    "posts": ("import_posts", _post_record, COLUMNS["posts"]),
}
CHECKS: Final = {"areas": AREA_CHECKS, "households": HOUSEHOLD_CHECKS, "people": PEOPLE_CHECKS, "posts": POST_CHECKS}


@dataclass
class Report:
    county_id: int
    rows: dict[str, int]


async def _checks(
    conn: Conn, county: int | None, county_code: str, kind: str, name: str, problems: list[Problem]
) -> None:
    for sql in CHECKS[kind]:
        args: tuple[Any, ...] = (county or 0, county_code) if "$2::text" in sql else (county or 0,)
        for line, reason in await conn.fetch(sql, *args):
            problems.append(Problem(name, line, reason))


async def load(
    conn: Conn, county_code: str, files: dict[str, Path], step: Callable[[str], None] = lambda label: None
) -> Report:
    """Import the given files (kinds: areas, households, people, posts) into the county with
    `county_code`, in the caller's transaction. Raises ImportRefused listing every bad line."""
    problems: list[Problem] = []
    parsed: dict[str, Parsed] = {kind: read(kind, files[kind], problems) for kind in ORDER if kind in files}
    check_lines(parsed, problems)
    step("checked the lines")
    if problems:
        raise ImportRefused(problems)

    await conn.execute(TEMP_TABLES)
    for kind, p in parsed.items():
        table, convert, columns = TABLES[kind]
        await conn.raw.copy_records_to_table(table, records=_records(p, convert), columns=["line", *columns])
        await conn.execute(f"ANALYZE {table}")  # temporary tables have no statistics otherwise
    step("copied into temporary tables")

    county = await conn.fetchval(FIND_COUNTY, county_code)
    if county is None and not any(r["level"] == "COUNTY" for _, r in (parsed.get("areas") or Parsed("", "")).rows):
        raise ImportRefused([Problem("-", 0, f"no county with code {county_code!r}: add it to the areas file")])
    # the checks of a file see the rows of the files before it (areas before households ...)
    for kind, p in parsed.items():
        await _checks(conn, county, county_code, kind, p.name, problems)
        if problems:
            break
        if kind == "areas":
            county = await _upsert_areas(conn, county, county_code, step)
        else:
            await conn.execute(
                {"households": UPSERT_HOUSEHOLDS, "people": UPSERT_PEOPLE, "posts": UPSERT_POSTS}[kind], county
            )
            step(f"imported {kind}")
    if problems:
        raise ImportRefused(sorted(problems, key=lambda x: (ORDER.index(_kind_of(parsed, x.file)), x.line)))
    assert county is not None
    return Report(county_id=county, rows={kind: len(p.rows) for kind, p in parsed.items()})


def _kind_of(parsed: dict[str, Parsed], name: str) -> str:
    return next((k for k, p in parsed.items() if p.name == name), "areas")


async def _upsert_areas(conn: Conn, county: int | None, county_code: str, step: Callable[[str], None]) -> int:
    if county is None:
        county = int(await conn.fetchval(CREATE_COUNTY, county_code))
    else:
        await conn.execute(UPDATE_COUNTY, county)
    for level in LEVELS[1:]:
        await conn.execute(UPSERT_AREAS, county, level)
    step("imported areas")
    return county


def count_steps(kinds: Iterable[str]) -> int:
    return 2 + len(list(kinds))
