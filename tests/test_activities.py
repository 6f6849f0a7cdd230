"""Joint activities as clients meet them: create, sign up, cancel, check in, hours, lists."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import asyncpg
import pytest

from gongjian import clock
from resolvers import ids
from tests import builders
from tests.builders import World, world
from tests.support import Api

SOON = datetime.datetime(2030, 5, 1, 9, 0, tzinfo=datetime.UTC)


def _create_vars(w: World, **override: Any) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "hostIds": [ids.encode("Organisation", w.unit)],
        "communityId": ids.encode("Community", w.community),
        "title": "重阳节爱心餐",
        "kind": "CHARITY_MEAL",
        "startsAt": SOON.isoformat(),
        "endsAt": (SOON + datetime.timedelta(hours=3)).isoformat(),
        "capacity": 30,
    }
    variables.update(override)
    return variables


async def _count(conn: asyncpg.Connection, table: str) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608 - test table names


async def test_staff_creates_activity_with_several_hosts(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    committee = await builders.organisation(
        conn, w.county, "RESIDENTS_COMMITTEE", "东岳殿社区居委会", area_id=w.community
    )
    hosts = [ids.encode("Organisation", w.unit), ids.encode("Organisation", committee)]
    result = await api.op("CreateActivity", _create_vars(w, hostIds=hosts), token=api.token_for(w.users["staff"]))
    payload = result["data"]["createActivity"]
    assert payload["userErrors"] == []
    activity = payload["activity"]
    assert activity["title"] == "重阳节爱心餐" and activity["kind"] == "CHARITY_MEAL"
    assert activity["capacity"] == 30 and activity["signupCount"] == 0
    assert {h["id"] for h in activity["hosts"]} == set(hosts)
    assert activity["community"] == {"id": ids.encode("Community", w.community), "name": "东岳殿社区"}
    assert datetime.datetime.fromisoformat(activity["startsAt"]) == SOON


async def test_unit_admin_of_a_host_creates_but_others_are_forbidden(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    ok = await api.op("CreateActivity", _create_vars(w, capacity=None), token=api.token_for(w.users["unit"]))
    assert ok["data"]["createActivity"]["userErrors"] == []
    assert ok["data"]["createActivity"]["activity"]["capacity"] is None
    before = await _count(conn, "activities")
    for who in ("resident", "cadre", "head"):
        refused = await api.op("CreateActivity", _create_vars(w), token=api.token_for(w.users[who]))
        payload = refused["data"]["createActivity"]
        assert payload["activity"] is None
        assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"]
    # staff of another community may not create one here
    other_staff = await builders.user(conn, w.county, grants=[("COMMUNITY_STAFF", w.other_community)])
    refused = await api.op("CreateActivity", _create_vars(w), token=api.token_for(other_staff))
    assert refused["data"]["createActivity"]["userErrors"][0]["code"] == "FORBIDDEN"
    assert await _count(conn, "activities") == before


async def test_create_activity_refuses_invalid_values(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    token = api.token_for(w.users["staff"])
    before = await _count(conn, "activities")
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"endsAt": SOON.isoformat()}, "INVALID", ["endsAt"]),
        ({"endsAt": (SOON - datetime.timedelta(hours=1)).isoformat()}, "INVALID", ["endsAt"]),
        ({"capacity": 0}, "INVALID", ["capacity"]),
        ({"title": "  "}, "INVALID", ["title"]),
        ({"hostIds": []}, "INVALID", ["hostIds"]),
        ({"hostIds": ["bogus"]}, "NOT_FOUND", ["hostIds"]),
        ({"communityId": ids.encode("Community", w.compound)}, "NOT_FOUND", ["communityId"]),
    ]
    for override, code, field in cases:
        result = await api.op("CreateActivity", _create_vars(w, **override), token=token)
        payload = result["data"]["createActivity"]
        assert payload["activity"] is None, override
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], override
    assert await _count(conn, "activities") == before


async def test_anonymous_is_unauthenticated(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    result = await api.op("CreateActivity", _create_vars(w))
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    result = await api.op("Activities", {})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_sign_up_twice_and_past_capacity(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    activity = await builders.activity(conn, w.county, w.community, [w.unit], capacity=1)
    gid = ids.encode("Activity", activity)
    result = await api.op("SignUp", {"activityId": gid}, token=api.token_for(w.users["resident"]))
    payload = result["data"]["signUp"]
    assert payload["userErrors"] == []
    assert payload["signup"]["attended"] is False
    assert payload["signup"]["person"] == {"id": ids.encode("Person", w.people["resident"]), "name": "赵居民"}
    assert payload["activity"] == {"id": gid, "signupCount": 1}

    again = await api.op("SignUp", {"activityId": gid}, token=api.token_for(w.users["resident"]))
    assert [(e["code"], e["field"]) for e in again["data"]["signUp"]["userErrors"]] == [
        ("ALREADY_EXISTS", ["activityId"])
    ]
    full = await api.op("SignUp", {"activityId": gid}, token=api.token_for(w.users["neighbour"]))
    assert full["data"]["signUp"]["signup"] is None
    assert [e["code"] for e in full["data"]["signUp"]["userErrors"]] == ["FULL"]
    assert await conn.fetchval("SELECT signup_count FROM activities WHERE id = $1", activity) == 1
    assert await _count(conn, "signups") == 1


async def test_sign_up_refusals(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    ended = await builders.activity(conn, w.county, w.community, [w.unit], starts_in_days=-3)
    upcoming = await builders.activity(conn, w.county, w.community, [w.unit])
    result = await api.op(
        "SignUp", {"activityId": ids.encode("Activity", ended)}, token=api.token_for(w.users["resident"])
    )
    assert [e["code"] for e in result["data"]["signUp"]["userErrors"]] == ["INVALID_STATE"]
    result = await api.op("SignUp", {"activityId": "nope"}, token=api.token_for(w.users["resident"]))
    assert [e["code"] for e in result["data"]["signUp"]["userErrors"]] == ["NOT_FOUND"]
    # the admin's account stands for no person: nobody to sign up
    result = await api.op(
        "SignUp", {"activityId": ids.encode("Activity", upcoming)}, token=api.token_for(w.users["admin"])
    )
    assert [e["code"] for e in result["data"]["signUp"]["userErrors"]] == ["FORBIDDEN"]
    assert await _count(conn, "signups") == 0


CANCEL = """
mutation($id: ID!) { cancelSignUp(input: {signupId: $id}) {
  signup { id cancelledAt } activity { signupCount } userErrors { field code } } }
