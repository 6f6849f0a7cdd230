"""Report exports for admin tooling: `GET /reports/{statistics,coverage,compliance,due-households}`
as CSV (UTF-8 with a BOM, so that Excel reads Chinese) or XLSX, every row, with Chinese
column headers. The arguments are the GraphQL fields' (`areaId`, `asOf`, `kind`), and so is
the permission check (`resolvers.pairings` decides who may read an area's reports)."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import io
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any, Final

from graphql import GraphQLError
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from db import exports as db
from db import pairings as pairings_db
from db.areas import AreaRow
from gongjian import clock
from resolvers.access import viewer_key
from resolvers.context import Context
from resolvers.pairings import _report_area, period, period_starts

REPORTS: Final = ("statistics", "coverage", "compliance", "due-households")
FORMATS: Final = ("csv", "xlsx")
KINDS: Final = ("HOME_VISIT", "HEART_TO_HEART", "GOOD_DEED")
KIND_NAMES: Final = {"HOME_VISIT": "入户走访", "HEART_TO_HEART": "谈心谈话", "GOOD_DEED": "办一件好事"}

STATISTICS_NAMES: Final = {
    "party_branches": "党支部",
    "functional_branches": "小区功能型党支部",
    "building_heads": "楼栋长",
    "households": "家庭户",
    "residents": "居民",
    "adopting_units": "包抓单位",
    "adopted_areas": "包抓小区、楼栋、自建房",
    "paired_cadres": "结对干部",
    "paired_households": "结对家庭户",
    "parking_spaces_opened": "开放停车位",
    "activities_held": "开展志愿服务活动",
    "renovated_compounds": "完成改造的老旧小区",
    "illegal_structures_removed": "拆除违法建筑",
    "orders_placed": "居民下单",
    "orders_completed": "已完成订单",
    "average_rating": "平均评分",
}
PLACES: Final = ["社区", "小区", "楼栋", "单元", "门牌"]
PLACE_KEYS: Final = ["community", "compound", "building", "stairwell", "label"]


class ExportRefused(Exception):
    """A request the export cannot answer: its HTTP status and error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


Rows = Callable[[], AsyncIterator[list[list[Any]]]]


@dataclass(frozen=True)
class Table:
    title: str  # the sheet's (and the file's) name
    headers: list[str]
    rows: Rows  # chunks of rows, read when the response streams
    summary: list[tuple[str, Any]] = dataclasses.field(default_factory=list)  # XLSX: a second sheet


def _date(params: Mapping[str, str], name: str) -> datetime.date | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise ExportRefused(400, "BAD_USER_INPUT", f"`{name}` must be a date (YYYY-MM-DD)") from None


async def _area(ctx: Context, params: Mapping[str, str]) -> AreaRow:
    area_id = params.get("areaId")
    if not area_id:
        raise ExportRefused(400, "BAD_USER_INPUT", "`areaId` is required")
    try:
        area = await _report_area(ctx, area_id)
    except GraphQLError as refused:
        raise ExportRefused(403, "FORBIDDEN", refused.message) from None
    if area is None:
        raise ExportRefused(404, "NOT_FOUND", "No such area")
    return area


def _streamed(ctx: Context, make: Callable[[Any], AsyncIterator[list[dict[str, Any]]]], keys: list[str]) -> Rows:
    """Rows read through a cursor on one connection, held while the response streams."""

    async def rows() -> AsyncIterator[list[list[Any]]]:
        async with ctx.db.transaction() as conn:
            async for chunk in make(conn):
                yield [[r[k] for k in keys] for r in chunk]

    return rows


def _once(rows: list[list[Any]]) -> Rows:
    async def one() -> AsyncIterator[list[list[Any]]]:
        yield rows

    return one


