"""Meetings as clients meet them: schedule, minutes, resolutions that become orders, lists."""

from __future__ import annotations

import datetime
from typing import Any

import asyncpg
import pytest

from resolvers import ids
from tests import builders
from tests.builders import World, world
from tests.support import Api

WHEN = datetime.datetime(2030, 3, 1, 19, 30, tzinfo=datetime.UTC)


def _schedule_vars(w: World, **override: Any) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "kind": "JOINT_UNIT",
        "communityId": ids.encode("Community", w.community),
        "title": "第一季度单位联席会",
        "startsAt": WHEN.isoformat(),
        "organisationIds": [ids.encode("Organisation", w.unit)],
    }
    variables.update(override)
    return variables


async def test_staff_schedules_every_kind(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    staff = api.token_for(w.users["staff"])
    for kind in ("RESIDENTS_REVIEW", "PROPERTY_MANAGEMENT", "OWNER_COMMITTEE", "JOINT_UNIT"):
        result = await api.op("ScheduleMeeting", _schedule_vars(w, kind=kind), token=staff)
        payload = result["data"]["scheduleMeeting"]
        assert payload["userErrors"] == []
        assert payload["meeting"]["kind"] == kind and payload["meeting"]["status"] == "SCHEDULED"
        assert datetime.datetime.fromisoformat(payload["meeting"]["startsAt"]) == WHEN
    detail = "query($id: ID!) { node(id: $id) { ... on Meeting { organisations { id } community { id } } } }"
    data = await api.ok(detail, {"id": payload["meeting"]["id"]}, token=staff)
    assert data["node"] == {
        "organisations": [{"id": ids.encode("Organisation", w.unit)}],
        "community": {"id": ids.encode("Community", w.community)},
    }


async def test_schedule_refusals_change_nothing(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    staff = api.token_for(w.users["staff"])
    cases: list[tuple[str, dict[str, Any], str, list[str] | None]] = [
        ("staff", {"title": " "}, "INVALID", ["title"]),
        ("staff", {"organisationIds": ["x"]}, "NOT_FOUND", ["organisationIds"]),
        ("staff", {"communityId": ids.encode("Community", w.district)}, "NOT_FOUND", ["communityId"]),
        ("unit", {}, "FORBIDDEN", None),
        ("resident", {}, "FORBIDDEN", None),
    ]
    for who, override, code, field in cases:
        token = staff if who == "staff" else api.token_for(w.users[who])
        result = await api.op("ScheduleMeeting", _schedule_vars(w, **override), token=token)
        payload = result["data"]["scheduleMeeting"]
        assert payload["meeting"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], (who, override)
    assert await conn.fetchval("SELECT count(*) FROM meetings") == 0


async def test_minutes_make_meeting_held_and_resolutions_place_orders(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    await builders.service_categories(conn)
    meeting = ids.encode("Meeting", await builders.meeting(conn, w.community, kind="RESIDENTS_REVIEW"))
    staff = api.token_for(w.users["staff"])
    household = ids.encode("Household", w.household)
    resolutions = [
        {"text": "1号楼楼道堆物限期清理", "followUpHouseholdId": household},
        {"text": "下月召开物业管理会"},
    ]
    result = await api.op(
        "RecordMinutes",
        {"meetingId": meeting, "minutes": "到会32人，议定两项。", "resolutions": resolutions},
        token=staff,
    )
    payload = result["data"]["recordMinutes"]
    assert payload["userErrors"] == []
    held = payload["meeting"]
    assert held["id"] == meeting and held["status"] == "HELD" and held["minutes"] == "到会32人，议定两项。"
    assert [r["text"] for r in held["resolutions"]] == ["1号楼楼道堆物限期清理", "下月召开物业管理会"]
    follow_up = held["resolutions"][0]["followUp"]
    assert follow_up["status"] == "SUBMITTED" and follow_up["number"]
    assert held["resolutions"][1]["followUp"] is None
    order = await conn.fetchrow(
        "SELECT household_id, community_id, status, category FROM service_orders WHERE id = $1",
        ids.decode_as(follow_up["id"], "ServiceOrder"),
    )
    assert order is not None
    assert dict(order) == {
        "household_id": w.household,
        "community_id": w.community,
        "status": "SUBMITTED",
        "category": "OTHER",
    }
    # linked both ways: the order names the resolution and its meeting
    back = """
    query($id: ID!) { node(id: $id) { ... on ServiceOrder { followUpOf { text meeting { id status } } } } }
    """
    data = await api.ok(back, {"id": follow_up["id"]}, token=staff)
    assert data["node"]["followUpOf"] == {"text": "1号楼楼道堆物限期清理", "meeting": {"id": meeting, "status": "HELD"}}

    again = await api.op("RecordMinutes", {"meetingId": meeting, "minutes": "再记"}, token=staff)
    assert [(e["code"], e["field"]) for e in again["data"]["recordMinutes"]["userErrors"]] == [
        ("INVALID_STATE", ["meetingId"])
    ]


async def test_record_minutes_refusals_roll_back_everything(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    await builders.service_categories(conn)
    meeting_id = await builders.meeting(conn, w.community)
    meeting = ids.encode("Meeting", meeting_id)
    staff = api.token_for(w.users["staff"])
    elsewhere = await builders.area(
        conn, "BUILDING", "9号楼", await builders.area(conn, "COMPOUND", "椒溪小区", w.other_community)
    )
    outsider = ids.encode("Household", await builders.household(conn, elsewhere))
    good = {"text": "先记一条", "followUpHouseholdId": ids.encode("Household", w.household)}
    cases: list[tuple[str, dict[str, Any], str, list[str] | None]] = [
        ("staff", {"minutes": " "}, "INVALID", ["minutes"]),
        ("staff", {"resolutions": [good, {"text": ""}]}, "INVALID", ["resolutions", "1", "text"]),
        (
            "staff",
            {"resolutions": [good, {"text": "跟进", "followUpHouseholdId": "bogus"}]},
            "NOT_FOUND",
            ["resolutions", "1", "followUpHouseholdId"],
        ),
        (
            "staff",
            {"resolutions": [good, {"text": "跟进", "followUpHouseholdId": outsider}]},
            "INVALID",
            ["resolutions", "1", "followUpHouseholdId"],
        ),
        ("resident", {}, "FORBIDDEN", None),
        ("unit", {}, "FORBIDDEN", None),
    ]
    for who, override, code, field in cases:
        variables = {"meetingId": meeting, "minutes": "会议纪要", "resolutions": None, **override}
        token = staff if who == "staff" else api.token_for(w.users[who])
        result = await api.op("RecordMinutes", variables, token=token)
        payload = result["data"]["recordMinutes"]
        assert payload["meeting"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], (who, override)
    assert await conn.fetchval("SELECT status FROM meetings WHERE id = $1", meeting_id) == "SCHEDULED"
    assert await conn.fetchval("SELECT count(*) FROM resolutions") == 0
    assert await conn.fetchval("SELECT count(*) FROM service_orders") == 0
    unknown_category = """
    mutation($m: ID!, $h: ID!) { recordMinutes(input: {meetingId: $m, minutes: "纪要",
      resolutions: [{text: "维修", followUpHouseholdId: $h, followUpCategory: "NOPE"}]}) { userErrors { field code } } }
    """
    result = await api.ok(unknown_category, {"m": meeting, "h": ids.encode("Household", w.household)}, token=staff)
    assert result["recordMinutes"]["userErrors"] == [
        {"field": ["resolutions", "0", "followUpCategory"], "code": "INVALID"}
    ]
    missing = await api.op("RecordMinutes", {"meetingId": ids.encode("Meeting", 0), "minutes": "x"}, token=staff)
    assert [e["code"] for e in missing["data"]["recordMinutes"]["userErrors"]] == ["NOT_FOUND"]
    cancelled = ids.encode("Meeting", await builders.meeting(conn, w.community, status="CANCELLED"))
    refused = await api.op("RecordMinutes", {"meetingId": cancelled, "minutes": "x"}, token=staff)
    assert [e["code"] for e in refused["data"]["recordMinutes"]["userErrors"]] == ["INVALID_STATE"]


async def test_cancel_meeting(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    meeting = ids.encode("Meeting", await builders.meeting(conn, w.community))
    cancel = "mutation($id: ID!) { cancelMeeting(input: {meetingId: $id}) { meeting { status } userErrors { code } } }"
    forbidden = await api.ok(cancel, {"id": meeting}, token=api.token_for(w.users["resident"]))
    assert forbidden["cancelMeeting"]["userErrors"] == [{"code": "FORBIDDEN"}]
    done = await api.ok(cancel, {"id": meeting}, token=api.token_for(w.users["staff"]))
    assert done["cancelMeeting"] == {"meeting": {"status": "CANCELLED"}, "userErrors": []}
    again = await api.ok(cancel, {"id": meeting}, token=api.token_for(w.users["staff"]))
    assert again["cancelMeeting"]["userErrors"] == [{"code": "INVALID_STATE"}]


async def test_meetings_visibility_and_paging(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    staff = api.token_for(w.users["staff"])
    joint = await api.op("ScheduleMeeting", _schedule_vars(w), token=staff)
    joint_id = joint["data"]["scheduleMeeting"]["meeting"]["id"]
    review = await api.op(
        "ScheduleMeeting",
        _schedule_vars(
            w, kind="RESIDENTS_REVIEW", organisationIds=None, startsAt=(WHEN + datetime.timedelta(days=1)).isoformat()
        ),
        token=staff,
    )
    review_id = review["data"]["scheduleMeeting"]["meeting"]["id"]
    elsewhere = ids.encode("Meeting", await builders.meeting(conn, w.other_community))

    listed = await api.op("Meetings", {}, token=staff)
    assert listed["data"]["meetings"]["totalCount"] == 2
    assert [e["node"]["id"] for e in listed["data"]["meetings"]["edges"]] == [review_id, joint_id]
    admin = await api.op(
        "Meetings", {"communityId": ids.encode("Community", w.other_community)}, token=api.token_for(w.users["admin"])
    )
    assert [e["node"]["id"] for e in admin["data"]["meetings"]["edges"]] == [elsewhere]
    unit = await api.op("Meetings", {}, token=api.token_for(w.users["unit"]))
    assert [e["node"]["id"] for e in unit["data"]["meetings"]["edges"]] == [joint_id]
    resident = await api.op("Meetings", {}, token=api.token_for(w.users["resident"]))
    assert resident["data"]["meetings"]["totalCount"] == 0

    page = await api.post(
        "query { meetings(first: 1) { pageInfo { endCursor hasNextPage } edges { node { id } } } }", token=staff
    )
    assert page["data"]["meetings"]["pageInfo"]["hasNextPage"] is True
    rest = await api.op(
        "Meetings", {"first": 1, "after": page["data"]["meetings"]["pageInfo"]["endCursor"]}, token=staff
    )
    assert [e["node"]["id"] for e in rest["data"]["meetings"]["edges"]] == [joint_id]
    too_many = await api.op("Meetings", {"first": 1000}, token=staff)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    for who, expected in (
        ("staff", [joint_id, review_id, None]),
        ("unit", [joint_id, None, None]),
        ("resident", [None, None, None]),
        ("admin", [joint_id, review_id, elsewhere]),
    ):
        data = await api.ok(nodes, {"ids": [joint_id, review_id, elsewhere]}, token=api.token_for(w.users[who]))
        assert [n["id"] if n else None for n in data["nodes"]] == expected, who


def _statements(caplog: pytest.LogCaptureFixture) -> int:
    lines = [r for r in caplog.records if r.name == "gongjian.graphql" and r.getMessage() == "operation"]
    return int(lines[-1].fields["sql_statements"])  # type: ignore[attr-defined]


NESTED = """
query($first: Int) { meetings(first: $first) { totalCount edges { node {
  id community { name } organisations { name } resolutions { text meeting { id } followUp { number } } } } } }
"""


async def test_meeting_list_does_not_grow_statements_with_rows(
    api: Api, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="gongjian.graphql")
    w = await world(conn)
    await builders.service_categories(conn)
    staff = api.token_for(w.users["staff"])
    household = ids.encode("Household", w.household)

    async def add(n: int) -> None:
        for _ in range(n):
            scheduled = await api.op("ScheduleMeeting", _schedule_vars(w), token=staff)
            meeting = scheduled["data"]["scheduleMeeting"]["meeting"]["id"]
            # the meeting has been held (minutes wait for its start)
            await conn.execute(
                "UPDATE meetings SET starts_at = now() - interval '1 hour' WHERE id = $1",
                ids.decode_as(meeting, "Meeting"),
            )
            resolutions = [{"text": "跟进", "followUpHouseholdId": household}, {"text": "记录"}]
            recorded = await api.op(
                "RecordMinutes", {"meetingId": meeting, "minutes": "纪要", "resolutions": resolutions}, token=staff
            )
            assert recorded["data"]["recordMinutes"]["userErrors"] == []

    await add(2)
    await api.ok(NESTED, {"first": 2}, token=staff)
    small = _statements(caplog)
    await add(5)
    data = await api.ok(NESTED, {"first": 7}, token=staff)
    assert all(e["node"]["resolutions"][0]["followUp"]["number"] for e in data["meetings"]["edges"])
    assert _statements(caplog) == small


async def test_minutes_wait_for_the_meeting_to_start(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    coming = ids.encode("Meeting", await builders.meeting(conn, w.community, starts_in_hours=72))
    staff = api.token_for(w.users["staff"])
    early = await api.op("RecordMinutes", {"meetingId": coming, "minutes": "提前写的纪要"}, token=staff)
    payload = early["data"]["recordMinutes"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["meetingId"], "INVALID_STATE")]
    status = await conn.fetchval("SELECT status FROM meetings WHERE id = $1", ids.decode_as(coming, "Meeting"))
    assert status == "SCHEDULED"