"""


async def test_cancel_frees_the_place(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    activity = ids.encode("Activity", await builders.activity(conn, w.county, w.community, [w.unit], capacity=1))
    signed = await api.op("SignUp", {"activityId": activity}, token=api.token_for(w.users["resident"]))
    signup = signed["data"]["signUp"]["signup"]["id"]

    forbidden = await api.ok(CANCEL, {"id": signup}, token=api.token_for(w.users["neighbour"]))
    assert [e["code"] for e in forbidden["cancelSignUp"]["userErrors"]] == ["FORBIDDEN"]

    cancelled = await api.ok(CANCEL, {"id": signup}, token=api.token_for(w.users["resident"]))
    assert cancelled["cancelSignUp"]["userErrors"] == []
    assert cancelled["cancelSignUp"]["signup"]["cancelledAt"] is not None
    assert cancelled["cancelSignUp"]["activity"] == {"signupCount": 0}

    again = await api.ok(CANCEL, {"id": signup}, token=api.token_for(w.users["resident"]))
    assert [e["code"] for e in again["cancelSignUp"]["userErrors"]] == ["INVALID_STATE"]

    taken = await api.op("SignUp", {"activityId": activity}, token=api.token_for(w.users["neighbour"]))
    assert taken["data"]["signUp"]["userErrors"] == []
    # the resident may sign up again after cancelling: the place is taken now
    full = await api.op("SignUp", {"activityId": activity}, token=api.token_for(w.users["resident"]))
    assert [e["code"] for e in full["data"]["signUp"]["userErrors"]] == ["FULL"]


HOURS = """
query($id: ID) { volunteerHours(personId: $id) { person { name } hours activities } }
"""


async def test_check_in_sets_attended_and_credits_hours(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    activity = ids.encode("Activity", await builders.activity(conn, w.county, w.community, [w.unit], hours=2.5))
    signed = await api.op("SignUp", {"activityId": activity}, token=api.token_for(w.users["resident"]))
    signup = signed["data"]["signUp"]["signup"]["id"]

    for who in ("resident", "cadre", "neighbour"):
        refused = await api.op("CheckIn", {"signupId": signup}, token=api.token_for(w.users[who]))
        assert [e["code"] for e in refused["data"]["checkIn"]["userErrors"]] == ["FORBIDDEN"]

    done = await api.op("CheckIn", {"signupId": signup}, token=api.token_for(w.users["staff"]))
    payload = done["data"]["checkIn"]
    assert payload["userErrors"] == []
    assert payload["signup"] == {"id": signup, "attended": True}
    assert payload["activity"] == {"id": activity, "attendedCount": 1}

    twice = await api.op("CheckIn", {"signupId": signup}, token=api.token_for(w.users["unit"]))
    assert [e["code"] for e in twice["data"]["checkIn"]["userErrors"]] == ["INVALID_STATE"]
    # checked in: the sign-up can no longer be cancelled
    cancel = await api.ok(CANCEL, {"id": signup}, token=api.token_for(w.users["resident"]))
    assert [e["code"] for e in cancel["cancelSignUp"]["userErrors"]] == ["INVALID_STATE"]

    own = await api.ok(HOURS, {"id": None}, token=api.token_for(w.users["resident"]))
    assert own["volunteerHours"] == {"person": {"name": "赵居民"}, "hours": 2.5, "activities": 1}
    person = ids.encode("Person", w.people["resident"])
    by_staff = await api.ok(HOURS, {"id": person}, token=api.token_for(w.users["staff"]))
    assert by_staff["volunteerHours"]["hours"] == 2.5
    by_admin = await api.ok(HOURS, {"id": person}, token=api.token_for(w.users["admin"]))
    assert by_admin["volunteerHours"]["activities"] == 1
    for who in ("neighbour", "cadre", "unit"):
        hidden = await api.ok(HOURS, {"id": person}, token=api.token_for(w.users[who]))
        assert hidden["volunteerHours"] is None, who
    window = "query($from: DateTime) { volunteerHours(from: $from) { hours activities } }"
    later = (clock.now() + datetime.timedelta(days=30)).isoformat()
    none_later = await api.ok(window, {"from": later}, token=api.token_for(w.users["resident"]))
    assert none_later["volunteerHours"] == {"hours": 0.0, "activities": 0}


async def test_host_checks_in_with_given_hours_and_cancelled_cannot(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    activity = ids.encode("Activity", await builders.activity(conn, w.county, w.community, [w.unit], hours=4))
    first = await api.op("SignUp", {"activityId": activity}, token=api.token_for(w.users["resident"]))
    second = await api.op("SignUp", {"activityId": activity}, token=api.token_for(w.users["neighbour"]))
    check_in = """
    mutation($id: ID!, $h: Float) { checkIn(input: {signupId: $id, hours: $h}) {
      signup { hours } userErrors { field code } } }
    """
    unit = api.token_for(w.users["unit"])
    too_long = await api.ok(check_in, {"id": first["data"]["signUp"]["signup"]["id"], "h": 5}, token=unit)
    assert [(e["code"], e["field"]) for e in too_long["checkIn"]["userErrors"]] == [("INVALID", ["hours"])]
    done = await api.ok(check_in, {"id": first["data"]["signUp"]["signup"]["id"], "h": 1.5}, token=unit)
    assert done["checkIn"] == {"signup": {"hours": 1.5}, "userErrors": []}

    other = second["data"]["signUp"]["signup"]["id"]
    await api.ok(CANCEL, {"id": other}, token=api.token_for(w.users["neighbour"]))
    refused = await api.op("CheckIn", {"signupId": other}, token=unit)
    assert [e["code"] for e in refused["data"]["checkIn"]["userErrors"]] == ["INVALID_STATE"]
    missing = await api.op("CheckIn", {"signupId": ids.encode("Signup", 0)}, token=unit)
    assert [e["code"] for e in missing["data"]["checkIn"]["userErrors"]] == ["NOT_FOUND"]


async def test_activities_list_filters_and_pages(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    made = [await builders.activity(conn, w.county, w.community, [w.unit], starts_in_days=d) for d in (-30, 1, 2, 3)]
    await builders.activity(conn, w.county, w.other_community, [w.unit], starts_in_days=5)
    token = api.token_for(w.users["neighbour"])
    community = ids.encode("Community", w.community)
    first = await api.op("Activities", {"communityId": community, "first": 2}, token=token)
    page = first["data"]["activities"]
    assert page["totalCount"] == 4 and page["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["id"] for e in page["edges"]] == [ids.encode("Activity", a) for a in made[:2]]
    assert page["edges"][0]["node"]["hosts"][0]["id"] == ids.encode("Organisation", w.unit)
    rest = await api.op(
        "Activities", {"communityId": community, "first": 5, "after": page["pageInfo"]["endCursor"]}, token=token
    )
    assert [e["node"]["id"] for e in rest["data"]["activities"]["edges"]] == [
        ids.encode("Activity", a) for a in made[2:]
    ]
    now = clock.now()
    upcoming = await api.op(
        "Activities",
        {"from": now.isoformat(), "to": (now + datetime.timedelta(days=4)).isoformat()},
        token=token,
    )
    assert upcoming["data"]["activities"]["totalCount"] == 3
    everywhere = await api.op("Activities", {}, token=token)
    assert everywhere["data"]["activities"]["totalCount"] == 5
    too_many = await api.op("Activities", {"first": 101}, token=token)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_nodes_obey_visibility(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    activity = ids.encode("Activity", await builders.activity(conn, w.county, w.community, [w.unit]))
    signed = await api.op("SignUp", {"activityId": activity}, token=api.token_for(w.users["resident"]))
    signup = signed["data"]["signUp"]["signup"]["id"]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    for who, visible in (("resident", True), ("staff", True), ("unit", True), ("neighbour", False), ("cadre", False)):
        data = await api.ok(query, {"ids": [activity, signup]}, token=api.token_for(w.users[who]))
        assert data["nodes"][0] == {"id": activity}
        assert (data["nodes"][1] is not None) is visible, who
    other_county = await builders.area(conn, "COUNTY", "别的县")
    stranger = await builders.user(conn, other_county, grants=[("COUNTY_ADMIN", other_county)])
    data = await api.ok(query, {"ids": [activity, signup]}, token=api.token_for(stranger))
    assert data["nodes"] == [None, None]
    listing = """
    query($id: ID!) { node(id: $id) { ... on Activity {
      signups { totalCount edges { node { id } } } viewerSignup { id } } } }
    """
    staff = await api.ok(listing, {"id": activity}, token=api.token_for(w.users["staff"]))
    assert staff["node"]["signups"]["totalCount"] == 1 and staff["node"]["viewerSignup"] is None
    resident = await api.ok(listing, {"id": activity}, token=api.token_for(w.users["resident"]))
    assert resident["node"]["signups"] is None and resident["node"]["viewerSignup"] == {"id": signup}


async def test_capacity_holds_under_concurrent_sign_ups(committed_db: dict[str, Any]) -> None:
    api: Api = committed_db["api"]
    pool: asyncpg.Pool = committed_db["pool"]
    c = await asyncpg.connect(committed_db["url"])
    try:
        w = await world(c)
        activity = await builders.activity(c, w.county, w.community, [w.unit], capacity=5)
        users = []
        for i in range(24):
            person = await builders.person(c, w.county, f"志愿者{i}", household=w.household)
            users.append(await builders.user(c, w.county, person_id=person, grants=[("RESIDENT", w.building)]))
    finally:
        await c.close()
    gid = ids.encode("Activity", activity)
    results = await asyncio.gather(
        *(api.op("SignUp", {"activityId": gid}, token=api.token_for(u)) for u in users for _ in range(2))
    )
    codes = [tuple(e["code"] for e in r["data"]["signUp"]["userErrors"]) for r in results]
    assert codes.count(()) == 5
    assert all(c in ((), ("FULL",), ("ALREADY_EXISTS",)) for c in codes)
    async with pool.acquire() as check:
        assert await check.fetchval("SELECT signup_count FROM activities WHERE id = $1", activity) == 5
        assert await check.fetchval("SELECT count(*) FROM signups WHERE activity_id = $1", activity) == 5


def _statements(caplog: pytest.LogCaptureFixture) -> int:
    lines = [r for r in caplog.records if r.name == "gongjian.graphql" and r.getMessage() == "operation"]
    return int(lines[-1].fields["sql_statements"])  # type: ignore[attr-defined]


NESTED = """
query($first: Int) { activities(first: $first) { totalCount edges { node {
  id attendedCount signupCount hosts { name } community { name } viewerSignup { id }
  signups(first: 5) { totalCount edges { node { attended person { name } activity { title } } } } } } } }
"""


async def test_activity_list_does_not_grow_statements_with_rows(
    api: Api, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="gongjian.graphql")
    w = await world(conn)
    staff = api.token_for(w.users["staff"])

    async def add(n: int) -> None:
        for _ in range(n):
            activity = ids.encode("Activity", await builders.activity(conn, w.county, w.community, [w.unit]))
            for who in ("resident", "neighbour"):
                await api.op("SignUp", {"activityId": activity}, token=api.token_for(w.users[who]))

    await add(2)
    await api.ok(NESTED, {"first": 2}, token=staff)
    small = _statements(caplog)
    await add(5)
    data = await api.ok(NESTED, {"first": 7}, token=staff)
    assert len(data["activities"]["edges"]) == 7
    assert data["activities"]["edges"][6]["node"]["signups"]["totalCount"] == 2
    assert _statements(caplog) == small