async def table(ctx: Context, report: str, params: Mapping[str, str]) -> Table:
    """The export `report` for the viewer, or ExportRefused."""
    if report not in REPORTS:
        raise ExportRefused(404, "NOT_FOUND", f"No report {report!r}: one of {', '.join(REPORTS)}")
    if params.get("from") or params.get("to"):
        raise ExportRefused(400, "BAD_USER_INPUT", "`from` and `to` are not supported yet")
    area = await _area(ctx, params)
    as_of = _date(params, "asOf") or clock.today(ctx.settings.zone)
    if report == "statistics":
        async with ctx.db.connection() as conn:
            figures = await pairings_db.statistics(conn, area.id)
        values = dataclasses.asdict(figures)
        rows = [[area.name, STATISTICS_NAMES[k], values[k]] for k in STATISTICS_NAMES]
        return Table("统计", ["区域", "指标", "数值"], _once(rows))
    if report == "coverage":
        async with ctx.db.connection() as conn:
            cover = await pairings_db.coverage(conn, area.id)
        figures_of_coverage: list[tuple[str, Any]] = [
            ("区域", area.name),
            ("楼栋", cover.buildings),
            ("有楼栋长的楼栋", cover.buildings_with_head),
            ("已包抓楼栋", cover.adopted_buildings),
            ("家庭户", cover.households),
            ("已结对家庭户", cover.paired_households),
            ("未结对家庭户", cover.households - cover.paired_households),
        ]
        uncovered = _streamed(ctx, lambda c: db.uncovered(c, area.id), PLACE_KEYS)
        return Table("未结对家庭户", PLACES, uncovered, figures_of_coverage)
    if report == "compliance":
        starts = period_starts(as_of)
        async with ctx.db.connection() as conn:
            done = await pairings_db.compliance(conn, area.id, as_of, starts)
        summary: list[tuple[str, Any]] = [("区域", area.name), ("截至", as_of), ("结对", done.pairings)]
        for kind in KINDS:
            met, due = done.by_kind[kind]
            summary += [(f"{KIND_NAMES[kind]}：已完成", met), (f"{KIND_NAMES[kind]}：未完成", due)]
        keys = [*PLACE_KEYS, "cadre", "unit", "since", "home_visit", "heart_to_heart", "good_deed"]
        headers = [*PLACES, "结对干部", "所在单位", "结对日期", *(KIND_NAMES[k] for k in KINDS)]
        viewer = viewer_key(ctx.signed_in)
        due_rows = _streamed(ctx, lambda c: db.due_pairings(c, viewer, area.id, as_of, starts), keys)
        return Table("未完成结对", headers, due_rows, summary)
    kind = params.get("kind") or ""
    if kind not in KINDS:
        raise ExportRefused(400, "BAD_USER_INPUT", f"`kind` must be one of {', '.join(KINDS)}")
    start, _ = period(kind, as_of)
    return Table(
        f"{KIND_NAMES[kind]}未完成家庭户",
        [*PLACES, "结对干部"],
        _streamed(ctx, lambda c: db.due_households(c, area.id, as_of, start, kind), [*PLACE_KEYS, "cadres"]),
        [("区域", area.name), ("截至", as_of), ("义务", KIND_NAMES[kind])],
    )


# --- writing the files -----------------------------------------------------------------------


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _safe(value: Any) -> Any:
    """A text cell that a spreadsheet would take for a formula gets a leading quote (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


async def csv_chunks(t: Table) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM, one chunk per chunk of rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(t.headers)
    yield ("\ufeff" + out.getvalue()).encode("utf-8")
    async for chunk in t.rows():
        out.seek(0)
        out.truncate()
        writer.writerows([[_safe(_text(v)) for v in row] for row in chunk])
        yield out.getvalue().encode("utf-8")


def _cells(sheet: Any, row: list[Any]) -> list[Any]:
    cells = []
    for value in row:
        cell = WriteOnlyCell(sheet, value=_text(value))
        if isinstance(cell.value, str):
            cell.data_type = "s"  # text, never a formula
        cells.append(cell)
    return cells


async def xlsx_file(t: Table) -> IO[bytes]:
    """The workbook in a temporary file (openpyxl's write-only mode keeps the rows out of
    memory); the caller streams it and closes it."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(t.title[:31])
    sheet.append(_cells(sheet, t.headers))
    async for chunk in t.rows():
        for row in chunk:
            sheet.append(_cells(sheet, row))
    if t.summary:
        totals = book.create_sheet("汇总")
        totals.append(_cells(totals, ["项目", "数值"]))
        for name, value in t.summary:
            totals.append(_cells(totals, [name, value]))
    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the streaming response, which closes it
    try:
        book.save(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


async def file_chunks(out: IO[bytes], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    with contextlib.closing(out):
        while chunk := out.read(size):
            yield chunk
