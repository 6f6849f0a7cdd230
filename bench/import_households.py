"""Benchmark of `gongjian import`: 100,000 households (and their areas) into a fresh database.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench.import_households

Creates a scratch database on that server, migrates it, writes the CSV files to a temporary
folder, times a first import and a re-import (which updates every row), then drops it.
"""

from __future__ import annotations

import asyncio
import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from db import bulk_import
from db.pool import Conn, connect

HOUSEHOLDS = 100_000
COMMUNITIES = 10
COMPOUNDS_PER_COMMUNITY = 20
BUILDINGS_PER_COMPOUND = 10  # 2,000 buildings, 50 households each


def write_files(folder: Path) -> dict[str, Path]:
    areas = folder / "areas.csv"
    households = folder / "households.csv"
    with areas.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(bulk_import.COLUMNS["areas"])
        w.writerow(["BENCH", "", "COUNTY", "基准县", "", ""])
        w.writerow(["T1", "BENCH", "TOWN", "城关镇", "", ""])
        buildings = []
        for c in range(COMMUNITIES):
            w.writerow([f"C{c}", "T1", "COMMUNITY", f"第{c + 1}社区", "", ""])
            for k in range(COMPOUNDS_PER_COMMUNITY):
                w.writerow([f"C{c}-K{k}", f"C{c}", "COMPOUND", f"第{k + 1}小区", "COMMERCIAL", f"幸福路{k + 1}号"])
                for b in range(BUILDINGS_PER_COMPOUND):
                    code = f"C{c}-K{k}-B{b}"
                    w.writerow([code, f"C{c}-K{k}", "BUILDING", f"{b + 1}号楼", "", ""])
                    buildings.append(code)
    per_building = HOUSEHOLDS // len(buildings)
    with households.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(bulk_import.COLUMNS["households"])
        for code in buildings:
            for h in range(per_building):
                w.writerow([f"{code}-H{h}", code, "", f"{h // 4 + 1}0{h % 4 + 1}"])
    return {"areas": areas, "households": households}


async def timed_import(url: str, files: dict[str, Path]) -> float:
    raw = await connect(url)
    try:
        conn = Conn(raw)
        started = time.perf_counter()
        async with conn.transaction():
            report = await bulk_import.load(
                conn, "BENCH", files, lambda label: print(f"  {time.perf_counter() - started:5.1f} s {label}")
            )
        elapsed = time.perf_counter() - started
        assert report.rows["households"] == HOUSEHOLDS
        return elapsed
    finally:
        await raw.close()


async def main() -> None:
    async with common.scratch_database() as url:
        await common.migrate_database(url)
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            files = write_files(Path(folder))
            print(f"wrote the CSV files in {time.perf_counter() - started:.1f} s")
            first = await timed_import(url, files)
            print(f"first import of {HOUSEHOLDS:,} households (and 2,212 areas): {first:.1f} s")
            again = await timed_import(url, files)
            print(f"re-import of the same files (every row matched by code, none duplicated): {again:.1f} s")
        async with common.connection(url) as check:
            total = await check.fetchval("SELECT count(*) FROM households")
        assert total == HOUSEHOLDS, total


if __name__ == "__main__":
    asyncio.run(main())
