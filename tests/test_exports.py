"""Report exports: the files are read back (CSV with its BOM, XLSX with openpyxl), every row
is there, and the permissions are the GraphQL fields'."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest

from resolvers import ids
from tests import builders
from tests.support import Api


async def _get(api: Api, path: str, token: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await api.client.get(path, params=params, headers=headers)


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _xlsx(response: httpx.Response) -> dict[str, list[list[Any]]]:
    assert response.status_code == 200, response.text
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return {sheet.title: [list(r) for r in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}


async def test_coverage_exports_every_uncovered_household(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    more = await builders.households_in(conn, w.other_building, 620, residents=0)  # more than one chunk
    staff = api.token_for(w.users["staff"])
    area = ids.encode("Community", w.community)
    figures = (
        await api.ok(
            "query($id: ID!) { coverage(areaId: $id) { households pairedHouseholds } }", {"id": area}, token=staff
        )
    )["coverage"]
    uncovered = figures["households"] - figures["pairedHouseholds"]
    assert uncovered == len(more) + 1  # the neighbour's household too

    rows = _csv(await _get(api, "/reports/coverage.csv", staff, areaId=area))
    assert rows[0] == ["社区", "小区", "楼栋", "单元", "门牌"]
    assert len(rows) - 1 == uncovered
    assert {r[0] for r in rows[1:]} == {"东岳殿社区"} and {r[2] for r in rows[1:]} == {"2号楼"}
    assert len({tuple(r) for r in rows[1:]}) == uncovered  # each once

    sheets = _xlsx(await _get(api, "/reports/coverage.xlsx", staff, areaId=area))
    detail = sheets["未结对家庭户"]
    assert detail[0] == ["社区", "小区", "楼栋", "单元", "门牌"] and len(detail) - 1 == uncovered
    summary = dict((r[0], r[1]) for r in sheets["汇总"][1:])
    assert summary["未结对家庭户"] == uncovered and summary["家庭户"] == figures["households"]


async def test_compliance_and_due_households_at_a_date(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    pairing = await builders.pairing_of(conn, w.people["cadre"], w.household)
    await builders.visit(conn, pairing, "HOME_VISIT", "2025-01-15")
    admin = api.token_for(w.users["admin"])
    area = ids.encode("Community", w.community)

    rows = _csv(await _get(api, "/reports/compliance.csv", admin, areaId=area, asOf="2025-01-20"))
    assert rows[0][5:] == ["结对干部", "所在单位", "结对日期", "入户走访", "谈心谈话", "办一件好事"]
    assert len(rows) == 2
    assert rows[1][:5] == ["东岳殿社区", "滨河小区", "1号楼", "", "1单元101"]
    assert rows[1][5] == "张干部" and rows[1][7] == "2024-01-01" and rows[1][8:] == ["是", "否", "否"]

    met = _xlsx(
        await _get(api, "/reports/due-households.xlsx", admin, areaId=area, asOf="2025-01-20", kind="HOME_VISIT")
    )
    assert len(next(iter(met.values()))) == 1  # the header only: the home visit was made
    due = _xlsx(
        await _get(api, "/reports/due-households.xlsx", admin, areaId=area, asOf="2025-01-20", kind="GOOD_DEED")
    )
    sheet = due["办一件好事未完成家庭户"]
    assert sheet[1] == ["东岳殿社区", "滨河小区", "1号楼", None, "1单元101", "张干部"]
    summary = dict((r[0], r[1]) for r in due["汇总"][1:])
    assert summary["截至"] == "2025-01-20" and summary["义务"] == "办一件好事"
    # next month the home visit is due again
    later = _csv(
        await _get(api, "/reports/due-households.csv", admin, areaId=area, asOf="2025-02-03", kind="HOME_VISIT")
    )
    assert len(later) == 2


async def test_statistics_match_the_graphql_figures(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    admin = api.token_for(w.users["admin"])
    area = ids.encode("County", w.county)
    figures = (
        await api.ok(
            "query($id: ID!) { statistics(areaId: $id) { households pairedHouseholds pairedCadres buildingHeads } }",
            {"id": area},
            token=admin,
        )
    )["statistics"]
    rows = _csv(await _get(api, "/reports/statistics.csv", admin, areaId=area))
    assert rows[0] == ["区域", "指标", "数值"]
    values = {r[1]: r[2] for r in rows[1:]}
    assert values["家庭户"] == str(figures["households"])
    assert values["结对家庭户"] == str(figures["pairedHouseholds"])
    assert values["结对干部"] == str(figures["pairedCadres"]) and values["楼栋长"] == str(figures["buildingHeads"])
    assert values["平均评分"] == ""  # no rated orders: null
    sheets = _xlsx(await _get(api, "/reports/statistics.xlsx", admin, areaId=area))
    assert {r[1]: r[2] for r in sheets["统计"][1:]}["家庭户"] == figures["households"]


async def test_a_text_cell_never_becomes_a_formula(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    await conn.execute("UPDATE households SET label = '=HYPERLINK(\"http://x\")' WHERE id = $1", w.neighbour_household)
    staff = api.token_for(w.users["staff"])
    area = ids.encode("Community", w.community)
    rows = _csv(await _get(api, "/reports/coverage.csv", staff, areaId=area))
    assert rows[1][4] == '\'=HYPERLINK("http://x")'
    response = await _get(api, "/reports/coverage.xlsx", staff, areaId=area)
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    cell = book["未结对家庭户"]["E2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x")'


@pytest.mark.parametrize("report", ["statistics", "coverage", "compliance"])
async def test_the_permissions_are_the_graphql_fields(api: Api, conn: asyncpg.Connection, report: str) -> None:
    w = await builders.world(conn)
    far = await builders.world(conn)
    area = ids.encode("Compound", w.compound)
    query = {
        "statistics": "query($id: ID!) { statistics(areaId: $id) { households } }",
        "coverage": "query($id: ID!) { coverage(areaId: $id) { households } }",
        "compliance": 'query($id: ID!) { compliance(areaId: $id, asOf: "2025-01-20") { pairings } }',
    }[report]
    accounts = {k: api.token_for(w.users[k]) for k in w.users} | {"foreign_admin": api.token_for(far.users["admin"])}
    outcomes: dict[str, tuple[str, int]] = {}
    for name, token in accounts.items():
        result = await api.post(query, {"id": area}, token=token)
        graphql = (
            result["errors"][0]["extensions"]["code"]
            if result.get("errors")
            else ("NULL" if result["data"][report] is None else "DATA")
        )
        response = await _get(api, f"/reports/{report}.csv", token, areaId=area, asOf="2025-01-20")
        outcomes[name] = (graphql, response.status_code)
    expected = {"DATA": 200, "FORBIDDEN": 403, "NULL": 404}
    assert all(expected[g] == status for g, status in outcomes.values()), outcomes
    assert outcomes["admin"] == ("DATA", 200) and outcomes["resident"] == ("FORBIDDEN", 403)
    assert outcomes["foreign_admin"] == ("NULL", 404)


async def test_bad_requests(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    admin = api.token_for(w.users["admin"])
    area = ids.encode("Community", w.community)
    cases = [
        ("/reports/coverage.csv", None, {"areaId": area}, 401, "UNAUTHENTICATED"),
        ("/reports/coverage.pdf", admin, {"areaId": area}, 404, "NOT_FOUND"),
        ("/reports/nothing.csv", admin, {"areaId": area}, 404, "NOT_FOUND"),
        ("/reports/coverage.csv", admin, {}, 400, "BAD_USER_INPUT"),
        ("/reports/coverage.csv", admin, {"areaId": "garbage"}, 404, "NOT_FOUND"),
        ("/reports/compliance.csv", admin, {"areaId": area, "asOf": "20-01-2025"}, 400, "BAD_USER_INPUT"),
        ("/reports/due-households.csv", admin, {"areaId": area, "kind": "NAP"}, 400, "BAD_USER_INPUT"),
    ]
    for path, token, params, status, code in cases:
        response = await _get(api, path, token, **params)
        assert response.status_code == status, (path, params, response.text)
        assert response.json()["errors"][0]["extensions"]["code"] == code
