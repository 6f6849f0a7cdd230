"""Hostile strings through every string argument of the pairings, orders, community-life and dual-list
contract operations (tests/injection.py), sent by an account that passes authorization so
that the strings reach the resolvers and SQL. Each request runs in a savepoint that is
rolled back, so every hostile string meets the same state (an order still to be completed,
a meeting still to be held); stored texts come back verbatim."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from resolvers import ids
from tests import builders as b
from tests.builders import World
from tests.injection import HOSTILE_STRINGS, assert_injection_safe
from tests.support import Api
from tests.test_authorization_matrix import LATER, LATER_END, _orders_in_every_state

# hostile ids decode to nothing, hostile texts are stored: no variable here is a Date or an enum
# (a hostile value there is refused by GraphQL coercion, which echoes it in the message)


@dataclass
class RolledBack(Api):
    """An Api whose every request runs in a savepoint of `conn` that is rolled back."""

    conn: asyncpg.Connection | None = None

    async def op(self, name: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> Any:
        assert self.conn is not None
        savepoint = self.conn.transaction()
        await savepoint.start()
        try:
            return await super().op(name, variables, token=token)
        finally:
            await savepoint.rollback()


def gid(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


@pytest.fixture
async def scene(api: Api, conn: asyncpg.Connection) -> tuple[RolledBack, World, dict[str, str]]:
    w = await b.world(conn)
    rolled = RolledBack(api.client, api.secret, conn)
    tokens = {key: api.token_for(user) for key, user in w.users.items()}
    return rolled, w, tokens


Scene = tuple[RolledBack, World, dict[str, str]]


def _stored(results: list[dict[str, Any]], pick: Any) -> list[str]:
    """The stored texts of the requests that were not refused up front (NUL is)."""
    return [pick(r["data"]) for r in results if r.get("data")]


def _expected(path_count: int = 1) -> list[str]:
    return [h.strip() for h in HOSTILE_STRINGS if "\x00" not in h] * path_count


async def test_pairings_operations(conn: asyncpg.Connection, scene: Scene) -> None:
    api, w, t = scene
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    area = {"areaId": gid("Community", w.community)}
    cases: list[tuple[str, dict[str, Any], list[str], str]] = [
        (
            "Adopt",
            {"unitId": gid("Organisation", w.unit), "areaId": gid("Building", w.building)},
            ["unitId", "areaId"],
            "admin",
        ),
        (
            "Pair",
            {"cadreId": gid("Person", w.people["cadre"]), "householdId": gid("Household", w.household)},
            ["cadreId", "householdId"],
            "staff",
        ),
        (
            "RegisterWithCommunity",
            {"communityId": gid("Community", w.community), "organisationId": gid("Organisation", w.unit)},
            ["communityId", "organisationId"],
            "unit",
        ),
        (
            "RegisterWithCommunity",
            {"communityId": gid("Community", w.community), "personId": gid("Person", w.people["cadre"])},
            ["personId"],
            "cadre",
        ),
        ("Coverage", area, ["areaId"], "staff"),
        ("Compliance", area | {"asOf": "2025-01-31"}, ["areaId"], "staff"),
        ("Statistics", area, ["areaId"], "admin"),
    ]
    for operation, variables, paths, who in cases:
        await assert_injection_safe(api, conn, operation, variables, paths, token=t[who])
    visit = {"pairingId": gid("Pairing", pairing), "kind": "HOME_VISIT", "occurredOn": "2025-01-20", "notes": "x"}
    await assert_injection_safe(api, conn, "RecordVisit", visit, ["pairingId"], token=t["cadre"])
    results = await assert_injection_safe(api, conn, "RecordVisit", visit, ["notes"], token=t["cadre"])
    assert all(r["data"]["recordVisit"]["userErrors"] == [] for r in results if r.get("data"))
    stored = await conn.fetch("SELECT notes FROM visits WHERE pairing_id = $1", pairing)
    assert stored == []  # every request was rolled back


async def test_orders_operations(conn: asyncpg.Connection, scene: Scene) -> None:
    api, w, t = scene
    await b.service_categories(conn)
    orders = await _orders_in_every_state(conn, w)

    def order(state: str) -> dict[str, Any]:
        return {"orderId": gid("ServiceOrder", orders[state])}

    place = {"householdId": gid("Household", w.household), "title": "水管漏水", "category": "REPAIR"}
    results = await assert_injection_safe(api, conn, "PlaceOrder", place, ["title"], token=t["resident"])
    assert _stored(results, lambda d: d["placeOrder"]["order"]["title"]) == _expected()
    cases: list[tuple[str, dict[str, Any], list[str], str]] = [
        (
            "PlaceOrder",
            place | {"description": "d", "idempotencyKey": "k"},
            ["householdId", "description", "category", "idempotencyKey"],
            "resident",
        ),
        (
            "DispatchOrder",
            order("submitted") | {"assigneeId": gid("Person", w.people["cadre"])},
            ["orderId", "assigneeId"],
            "staff",
        ),
        (
            "DispatchOrder",
            order("submitted") | {"assigneeUnitId": gid("Organisation", w.unit)},
            ["assigneeUnitId"],
            "staff",
        ),
        ("AcceptOrder", order("dispatched"), ["orderId"], "cadre"),
        ("ReturnOrder", order("dispatched") | {"reason": "r"}, ["orderId", "reason"], "cadre"),
        ("CompleteOrder", order("accepted") | {"resolution": "r"}, ["orderId", "resolution"], "cadre"),
        ("RateOrder", order("completed") | {"score": 4, "comment": "c"}, ["orderId", "comment"], "resident"),
        ("CancelOrder", order("submitted") | {"reason": "r"}, ["orderId", "reason"], "resident"),
        (
            "ServiceOrders",
            {"communityId": gid("Community", w.community), "assigneeId": gid("Person", w.people["cadre"])},
            ["communityId", "assigneeId", "after"],
            "staff",
        ),
    ]
    for operation, variables, paths, who in cases:
        results = await assert_injection_safe(api, conn, operation, variables, paths, token=t[who])
        for r in results:
            payload = next(iter(r["data"].values())) if r.get("data") else None
            if isinstance(payload, dict) and "userErrors" in payload:
                assert {e["code"] for e in payload["userErrors"]} <= {"NOT_FOUND", "INVALID"}, (operation, r)


async def test_community_life_operations(conn: asyncpg.Connection, scene: Scene) -> None:
    api, w, t = scene
    await b.service_categories(conn)
    activity = await b.activity(conn, w.county, w.community, [w.unit])
    signup = int(
        await conn.fetchval(
            "WITH place AS (UPDATE activities SET signup_count = signup_count + 1 WHERE id = $2) "
            "INSERT INTO signups (county_id, activity_id, person_id) VALUES ($1, $2, $3) RETURNING id",
            w.county,
            activity,
            w.people["resident"],
        )
    )
    meeting = await b.meeting(conn, w.community)
    finding = await b.finding(conn, w.compound)
    community = gid("Community", w.community)
    create = {
        "hostIds": [gid("Organisation", w.unit)],
        "communityId": community,
        "title": "清洁家园",
        "kind": "CLEAN_UP",
        "startsAt": LATER,
        "endsAt": LATER_END,
    }
    results = await assert_injection_safe(api, conn, "CreateActivity", create, ["title"], token=t["staff"])
    assert _stored(results, lambda d: d["createActivity"]["activity"]["title"]) == _expected()
    schedule = {"kind": "RESIDENTS_REVIEW", "communityId": community, "title": "t", "startsAt": LATER}
    results = await assert_injection_safe(api, conn, "ScheduleMeeting", schedule, ["title"], token=t["staff"])
    assert _stored(results, lambda d: d["scheduleMeeting"]["meeting"]["title"]) == _expected()
    minutes = {
        "meetingId": gid("Meeting", meeting),
        "minutes": "m",
        "resolutions": [{"text": "t", "followUpHouseholdId": gid("Household", w.household)}],
    }
    results = await assert_injection_safe(api, conn, "RecordMinutes", minutes, ["minutes"], token=t["staff"])
    assert _stored(results, lambda d: d["recordMinutes"]["meeting"]["minutes"]) == _expected()
    results = await assert_injection_safe(api, conn, "RecordMinutes", minutes, ["resolutions.0.text"], token=t["staff"])
    assert _stored(results, lambda d: d["recordMinutes"]["meeting"]["resolutions"][0]["text"]) == _expected()
    report = {
        "compoundId": gid("Compound", w.compound),
        "category": "PILING",
        "description": "d",
        "deadline": "2030-01-01",
    }
    cases: list[tuple[str, dict[str, Any], list[str], str]] = [
        ("CreateActivity", create, ["hostIds.0", "communityId"], "staff"),
        ("SignUp", {"activityId": gid("Activity", activity)}, ["activityId"], "neighbour"),
        ("CheckIn", {"signupId": gid("Signup", signup)}, ["signupId"], "unit"),
        ("Activities", {"communityId": community}, ["communityId", "after"], "resident"),
        (
            "ScheduleMeeting",
            schedule | {"organisationIds": [gid("Organisation", w.unit)]},
            ["communityId", "organisationIds.0"],
            "staff",
        ),
        ("RecordMinutes", minutes, ["meetingId", "resolutions.0.followUpHouseholdId"], "staff"),
        ("Meetings", {"communityId": community}, ["communityId", "after"], "staff"),
        ("ReportFinding", report, ["compoundId", "description"], "staff"),
        ("RectifyFinding", {"findingId": gid("Finding", finding), "note": "n"}, ["findingId", "note"], "staff"),
        ("Findings", {"areaId": community}, ["areaId", "after"], "staff"),
    ]
    for operation, variables, paths, who in cases:
        await assert_injection_safe(api, conn, operation, variables, paths, token=t[who])


async def test_dual_list_operations(conn: asyncpg.Connection, scene: Scene) -> None:
    api, w, t = scene
    community = gid("Community", w.community)
    resource = await b.resource(conn, w.unit, [w.community])
    need = await b.need(conn, w.community)
    exchange = await b.exchange(conn, await b.resource(conn, w.unit, [w.community]), await b.need(conn, w.community))
    publish = {
        "providerId": gid("Organisation", w.unit),
        "title": "夜间车位",
        "description": "d",
        "category": "PARKING",
        "quantity": 5,
        "unit": "个",
        "communityIds": [community],
    }
    results = await assert_injection_safe(api, conn, "PublishResource", publish, ["title"], token=t["unit"])
    assert _stored(results, lambda d: d["publishResource"]["resource"]["title"]) == _expected()
    need_input = {"areaId": community, "title": "停车", "category": "PARKING", "quantity": 3}
    results = await assert_injection_safe(api, conn, "PublishNeed", need_input, ["title"], token=t["staff"])
    assert _stored(results, lambda d: d["publishNeed"]["need"]["title"]) == _expected()
    allocate = {"resourceId": gid("Resource", resource), "needId": gid("Need", need), "quantity": 1}
    cases: list[tuple[str, dict[str, Any], list[str], str]] = [
        ("PublishResource", publish, ["providerId", "description", "unit", "communityIds.0"], "unit"),
        ("PublishNeed", need_input, ["areaId"], "staff"),
        ("Resources", {"communityId": community}, ["communityId", "after"], "resident"),
        ("Needs", {"areaId": community}, ["areaId", "after"], "staff"),
        ("NeedMatches", {"needId": gid("Need", need)}, ["needId"], "staff"),
        ("Allocate", allocate, ["resourceId", "needId"], "staff"),
        ("CompleteExchange", {"exchangeId": gid("Exchange", exchange)}, ["exchangeId"], "unit"),
        ("CancelExchange", {"exchangeId": gid("Exchange", exchange), "reason": "r"}, ["exchangeId", "reason"], "staff"),
    ]
    for operation, variables, paths, who in cases:
        await assert_injection_safe(api, conn, operation, variables, paths, token=t[who])
