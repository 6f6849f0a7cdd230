"""`gongjian import`: CSV files of areas, households, people and posts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from db import bulk_import
from db.bulk_import import ImportRefused, Problem
from db.pool import Conn
from tests import builders as b

DATA = Path(__file__).parent / "data" / "import"
KINDS = ("areas", "households", "people", "posts")


async def run(conn: asyncpg.Connection, files: dict[str, Path], county: str = "FP") -> bulk_import.Report | list[str]:
    c = Conn(conn)
    try:
        async with c.transaction():
            return await bulk_import.load(c, county, files)
    except ImportRefused as refused:
        return [str(p) for p in refused.problems]


def copy(tmp_path: Path, kinds: tuple[str, ...] = KINDS) -> dict[str, Path]:
    files = {}
    for kind in kinds:
        files[kind] = tmp_path / f"{kind}.csv"
        shutil.copy(DATA / f"{kind}.csv", files[kind])
    return files


async def counts(conn: asyncpg.Connection) -> dict[str, Any]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM areas WHERE code LIKE 'FP%') AS areas, "
        "(SELECT count(*) FROM households WHERE code LIKE 'H%') AS households, "
        "(SELECT count(*) FROM persons WHERE code LIKE 'P%') AS people, "
        "(SELECT count(*) FROM posts p JOIN persons x ON x.id = p.person_id WHERE x.code LIKE 'P%') AS posts"
    )
    assert row is not None
    return dict(row)


async def organisations_for(conn: asyncpg.Connection) -> None:
    county = await conn.fetchval("SELECT id FROM areas WHERE code = 'FP' AND parent_id IS NULL")
    community = await conn.fetchval("SELECT id FROM areas WHERE code = 'FP-01-01'")
    await b.organisation(conn, county, "RESIDENTS_COMMITTEE", "城关社区居民委员会", area_id=community)
    await b.organisation(conn, county, "GOVERNMENT_UNIT", "县财政局")


async def test_good_files_import_and_reimport_updates(conn: asyncpg.Connection, tmp_path: Path) -> None:
    files = copy(tmp_path, ("areas", "households", "people"))
    report = await run(conn, files)
    assert isinstance(report, bulk_import.Report)
    assert report.rows == {"areas": 10, "households": 3, "people": 5}
    assert await counts(conn) == {"areas": 10, "households": 3, "people": 5, "posts": 0}
    # the tree: paths, levels, compound kinds; a dwelling in a stairwell unit
    compound = await conn.fetchrow(
        "SELECT compound_kind, address, array_length(path, 1) AS depth FROM areas WHERE code = 'FP-C001'"
    )
    assert compound is not None and dict(compound) == {
        "compound_kind": "COMMERCIAL",
        "address": "佛坪县袁家庄街道滨河路12号",
        "depth": 5,
    }
    home = await conn.fetchrow(
        "SELECT a.level, b.code FROM households h JOIN areas a ON a.id = h.area_id "
        "JOIN areas b ON b.id = h.building_id WHERE h.code = 'H0002'"
    )
    assert home is not None and dict(home) == {"level": "UNIT", "code": "FP-C001-B1"}
    person = await conn.fetchrow(
        "SELECT p.name, p.party_member, h.code FROM persons p JOIN households h ON h.id = p.household_id "
        "WHERE p.code = 'P0003'"
    )
    assert person is not None and dict(person) == {"name": "张伟", "party_member": True, "code": "H0002"}

    # posts need the organisations; then the whole set again: updated, never duplicated
    await organisations_for(conn)
    files = copy(tmp_path)
    text = files["people"].read_text(encoding="utf-8").replace("王建国", "王建军")
    files["people"].write_text(text, encoding="utf-8")
    assert isinstance(await run(conn, files), bulk_import.Report)
    assert isinstance(await run(conn, files), bulk_import.Report)
    assert await counts(conn) == {"areas": 10, "households": 3, "people": 5, "posts": 3}
    assert await conn.fetchval("SELECT name FROM persons WHERE code = 'P0001'") == "王建军"
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM posts p JOIN persons x ON x.id = p.person_id "
            "WHERE x.code = 'P0003' AND p.until IS NOT NULL"
        )
        == 1
    )


async def test_wrong_columns(conn: asyncpg.Connection, tmp_path: Path) -> None:
    files = copy(tmp_path, ("areas",))
    files["areas"].write_text("code,parent,level,name,compound_kind,address\nFP,,COUNTY,县,,\n", encoding="utf-8")
    problems = await run(conn, files)
    assert problems == [
        "areas.csv:1: wrong columns: expected code,parent_code,level,name,compound_kind,address; "
        "missing parent_code; unknown parent"
    ]
    files["areas"].write_text(
        "code,parent_code,level,name,compound_kind,address\nFP,,COUNTY,县,,\nFP-1,FP,TOWN\n", encoding="utf-8"
    )
    assert await run(conn, files) == ["areas.csv:3: expected 6 fields, found 3"]
    assert await counts(conn) == {"areas": 0, "households": 0, "people": 0, "posts": 0}


async def test_unknown_parent_and_every_bad_line_reported(conn: asyncpg.Connection, tmp_path: Path) -> None:
    files = copy(tmp_path, ("areas", "households", "people"))
    with files["areas"].open("a", encoding="utf-8") as f:
        f.write("FP-X1,FP-NOPE,BUILDING,9号楼,,\n")  # line 12
        f.write("FP-X2,FP-01,BUILDING,8号楼,,\n")  # line 13: a building under a town
    with files["people"].open("a", encoding="utf-8") as f:
        f.write("P0009,赵六,H0001,not-a-phone,12345,MAN,19x0,maybe\n")  # line 7
    problems = await run(conn, files)
    assert problems == [
        "people.csv:7: phone 'not-a-phone' is not a phone number",
        "people.csv:7: id_number must be 18 characters: 17 digits and a digit or X",
        "people.csv:7: gender must be FEMALE, MALE or empty",
        "people.csv:7: birth_year must be a year between 1900 and 2100",
        "people.csv:7: party_member must be true or false",
    ]
    # once the lines are right, the database checks find the areas' problems, all of them
    files["people"].write_text(DATA.joinpath("people.csv").read_text(encoding="utf-8"), encoding="utf-8")
    problems = await run(conn, files)
    assert problems == [
        "areas.csv:12: unknown parent_code 'FP-NOPE'",
        "areas.csv:13: a BUILDING cannot stand under a TOWN",
    ]
    assert await counts(conn) == {"areas": 0, "households": 0, "people": 0, "posts": 0}


async def test_unknown_references_in_later_files(conn: asyncpg.Connection, tmp_path: Path) -> None:
    files = copy(tmp_path, ("areas", "households", "people"))
    with files["households"].open("a", encoding="utf-8") as f:
        f.write("H0009,FP-NOPE,,101\n")
        f.write("H0010,FP-C002-B1,FP-C001-B1-U1,102\n")  # a unit of another building
    problems = await run(conn, files)
    assert problems == [
        "households.csv:5: unknown building_code 'FP-NOPE'",
        "households.csv:6: unknown unit_code 'FP-C001-B1-U1' in that building",
    ]
    assert await counts(conn) == {"areas": 0, "households": 0, "people": 0, "posts": 0}


async def test_duplicate_codes(conn: asyncpg.Connection, tmp_path: Path) -> None:
    files = copy(tmp_path, ("areas", "households"))
    with files["households"].open("a", encoding="utf-8") as f:
        f.write("H0001,FP-C002-B1,,999\n")
        f.write("H0011,FP-C002-B1,,1号楼302\n")
    problems = await run(conn, files)
    assert problems == [
        "households.csv:5: duplicate code (first on line 2)",
        "households.csv:6: duplicate label (first on line 4)",
    ]
    assert await counts(conn) == {"areas": 0, "households": 0, "people": 0, "posts": 0}


async def test_bad_encoding(conn: asyncpg.Connection, tmp_path: Path) -> None:
    files = copy(tmp_path, ("areas",))
    lines = files["areas"].read_bytes().split(b"\n")
    lines[2] = "FP-01,FP,TOWN,袁家庄街道,,".encode("gbk")
    files["areas"].write_bytes(b"\n".join(lines))
    assert await run(conn, files) == ["areas.csv:3: not UTF-8 text (save the file as UTF-8, e.g. not GBK)"]
    assert await counts(conn) == {"areas": 0, "households": 0, "people": 0, "posts": 0}


async def test_an_area_is_not_moved_by_reimport(conn: asyncpg.Connection, tmp_path: Path) -> None:
    files = copy(tmp_path, ("areas",))
    assert isinstance(await run(conn, files), bulk_import.Report)
    text = (
        files["areas"].read_text(encoding="utf-8").replace("FP-C002,FP-01-01,COMPOUND", "FP-C002,FP-01-01-D1,COMPOUND")
    )
    files["areas"].write_text(text, encoding="utf-8")
    problems = await run(conn, files)
    assert problems == ["areas.csv:7: the area 'FP-C002' exists under another parent or level: areas are not moved"]


async def test_unknown_county(conn: asyncpg.Connection, tmp_path: Path) -> None:
    files = copy(tmp_path, ("households",))
    problems = await run(conn, files, county="NOPE")
    assert problems == ["-:0: no county with code 'NOPE': add it to the areas file"]


def test_command_line(
    committed_db: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gongjian import cli

    monkeypatch.setenv("DATABASE_URL", committed_db["url"])
    monkeypatch.setenv("GONGJIAN_SECRET", "x" * 48)
    monkeypatch.setenv("GONGJIAN_DATA_DIR", str(tmp_path))
    files = copy(tmp_path, ("areas", "households", "people"))
    cli.main(["import", "--county", "FP", *[a for k, p in files.items() for a in (f"--{k}", str(p))]])
    err = capsys.readouterr().err
    assert "imported 10 areas, 3 households, 5 people" in err and "[#" in err
    files["households"].write_text("code,building_code,unit_code,label\nH1,NOPE,,1\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["import", "--county", "FP", "--households", str(files["households"])])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "households.csv:2: unknown building_code 'NOPE'" in err and "nothing was imported" in err


def test_problem_text() -> None:
    assert str(Problem("a.csv", 3, "bad")) == "a.csv:3: bad"
