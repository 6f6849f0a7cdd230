"""Joint inspections: report, deadlines, OVERDUE and published, rectification, notices."""

from __future__ import annotations

import base64
import datetime
import zoneinfo
from typing import Any

import asyncpg
import orjson

from gongjian import clock
from resolvers import ids
from tests import builders
from tests.builders import World, world
from tests.support import Api

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def _today() -> datetime.date:
    return clock.today(ZONE)


def _report_vars(w: World, **override: Any) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "compoundId": ids.encode("Compound", w.compound),
        "category": "ILLEGAL_STRUCTURE",
        "description": "3号楼顶违章搭建彩钢棚",
        "deadline": _today().isoformat(),
    }
    variables.update(override)
    return variables


async def test_staff_reports_finding_due_today(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    result = await api.op("ReportFinding", _report_vars(w), token=api.token_for(w.users["staff"]))
    payload = result["data"]["reportFinding"]
    assert payload["userErrors"] == []
    assert payload["finding"]["category"] == "ILLEGAL_STRUCTURE"
    assert payload["finding"]["status"] == "OPEN"
    assert payload["finding"]["deadline"] == _today().isoformat()
    assert payload["finding"]["compound"] == {"id": ids.encode("Compound", w.compound), "name": "滨河小区"}
    by_admin = await api.op("ReportFinding", _report_vars(w), token=api.token_for(w.users["admin"]))
    assert by_admin["data"]["reportFinding"]["userErrors"] == []


async def test_report_refusals_change_nothing(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    staff = api.token_for(w.users["staff"])
    yesterday = (_today() - datetime.timedelta(days=1)).isoformat()
    cases: list[tuple[str, dict[str, Any], str, list[str] | None]] = [
        ("staff", {"deadline": yesterday}, "INVALID", ["deadline"]),
        ("staff", {"description": " "}, "INVALID", ["description"]),
        ("staff", {"compoundId": ids.encode("Compound", w.building)}, "NOT_FOUND", ["compoundId"]),
        ("resident", {}, "FORBIDDEN", None),
        ("head", {}, "FORBIDDEN", None),
        ("unit", {}, "FORBIDDEN", None),
    ]
    for who, override, code, field in cases:
        token = staff if who == "staff" else api.token_for(w.users[who])
        result = await api.op("ReportFinding", _report_vars(w, **override), token=token)
        payload = result["data"]["reportFinding"]
        assert payload["finding"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], (who, override)
    other_staff = await builders.user(conn, w.county, grants=[("COMMUNITY_STAFF", w.other_community)])
    result = await api.op("ReportFinding", _report_vars(w), token=api.token_for(other_staff))
    assert result["data"]["reportFinding"]["userErrors"][0]["code"] == "FORBIDDEN"
    assert await conn.fetchval("SELECT count(*) FROM findings") == 0


async def test_status_is_derived_from_deadline_and_rectification(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    open_ = await builders.finding(conn, w.compound, deadline_in_days=0)
    overdue = await builders.finding(conn, w.compound, deadline_in_days=-1, category="BILLBOARD")
    rectified_late = await builders.finding(conn, w.compound, deadline_in_days=-10, rectified_days_after_deadline=2)
    rectified_in_time = await builders.finding(conn, w.compound, deadline_in_days=-10, rectified_days_after_deadline=-1)
    staff = api.token_for(w.users["staff"])
    result = await api.op("Findings", {}, token=staff)
    listed = {e["node"]["id"]: e["node"] for e in result["data"]["findings"]["edges"]}
    assert result["data"]["findings"]["totalCount"] == 4
    expected = {
        open_: ("OPEN", False),
        overdue: ("OVERDUE", True),
        rectified_late: ("RECTIFIED", True),
        rectified_in_time: ("RECTIFIED", False),
    }
    for pk, (status, published) in expected.items():
        node = listed[ids.encode("Finding", pk)]
        assert (node["status"], node["published"]) == (status, published), pk
    only_overdue = await api.op("Findings", {"status": "OVERDUE"}, token=staff)
    assert [e["node"]["id"] for e in only_overdue["data"]["findings"]["edges"]] == [ids.encode("Finding", overdue)]
    assert only_overdue["data"]["findings"]["edges"][0]["node"]["category"] == "BILLBOARD"


async def test_rectify_from_open_or_overdue_only(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    overdue = ids.encode("Finding", await builders.finding(conn, w.compound, deadline_in_days=-3))
    staff = api.token_for(w.users["staff"])
    blank = await api.op("RectifyFinding", {"findingId": overdue, "note": ""}, token=staff)
    assert [(e["code"], e["field"]) for e in blank["data"]["rectifyFinding"]["userErrors"]] == [("INVALID", ["note"])]
    forbidden = await api.op(
        "RectifyFinding", {"findingId": overdue, "note": "已拆除"}, token=api.token_for(w.users["resident"])
    )
    assert [e["code"] for e in forbidden["data"]["rectifyFinding"]["userErrors"]] == ["FORBIDDEN"]
    assert await conn.fetchval("SELECT count(*) FROM findings WHERE rectified_at IS NOT NULL") == 0

    done = await api.op("RectifyFinding", {"findingId": overdue, "note": "已拆除"}, token=staff)
    assert done["data"]["rectifyFinding"] == {"finding": {"id": overdue, "status": "RECTIFIED"}, "userErrors": []}
    again = await api.op("RectifyFinding", {"findingId": overdue, "note": "再次"}, token=staff)
    assert [e["code"] for e in again["data"]["rectifyFinding"]["userErrors"]] == ["INVALID_STATE"]
    missing = await api.op("RectifyFinding", {"findingId": ids.encode("Finding", 0), "note": "x"}, token=staff)
    assert [e["code"] for e in missing["data"]["rectifyFinding"]["userErrors"]] == ["NOT_FOUND"]

    open_ = ids.encode("Finding", await builders.finding(conn, w.compound, deadline_in_days=5))
    note = "query($id: ID!) { node(id: $id) { ... on Finding { status rectificationNote published } } }"
    done = await api.op("RectifyFinding", {"findingId": open_, "note": "已清理"}, token=staff)
    assert done["data"]["rectifyFinding"]["userErrors"] == []
    data = await api.ok(note, {"id": open_}, token=staff)
    assert data["node"] == {"status": "RECTIFIED", "rectificationNote": "已清理", "published": False}


NOTICES = """
query($areaId: ID) { publicNotices(areaId: $areaId) { totalCount edges { node { id status published } } } }
"""


async def test_public_notices_and_visibility(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    other_compound = await builders.area(conn, "COMPOUND", "椒溪小区", w.other_community)
    overdue = ids.encode("Finding", await builders.finding(conn, w.compound, deadline_in_days=-2))
    open_ = ids.encode("Finding", await builders.finding(conn, w.compound, deadline_in_days=2))
    elsewhere = ids.encode("Finding", await builders.finding(conn, other_compound, deadline_in_days=-2))
    resident = api.token_for(w.users["resident"])
    area = await api.ok(NOTICES, {"areaId": ids.encode("Community", w.community)}, token=resident)
    assert area["publicNotices"] == {
        "totalCount": 1,
        "edges": [{"node": {"id": overdue, "status": "OVERDUE", "published": True}}],
    }
    county = await api.ok(NOTICES, {"areaId": None}, token=resident)
    assert {e["node"]["id"] for e in county["publicNotices"]["edges"]} == {overdue, elsewhere}
    # residents see no unpublished findings, neither in `findings` nor through `node`
    listed = await api.op("Findings", {}, token=resident)
    assert listed["data"]["findings"]["totalCount"] == 0
    nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    seen = await api.ok(nodes, {"ids": [overdue, open_]}, token=resident)
    assert seen["nodes"] == [{"id": overdue}, None]
    staff = await api.ok(nodes, {"ids": [overdue, open_, elsewhere]}, token=api.token_for(w.users["staff"]))
    assert staff["nodes"] == [{"id": overdue}, {"id": open_}, {"id": elsewhere}]
    # staff list only their scope; the area filter narrows
    scoped = await api.op("Findings", {}, token=api.token_for(w.users["staff"]))
    assert {e["node"]["id"] for e in scoped["data"]["findings"]["edges"]} == {overdue, open_}
    by_area = await api.op(
        "Findings", {"areaId": ids.encode("Compound", other_compound)}, token=api.token_for(w.users["admin"])
    )
    assert [e["node"]["id"] for e in by_area["data"]["findings"]["edges"]] == [elsewhere]


async def test_findings_pages_newest_first(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    made = [await builders.finding(conn, w.compound) for _ in range(3)]
    staff = api.token_for(w.users["staff"])
    first = await api.op("Findings", {"first": 2}, token=staff)
    assert [e["node"]["id"] for e in first["data"]["findings"]["edges"]] == [
        ids.encode("Finding", m) for m in made[:0:-1]
    ]
    cursor = await api.post(
        "query($a: String) { findings(first: 2, after: $a) { pageInfo { endCursor hasNextPage } } }",
        {"a": None},
        token=staff,
    )
    end = cursor["data"]["findings"]["pageInfo"]["endCursor"]
    rest = await api.op("Findings", {"first": 2, "after": end}, token=staff)
    assert [e["node"]["id"] for e in rest["data"]["findings"]["edges"]] == [ids.encode("Finding", made[0])]
    bad = await api.op("Findings", {"first": -1}, token=staff)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_cursor_past_the_id_range_is_bad_input(api: Api, conn: asyncpg.Connection) -> None:
    """A forged cursor naming an id beyond bigint is the client's error, not a 500, in
    every list of the community-life domain."""
    w = await world(conn)
    staff = api.token_for(w.users["staff"])
    beyond = 2**63
    lists = {
        "findings": ("query($a: String) { findings(after: $a) { totalCount } }", [beyond]),
        "publicNotices": ("query($a: String) { publicNotices(after: $a) { totalCount } }", [beyond]),
        "renovationProjects": ("query($a: String) { renovationProjects(after: $a) { totalCount } }", [beyond]),
        "activities": (
            "query($a: String) { activities(after: $a) { totalCount } }",
            ["2026-01-01T00:00:00+08:00", beyond],
        ),
        "meetings": ("query($a: String) { meetings(after: $a) { totalCount } }", ["2026-01-01T00:00:00+08:00", beyond]),
    }
    for name, (query, key) in lists.items():
        forged = base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")
        result = await api.post(query, {"a": forged}, token=staff)
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (name, result)
