"""Report exports for admin tooling: `GET /reports/{statistics,coverage,compliance,due-households}`,
every row, with Chinese column headers (written as CSV or XLSX by `gongjian/spreadsheets.py`).
The arguments are the GraphQL fields' (`areaId`, `asOf`, `kind`), and so is the permission
check (`resolvers.pairings` decides who may read an area's reports)."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final

from graphql import GraphQLError

from db import exports as db
from db import pairings as pairings_db
from db.areas import AreaRow
from gongjian import clock
from gongjian.spreadsheets import Rows, Table
from resolvers.context import Context
from resolvers.pairings import _report_area, period, period_starts

REPORTS: Final = ("statistics", "coverage", "compliance", "due-households")
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
        return Table(
            "未完成结对", headers, _streamed(ctx, lambda c: db.due_pairings(c, area.id, as_of, starts), keys), summary
        )
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
