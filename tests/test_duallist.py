"""The dual list through HTTP, with the contract's operations: publish, list, match,
allocate, complete, cancel; withdraw, expire and close; who may do and see what."""

from __future__ import annotations

import datetime
from typing import Any

import asyncpg
import pytest

from gongjian import clock, tokens
from resolvers import ids
from tests import builders as b
from tests.support import Api


def gid(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


@pytest.fixture
async def w(conn: asyncpg.Connection) -> b.World:
    return await b.world(conn)


def tok(api: Api, w: b.World, who: str) -> str:
    return api.token_for(w.users[who])


async def snapshot(conn: asyncpg.Connection) -> list[Any]:
    """Everything the dual list's mutations could change."""
    return [
        await conn.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608 - fixed table names
        for table in ("resources", "resource_communities", "needs", "exchanges")
    ]


def publish_vars(w: b.World, **over: Any) -> dict[str, Any]:
    v: dict[str, Any] = {
        "providerId": gid("Organisation", w.unit),
        "title": "财政局停车场夜间车位",
        "description": "每晚19点至次日7点",
        "category": "PARKING",
        "quantity": 30,
        "unit": "个",
        "communityIds": [gid("Community", w.community), gid("Community", w.other_community)],
    }
    v.update(over)
    return v


def errors(result: dict[str, Any], field: str) -> list[dict[str, Any]]:
    assert "errors" not in result, result["errors"]
    payload: dict[str, Any] = result["data"][field]
    return list(payload["userErrors"])


# --- publishResource -----------------------------------------------------------------------


async def test_unit_admin_publishes_a_resource(api: Api, w: b.World) -> None:
    result = await api.op("PublishResource", publish_vars(w), token=tok(api, w, "unit"))
    assert errors(result, "publishResource") == []
    resource = result["data"]["publishResource"]["resource"]
    assert resource["title"] == "财政局停车场夜间车位"
    assert (resource["quantity"], resource["remaining"], resource["status"]) == (30, 30, "AVAILABLE")
    assert resource["provider"]["id"] == gid("Organisation", w.unit)
    assert [c["name"] for c in resource["communities"]] == ["东岳殿社区", "椒溪河社区"]


async def test_api_token_and_county_admin_publish(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    secret = tokens.API_TOKEN_PREFIX + "duallist-test-token-0123456789abcdef"
    await conn.execute(
        "INSERT INTO api_tokens (county_id, organisation_id, name, token_hash, created_by) VALUES ($1, $2, $3, $4, $5)",
        w.county,
        w.unit,
        "停车系统",
        tokens.hash_api_token(secret),
        w.users["unit"],
    )
    by_token = await api.op("PublishResource", publish_vars(w), token=secret)
    assert errors(by_token, "publishResource") == []
    by_admin = await api.op("PublishResource", publish_vars(w, title="会议室"), token=tok(api, w, "admin"))
    assert errors(by_admin, "publishResource") == []


@pytest.mark.parametrize("who", ["staff", "resident", "cadre"])
async def test_others_may_not_publish_for_a_unit(api: Api, w: b.World, conn: asyncpg.Connection, who: str) -> None:
    before = await snapshot(conn)
    result = await api.op("PublishResource", publish_vars(w), token=tok(api, w, who))
    assert [e["code"] for e in errors(result, "publishResource")] == ["FORBIDDEN"]
    assert result["data"]["publishResource"]["resource"] is None
    assert await snapshot(conn) == before


async def test_unit_admin_of_another_unit_may_not_publish(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    other = await b.organisation(conn, w.county, "ENTERPRISE", "佛坪电力公司")
    result = await api.op(
        "PublishResource", publish_vars(w, providerId=gid("Organisation", other)), token=tok(api, w, "unit")
    )
    assert [e["code"] for e in errors(result, "publishResource")] == ["FORBIDDEN"]


async def test_publish_refusals_name_the_field(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    foreign_county = await b.area(conn, "COUNTY", "另一县")
    foreign_town = await b.area(conn, "TOWN", "某镇", foreign_county)
    foreign = await b.area(conn, "COMMUNITY", "外县社区", foreign_town)
    before = await snapshot(conn)
    token = tok(api, w, "unit")
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"quantity": 0}, "INVALID", ["quantity"]),
        ({"quantity": -3}, "INVALID", ["quantity"]),
        ({"communityIds": []}, "INVALID", ["communityIds"]),
        (
            {"communityIds": [gid("Community", w.community), gid("Building", w.building)]},
            "INVALID",
            ["communityIds", "1"],
        ),
        ({"communityIds": [gid("Community", w.building)]}, "INVALID", ["communityIds", "0"]),
        ({"communityIds": [gid("Community", foreign)]}, "INVALID", ["communityIds", "0"]),
        ({"title": "  "}, "INVALID", ["title"]),
        ({"providerId": gid("Organisation", 987654321)}, "NOT_FOUND", ["providerId"]),
        ({"providerId": "garbage"}, "NOT_FOUND", ["providerId"]),
    ]
    for over, code, field in cases:
        result = await api.op("PublishResource", publish_vars(w, **over), token=token)
        assert [(e["code"], e["field"]) for e in errors(result, "publishResource")] == [(code, field)], over
    assert await snapshot(conn) == before


async def test_availability_window_must_lie_ahead(api: Api, w: b.World) -> None:
    query = """mutation($input: PublishResourceInput!) {
      publishResource(input: $input) { resource { status availableUntil } userErrors { field code } } }"""
    base = publish_vars(w)
    base.pop("description")
    past = (clock.now() - datetime.timedelta(hours=1)).isoformat()
    future = (clock.now() + datetime.timedelta(days=30)).isoformat()
    refused = await api.ok(query, {"input": {**base, "availableUntil": past}}, token=tok(api, w, "unit"))
    assert refused["publishResource"]["userErrors"] == [{"field": ["availableUntil"], "code": "INVALID"}]
    done = await api.ok(query, {"input": {**base, "availableUntil": future}}, token=tok(api, w, "unit"))
    assert done["publishResource"]["resource"]["status"] == "AVAILABLE"


async def test_mutations_need_a_token(api: Api, w: b.World) -> None:
    result = await api.op("PublishResource", publish_vars(w))
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- publishNeed -----------------------------------------------------------------------------


async def test_staff_publishes_a_need_in_scope(api: Api, w: b.World) -> None:
    result = await api.op(
        "PublishNeed",
        {"areaId": gid("Compound", w.compound), "title": "滨河小区夜间停车", "category": "PARKING", "quantity": 12},
        token=tok(api, w, "staff"),
    )
    assert errors(result, "publishNeed") == []
    need = result["data"]["publishNeed"]["need"]
    assert (need["quantity"], need["fulfilled"], need["status"]) == (12, 0, "OPEN")
    assert need["area"] == {"id": gid("Compound", w.compound), "name": "滨河小区"}


async def test_publish_need_refusals(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    before = await snapshot(conn)

    async def publish(who: str, area: str, quantity: int = 3) -> list[tuple[str, Any]]:
        result = await api.op(
            "PublishNeed",
            {"areaId": area, "title": "需求", "category": "VENUE", "quantity": quantity},
            token=tok(api, w, who),
        )
        return [(e["code"], e["field"]) for e in errors(result, "publishNeed")]

    assert await publish("staff", gid("Community", w.other_community)) == [("FORBIDDEN", None)]
    assert await publish("resident", gid("Building", w.building)) == [("FORBIDDEN", None)]
    assert await publish("unit", gid("Community", w.community)) == [("FORBIDDEN", None)]
    assert await publish("staff", gid("Community", w.community), 0) == [("INVALID", ["quantity"])]
    assert await publish("admin", gid("Town", w.town)) == [("INVALID", ["areaId"])]
    assert await publish("staff", gid("Community", 987654321)) == [("NOT_FOUND", ["areaId"])]
    assert await snapshot(conn) == before


# --- lists and visibility --------------------------------------------------------------------


async def test_resources_filter_by_community_category_and_availability(
    api: Api, w: b.World, conn: asyncpg.Connection
) -> None:
    here = await b.resource(conn, w.unit, [w.community], category="PARKING", quantity=5)
    there = await b.resource(conn, w.unit, [w.other_community], category="PARKING", quantity=5)
    venue = await b.resource(conn, w.unit, [w.community, w.other_community], category="VENUE", quantity=1)
    gone = await b.resource(conn, w.unit, [w.community], category="PARKING", withdrawn=True)
    past = clock.now() - datetime.timedelta(days=1)
    expired = await b.resource(conn, w.unit, [w.community], category="PARKING", available_until=past)
    token = tok(api, w, "staff")

    async def listed(**filters: Any) -> list[tuple[int, str]]:
        data = (await api.op("Resources", filters, token=token))["data"]["resources"]
        got = [(ids.decode(e["node"]["id"]), e["node"]["status"]) for e in data["edges"]]
        assert data["totalCount"] == len(got)
        return [(pk[1], status) for pk, status in got if pk is not None]

    everything = await listed()
    assert everything == [
        (here, "AVAILABLE"),
        (there, "AVAILABLE"),
        (venue, "AVAILABLE"),
        (gone, "WITHDRAWN"),
        (expired, "EXPIRED"),
    ]
    assert [r for r, _ in await listed(communityId=gid("Community", w.community))] == [here, venue, gone, expired]
    assert [r for r, _ in await listed(category="VENUE")] == [venue]
    assert [r for r, _ in await listed(available=True, category="PARKING")] == [here, there]
    assert [r for r, _ in await listed(available=False)] == [gone, expired]


async def test_resources_page_by_cursor_and_refuse_large_first(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    made = [await b.resource(conn, w.unit, [w.community]) for _ in range(5)]
    token = tok(api, w, "staff")
    first = (await api.op("Resources", {"first": 2}, token=token))["data"]["resources"]
    assert first["pageInfo"]["hasNextPage"] is True and first["totalCount"] == 5
    rest = (await api.op("Resources", {"first": 10, "after": first["pageInfo"]["endCursor"]}, token=token))["data"]
    seen = [ids.decode(e["node"]["id"]) for e in first["edges"] + rest["resources"]["edges"]]
    assert [s[1] for s in seen if s] == made
    refused = await api.op("Resources", {"first": 101}, token=token)
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_residents_see_resources_open_to_their_community_and_no_needs(
    api: Api, w: b.World, conn: asyncpg.Connection
) -> None:
    mine = await b.resource(conn, w.unit, [w.community])
    elsewhere = await b.resource(conn, w.unit, [w.other_community])
    need = await b.need(conn, w.community)
    token = tok(api, w, "resident")
    data = (await api.op("Resources", {}, token=token))["data"]["resources"]
    assert [e["node"]["id"] for e in data["edges"]] == [gid("Resource", mine)]
    assert data["totalCount"] == 1
    assert (await api.op("Needs", {}, token=token))["data"]["needs"]["totalCount"] == 0
    nodes = await api.ok(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [gid("Resource", mine), gid("Resource", elsewhere), gid("Need", need)]},
        token=token,
    )
    assert nodes["nodes"] == [{"id": gid("Resource", mine)}, None, None]


async def test_other_county_sees_nothing(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    resource = await b.resource(conn, w.unit, [w.community])
    need = await b.need(conn, w.community)
    other = await b.world(conn)
    token = tok(api, other, "admin")
    assert (await api.op("Resources", {}, token=token))["data"]["resources"]["totalCount"] == 0
    assert (await api.op("Needs", {}, token=token))["data"]["needs"]["totalCount"] == 0
    nodes = await api.ok(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [gid("Resource", resource), gid("Need", need)]},
        token=token,
    )
    assert nodes["nodes"] == [None, None]


async def test_needs_filter_by_area_category_and_open(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    in_compound = await b.need(conn, w.compound, category="PARKING", quantity=2)
    in_community = await b.need(conn, w.community, category="VENUE", quantity=1)
    elsewhere = await b.need(conn, w.other_community, category="PARKING", quantity=1)
    await conn.execute("UPDATE needs SET fulfilled = quantity WHERE id = $1", in_community)
    token = tok(api, w, "unit")

    async def listed(**filters: Any) -> list[int]:
        data = (await api.op("Needs", filters, token=token))["data"]["needs"]
        assert data["totalCount"] == len(data["edges"])
        return [ids.decode(e["node"]["id"])[1] for e in data["edges"]]  # type: ignore[index]

    assert await listed() == [in_compound, in_community, elsewhere]
    assert await listed(areaId=gid("Community", w.community)) == [in_compound, in_community]
    assert await listed(areaId=gid("Compound", w.compound)) == [in_compound]
    assert await listed(category="PARKING") == [in_compound, elsewhere]
    assert await listed(open=True) == [in_compound, elsewhere]
    assert await listed(open=False) == [in_community]


# --- matches ---------------------------------------------------------------------------------


async def test_matches_rank_best_fit_first(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    soon = clock.now() + datetime.timedelta(days=2)
    later = clock.now() + datetime.timedelta(days=20)
    need = await b.need(conn, w.community, category="PARKING", quantity=10)
    await conn.execute("UPDATE needs SET fulfilled = 4 WHERE id = $1", need)  # shortfall 6
    small = await b.resource(conn, w.unit, [w.community], quantity=3)
    large = await b.resource(conn, w.unit, [w.community], quantity=50)
    exact_later = await b.resource(conn, w.unit, [w.community], quantity=6, available_until=later)
    exact_soon = await b.resource(conn, w.unit, [w.community], quantity=6, available_until=soon)
    exact_open = await b.resource(conn, w.unit, [w.community], quantity=6)
    near = await b.resource(conn, w.unit, [w.community], quantity=8)
    smaller = await b.resource(conn, w.unit, [w.community], quantity=1)
    # not candidates: another category, another community, withdrawn, expired, exhausted
    await b.resource(conn, w.unit, [w.community], category="VENUE", quantity=6)
    await b.resource(conn, w.unit, [w.other_community], quantity=6)
    await b.resource(conn, w.unit, [w.community], quantity=6, withdrawn=True)
    await b.resource(conn, w.unit, [w.community], quantity=6, available_until=soon - datetime.timedelta(days=5))
    empty = await b.resource(conn, w.unit, [w.community], quantity=6)
    await conn.execute("UPDATE resources SET remaining = 0 WHERE id = $1", empty)

    data = (await api.op("NeedMatches", {"needId": gid("Need", need)}, token=tok(api, w, "staff")))["data"]
    got = [ids.decode(e["node"]["id"])[1] for e in data["node"]["matches"]["edges"]]  # type: ignore[index]
    assert got == [exact_soon, exact_later, exact_open, near, large, small, smaller]
    assert data["node"]["matches"]["totalCount"] == 7


MATCHES_PAGE = """
query MatchesPage($id: ID!, $first: Int, $after: String) {
  node(id: $id) { ... on Need { matches(first: $first, after: $after) {
    totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }
}
"""


async def test_matches_page_like_every_connection(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    need = await b.need(conn, w.community, category="PARKING", quantity=5)
    made = [await b.resource(conn, w.unit, [w.community], quantity=5 + n) for n in range(7)]  # best fit first
    staff = tok(api, w, "staff")
    seen: list[int] = []
    after = None
    for expected_next in (True, True, False):
        data = await api.ok(MATCHES_PAGE, {"id": gid("Need", need), "first": 3, "after": after}, token=staff)
        page = data["node"]["matches"]
        assert page["totalCount"] == 7 and page["pageInfo"]["hasNextPage"] is expected_next
        seen += [ids.decode(e["node"]["id"])[1] for e in page["edges"]]  # type: ignore[index]
        after = page["pageInfo"]["endCursor"]
    assert seen == made
    wrong = await api.post(MATCHES_PAGE, {"id": gid("Need", need), "after": "nonsense"}, token=staff)
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# --- allocate, complete, cancel --------------------------------------------------------------


async def allocate(api: Api, token: str, resource: int, need: int, quantity: int) -> dict[str, Any]:
    result = await api.op(
        "Allocate",
        {"resourceId": gid("Resource", resource), "needId": gid("Need", need), "quantity": quantity},
        token=token,
    )
    assert "errors" not in result, result["errors"]
    payload: dict[str, Any] = result["data"]["allocate"]
    return payload


def codes(payload: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def test_allocate_complete_and_cancel(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    resource = await b.resource(conn, w.unit, [w.community], quantity=10)
    need = await b.need(conn, w.compound, quantity=8)
    staff = tok(api, w, "staff")
    first = await allocate(api, staff, resource, need, 5)
    assert codes(first) == []
    assert first["exchange"]["quantity"] == 5 and first["exchange"]["status"] == "ALLOCATED"
    assert first["exchange"]["resource"] == {"id": gid("Resource", resource), "remaining": 5, "status": "AVAILABLE"}
    assert first["exchange"]["need"] == {"id": gid("Need", need), "fulfilled": 5, "status": "PARTIALLY_MET"}
    second = await allocate(api, staff, resource, need, 3)
    assert second["exchange"]["need"]["status"] == "MET"
    assert second["exchange"]["resource"]["remaining"] == 2

    # the provider completes the first; cancelling it then is refused
    done = await api.op("CompleteExchange", {"exchangeId": first["exchange"]["id"]}, token=tok(api, w, "unit"))
    assert done["data"]["completeExchange"] == {
        "exchange": {"id": first["exchange"]["id"], "status": "COMPLETED"},
        "userErrors": [],
    }
    before = await snapshot(conn)
    refused = await api.op("CancelExchange", {"exchangeId": first["exchange"]["id"]}, token=staff)
    assert codes(refused["data"]["cancelExchange"]) == [("INVALID_STATE", ["exchangeId"])]
    again = await api.op("CompleteExchange", {"exchangeId": first["exchange"]["id"]}, token=staff)
    assert codes(again["data"]["completeExchange"]) == [("INVALID_STATE", ["exchangeId"])]
    assert await snapshot(conn) == before

    # cancelling the second gives its quantity back
    cancelled = await api.op(
        "CancelExchange", {"exchangeId": second["exchange"]["id"], "reason": "车位改作他用"}, token=staff
    )
    assert cancelled["data"]["cancelExchange"] == {
        "exchange": {
            "id": second["exchange"]["id"],
            "status": "CANCELLED",
            "resource": {"id": gid("Resource", resource), "remaining": 5},
            "need": {"id": gid("Need", need), "fulfilled": 5, "status": "PARTIALLY_MET"},
        },
        "userErrors": [],
    }
    twice = await api.op("CancelExchange", {"exchangeId": second["exchange"]["id"]}, token=staff)
    assert codes(twice["data"]["cancelExchange"]) == [("INVALID_STATE", ["exchangeId"])]
    ledger = await api.ok(
        "query($id: ID!) { node(id: $id) { ... on Exchange { quantity status cancelReason cancelledAt "
        "provider { id } receiver { id } } } }",
        {"id": second["exchange"]["id"]},
        token=staff,
    )
    assert ledger["node"]["quantity"] == 3 and ledger["node"]["cancelReason"] == "车位改作他用"
    assert ledger["node"]["provider"]["id"] == gid("Organisation", w.unit)
    assert ledger["node"]["receiver"]["id"] == gid("Compound", w.compound)


async def test_allocate_refusals_change_nothing(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    resource = await b.resource(conn, w.unit, [w.community], quantity=4)
    need = await b.need(conn, w.community, quantity=6)
    await conn.execute("UPDATE needs SET fulfilled = 3 WHERE id = $1", need)  # shortfall 3
    venue = await b.resource(conn, w.unit, [w.community], category="VENUE", quantity=4)
    foreign = await b.resource(conn, w.unit, [w.other_community], quantity=4)
    withdrawn = await b.resource(conn, w.unit, [w.community], withdrawn=True)
    expired = await b.resource(conn, w.unit, [w.community], available_until=clock.now() - datetime.timedelta(minutes=1))
    closed = await b.need(conn, w.community, quantity=6)
    await conn.execute("UPDATE needs SET closed_at = now() WHERE id = $1", closed)
    elsewhere = await b.need(conn, w.other_community, quantity=6)
    staff = tok(api, w, "staff")
    before = await snapshot(conn)
    assert codes(await allocate(api, staff, resource, need, 5)) == [("INSUFFICIENT_QUANTITY", ["quantity"])]
    assert codes(await allocate(api, staff, resource, need, 4)) == [("EXCEEDS_NEED", ["quantity"])]
    assert codes(await allocate(api, staff, resource, need, 0)) == [("INVALID", ["quantity"])]
    assert codes(await allocate(api, staff, venue, need, 1)) == [("INVALID", ["resourceId"])]
    assert codes(await allocate(api, staff, foreign, need, 1)) == [("INVALID", ["resourceId"])]
    assert codes(await allocate(api, staff, withdrawn, need, 1)) == [("INVALID_STATE", ["resourceId"])]
    assert codes(await allocate(api, staff, expired, need, 1)) == [("INVALID_STATE", ["resourceId"])]
    assert codes(await allocate(api, staff, resource, closed, 1)) == [("INVALID_STATE", ["needId"])]
    assert codes(await allocate(api, staff, foreign, elsewhere, 1)) == [("FORBIDDEN", None)]
    assert codes(await allocate(api, tok(api, w, "unit"), resource, need, 1)) == [("FORBIDDEN", None)]
    assert codes(await allocate(api, tok(api, w, "resident"), resource, need, 1)) == [("NOT_FOUND", ["needId"])]
    assert codes(await allocate(api, staff, 987654321, need, 1)) == [("NOT_FOUND", ["resourceId"])]
    assert await snapshot(conn) == before
    # the exact shortfall is fine
    assert codes(await allocate(api, staff, resource, need, 3)) == []


async def test_settling_needs_one_side(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    resource = await b.resource(conn, w.unit, [w.community], quantity=4)
    need = await b.need(conn, w.community, quantity=4)
    exchange = (await allocate(api, tok(api, w, "staff"), resource, need, 2))["exchange"]["id"]
    other_unit = await b.organisation(conn, w.county, "ENTERPRISE")
    outsider = await b.user(conn, w.county, grants=[("UNIT_ADMIN", other_unit)])
    other_staff = await b.user(conn, w.county, grants=[("COMMUNITY_STAFF", w.other_community)])
    for user in (outsider, other_staff, w.users["head"]):
        for op, field in (("CompleteExchange", "completeExchange"), ("CancelExchange", "cancelExchange")):
            result = await api.op(op, {"exchangeId": exchange}, token=api.token_for(user))
            assert codes(result["data"][field]) == [("FORBIDDEN", None)]
    nope = await api.op("CompleteExchange", {"exchangeId": gid("Exchange", 987654321)}, token=tok(api, w, "unit"))
    assert codes(nope["data"]["completeExchange"]) == [("NOT_FOUND", ["exchangeId"])]
    by_provider = await api.op("CancelExchange", {"exchangeId": exchange}, token=tok(api, w, "unit"))
    assert by_provider["data"]["cancelExchange"]["exchange"]["resource"]["remaining"] == 4


# --- withdraw, close -------------------------------------------------------------------------

WITHDRAW = """mutation($id: ID!) { withdrawResource(input: {resourceId: $id}) {
  resource { id status remaining } userErrors { field code } } }"""
CLOSE = """mutation($id: ID!) { closeNeed(input: {needId: $id}) {
  need { id status fulfilled } userErrors { field code } } }"""


async def test_withdraw_a_resource(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    resource = await b.resource(conn, w.unit, [w.community], quantity=4)
    need = await b.need(conn, w.community, quantity=4)
    exchange = (await allocate(api, tok(api, w, "staff"), resource, need, 1))["exchange"]["id"]
    refused = await api.ok(WITHDRAW, {"id": gid("Resource", resource)}, token=tok(api, w, "staff"))
    assert refused["withdrawResource"]["userErrors"] == [{"field": None, "code": "FORBIDDEN"}]
    done = await api.ok(WITHDRAW, {"id": gid("Resource", resource)}, token=tok(api, w, "unit"))
    assert done["withdrawResource"]["resource"]["status"] == "WITHDRAWN"
    again = await api.ok(WITHDRAW, {"id": gid("Resource", resource)}, token=tok(api, w, "unit"))
    assert again["withdrawResource"]["userErrors"] == [{"field": ["resourceId"], "code": "INVALID_STATE"}]
    # the existing exchange stands and can still be completed
    completed = await api.op("CompleteExchange", {"exchangeId": exchange}, token=tok(api, w, "staff"))
    assert completed["data"]["completeExchange"]["exchange"]["status"] == "COMPLETED"


async def test_close_a_need(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    need = await b.need(conn, w.community, quantity=4)
    refused = await api.ok(CLOSE, {"id": gid("Need", need)}, token=tok(api, w, "unit"))
    assert refused["closeNeed"]["userErrors"] == [{"field": None, "code": "FORBIDDEN"}]
    done = await api.ok(CLOSE, {"id": gid("Need", need)}, token=tok(api, w, "staff"))
    assert done["closeNeed"]["need"]["status"] == "CLOSED"
    again = await api.ok(CLOSE, {"id": gid("Need", need)}, token=tok(api, w, "staff"))
    assert again["closeNeed"]["userErrors"] == [{"field": ["needId"], "code": "INVALID_STATE"}]


# --- the organisation's resources, the ledger --------------------------------------------------


async def test_organisation_lists_its_resources(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    made = [await b.resource(conn, w.unit, [w.community], quantity=q) for q in (1, 2, 3)]
    other = await b.organisation(conn, w.county, "ENTERPRISE")
    await b.resource(conn, other, [w.community])
    data = await api.ok(
        "query($a: ID!, $b: ID!) { nodes(ids: [$a, $b]) { ... on Organisation { "
        "resources(first: 2) { totalCount pageInfo { hasNextPage } edges { node { id title remaining } } } } } }",
        {"a": gid("Organisation", w.unit), "b": gid("Organisation", other)},
        token=tok(api, w, "staff"),
    )
    mine, theirs = data["nodes"]
    assert mine["resources"]["totalCount"] == 3 and mine["resources"]["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["id"] for e in mine["resources"]["edges"]] == [gid("Resource", m) for m in made[:2]]
    assert theirs["resources"]["totalCount"] == 1


async def test_the_ledger_is_never_rewritten(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    resource = await b.resource(conn, w.unit, [w.community], quantity=4)
    need = await b.need(conn, w.community, quantity=4)
    exchange = ids.decode((await allocate(api, tok(api, w, "staff"), resource, need, 2))["exchange"]["id"])
    assert exchange is not None
    pk = exchange[1]
    for statement in (
        "UPDATE exchanges SET quantity = 1 WHERE id = $1",
        "UPDATE exchanges SET resource_id = resource_id + 1 WHERE id = $1",
        "UPDATE exchanges SET allocated_at = now() - interval '1 day' WHERE id = $1",
        "DELETE FROM exchanges WHERE id = $1",
        "UPDATE exchanges SET status = 'ALLOCATED' WHERE id = $1",
    ):
        with pytest.raises(asyncpg.CheckViolationError):
            async with conn.transaction():
                await conn.execute(statement, pk)
    await conn.execute("UPDATE exchanges SET status = 'COMPLETED', completed_at = now() WHERE id = $1", pk)
    with pytest.raises(asyncpg.CheckViolationError):
        async with conn.transaction():
            await conn.execute("UPDATE exchanges SET status = 'CANCELLED', cancelled_at = now() WHERE id = $1", pk)
    with pytest.raises(asyncpg.CheckViolationError):
        async with conn.transaction():
            await conn.execute("UPDATE resources SET remaining = -1 WHERE id = $1", resource)
    with pytest.raises(asyncpg.CheckViolationError):
        async with conn.transaction():
            await conn.execute("UPDATE needs SET fulfilled = quantity + 1 WHERE id = $1", need)


# --- no N+1 ----------------------------------------------------------------------------------

DEEP = """query { resources(first: 100) { totalCount edges { node { id provider { id name }
  communities { id name } } } }
  needs(first: 100) { edges { node { id area { id name } community { id }
  matches(first: 3) { totalCount edges { node { id provider { name } } } } } } } }"""


async def _statements(api: Api, token: str, caplog: pytest.LogCaptureFixture) -> int:
    caplog.clear()
    with caplog.at_level("INFO", logger="gongjian"):
        await api.ok(DEEP, token=token)
    fields = [getattr(r, "fields", {}) for r in caplog.records]
    counts = [f["sql_statements"] for f in fields if f.get("sql_statements")]
    assert len(counts) == 1
    return int(counts[0])


async def test_statements_do_not_grow_with_rows(
    api: Api, w: b.World, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    token = tok(api, w, "staff")
    units = [w.unit, await b.organisation(conn, w.county, "ENTERPRISE")]
    for i in range(2):
        await b.resource(conn, units[i], [w.community, w.other_community])
        await b.need(conn, w.community)
    few = await _statements(api, token, caplog)
    for i in range(10):
        await b.resource(conn, units[i % 2], [w.community])
        await b.need(conn, w.compound if i % 2 else w.other_community)
    many = await _statements(api, token, caplog)
    # a bounded number either way (area loads may fall into one DataLoader tick or two)
    assert few <= 10 and many <= 10, (few, many)


async def test_need_and_resource_show_their_ledger(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    resource = await b.resource(conn, w.unit, [w.community], quantity=10)
    need = await b.need(conn, w.building, quantity=10)
    staff = tok(api, w, "staff")
    made = [(await allocate(api, staff, resource, need, q))["exchange"]["id"] for q in (1, 2, 3)]
    await api.op("CancelExchange", {"exchangeId": made[1]}, token=staff)
    query = """query($r: ID!, $n: ID!, $after: String) {
      r: node(id: $r) { ... on Resource { exchanges(first: 2, after: $after) { totalCount
        pageInfo { hasNextPage endCursor } edges { node { id quantity status } } } } }
      n: node(id: $n) { ... on Need { exchanges { totalCount edges { node { id status need { id } } } } } } }"""
    ids_ = {"r": gid("Resource", resource), "n": gid("Need", need)}
    data = await api.ok(query, ids_, token=staff)
    page = data["r"]["exchanges"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"] is True
    assert [(e["node"]["quantity"], e["node"]["status"]) for e in page["edges"]] == [(1, "ALLOCATED"), (2, "CANCELLED")]
    rest = await api.ok(query, {**ids_, "after": page["pageInfo"]["endCursor"]}, token=staff)
    assert [e["node"]["id"] for e in rest["r"]["exchanges"]["edges"]] == [made[2]]
    assert [e["node"]["id"] for e in data["n"]["exchanges"]["edges"]] == made
    # a resident sees the resource, but not its ledger
    resident = await api.ok(query, ids_, token=tok(api, w, "resident"))
    assert resident["r"]["exchanges"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }
    assert resident["n"] is None


async def test_organisation_detail_shows_the_units_resources(api: Api, w: b.World, conn: asyncpg.Connection) -> None:
    made = [await b.resource(conn, w.unit, [w.community], quantity=q, title=f"车位{q}") for q in (4, 6)]
    await conn.execute("UPDATE resources SET remaining = 1 WHERE id = $1", made[1])
    result = await api.op("OrganisationDetail", {"id": gid("Organisation", w.unit)}, token=tok(api, w, "unit"))
    assert "errors" not in result, result["errors"]
    assert result["data"]["node"]["resources"] == {
        "totalCount": 2,
        "edges": [
            {"node": {"id": gid("Resource", made[0]), "title": "车位4", "remaining": 4}},
            {"node": {"id": gid("Resource", made[1]), "title": "车位6", "remaining": 1}},
        ],
    }


async def test_a_foreign_cursor_is_bad_user_input(api: Api, w: b.World) -> None:
    from resolvers.pagination import encode_cursor

    result = await api.op("Needs", {"after": encode_cursor(["not-an-id"])}, token=tok(api, w, "staff"))
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
