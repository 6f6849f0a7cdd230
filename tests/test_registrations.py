"""Dual registration (双报到) as people work with it: listing, deciding, and where a party
member without a household registers."""

from __future__ import annotations

from typing import Any

import asyncpg

from resolvers import ids
from tests import builders as b
from tests.support import Api


def _registrants(result: dict[str, Any]) -> list[tuple[str | None, str]]:
    edges = result["data"]["registrations"]["edges"]
    return [
        ((e["node"]["person"] or {}).get("name") or (e["node"]["organisation"] or {}).get("name"), e["node"]["status"])
        for e in edges
    ]


async def _register(api: Api, token: str, community: int, *, person: int | None = None, org: int | None = None) -> str:
    result = await api.op(
        "RegisterWithCommunity",
        {
            "communityId": ids.encode("Community", community),
            "personId": ids.encode("Person", person) if person else None,
            "organisationId": ids.encode("Organisation", org) if org else None,
        },
        token=token,
    )
    payload = result["data"]["registerWithCommunity"]
    assert payload["userErrors"] == [], payload
    registration_id: str = payload["registration"]["id"]
    return registration_id


async def test_each_side_lists_the_registrations_it_may_see(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    tok = {k: api.token_for(u) for k, u in w.users.items()}
    # the world's cadre is registered and confirmed; the unit and the neighbour register now
    await _register(api, tok["unit"], w.community, org=w.unit)
    await conn.execute("UPDATE persons SET party_member = true WHERE id = $1", w.people["neighbour"])
    await _register(api, tok["neighbour"], w.community, person=w.people["neighbour"])

    everything = [("张干部", "CONFIRMED"), (await _unit_name(conn, w.unit), "PENDING"), ("钱邻居", "PENDING")]
    assert _registrants(await api.op("Registrations", {}, token=tok["staff"])) == everything
    assert _registrants(await api.op("Registrations", {}, token=tok["admin"])) == everything
    # the unit's admin: the unit's own and its member's
    assert _registrants(await api.op("Registrations", {}, token=tok["unit"])) == everything[:2]
    # each registrant their own; a resident without one nothing
    assert _registrants(await api.op("Registrations", {}, token=tok["neighbour"])) == everything[2:]
    assert _registrants(await api.op("Registrations", {}, token=tok["cadre"])) == everything[:1]
    assert _registrants(await api.op("Registrations", {}, token=tok["resident"])) == []
    # staff of another community see none of these
    far_staff = await b.user(conn, w.county, grants=[("COMMUNITY_STAFF", w.other_community)])
    assert _registrants(await api.op("Registrations", {}, token=api.token_for(far_staff))) == []


async def test_staff_find_the_pending_ones_and_confirm_them(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    tok = {k: api.token_for(u) for k, u in w.users.items()}
    await conn.execute("UPDATE persons SET party_member = true WHERE id = $1", w.people["resident"])
    pending = await _register(api, tok["resident"], w.community, person=w.people["resident"])
    community = ids.encode("Community", w.community)
    found = await api.op("Registrations", {"communityId": community, "status": "PENDING"}, token=tok["staff"])
    page = found["data"]["registrations"]
    assert page["totalCount"] == 1 and page["edges"][0]["node"]["id"] == pending
    assert page["edges"][0]["node"]["decidedAt"] is None and page["edges"][0]["node"]["registeredAt"]
    confirmed = await api.op("ConfirmRegistration", {"registrationId": pending}, token=tok["staff"])
    assert confirmed["data"]["confirmRegistration"]["registration"]["status"] == "CONFIRMED"
    assert (await api.op("Registrations", {"status": "PENDING"}, token=tok["staff"]))["data"]["registrations"][
        "totalCount"
    ] == 0
    mine = await api.op("Registrations", {"status": "CONFIRMED"}, token=tok["resident"])
    confirmed_members = await api.op(
        "Registrations", {"communityId": community, "status": "CONFIRMED"}, token=tok["staff"]
    )
    assert _registrants(confirmed_members) == [("张干部", "CONFIRMED"), ("赵居民", "CONFIRMED")]
    assert _registrants(mine) == [("赵居民", "CONFIRMED")]
    assert mine["data"]["registrations"]["edges"][0]["node"]["decidedAt"] is not None
    again = await api.op("ConfirmRegistration", {"registrationId": pending}, token=tok["staff"])
    assert again["data"]["confirmRegistration"]["userErrors"][0]["code"] == "INVALID_STATE"


async def test_a_party_member_without_a_household_registers_only_where_their_unit_serves(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    second = await b.cadre(conn, w.county, w.unit, "周干部")
    cadre = api.token_for(await b.user(conn, w.county, person_id=second, grants=[("CADRE", w.unit)]))
    me = ids.encode("Person", second)
    # the unit serves no community yet
    refused = await api.op(
        "RegisterWithCommunity", {"communityId": ids.encode("Community", w.community), "personId": me}, token=cadre
    )
    assert refused["data"]["registerWithCommunity"]["userErrors"][0]["code"] == "INVALID"
    await b.adoption(conn, w.unit, w.building)
    other = ids.encode("Community", w.other_community)
    elsewhere = await api.op("RegisterWithCommunity", {"communityId": other, "personId": me}, token=cadre)
    assert elsewhere["data"]["registerWithCommunity"]["userErrors"][0]["field"] == ["communityId"]
    await _register(api, cadre, w.community, person=second)


async def test_a_bad_community_id_is_bad_user_input(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    result = await api.op(
        "Registrations", {"communityId": ids.encode("Building", w.building)}, token=api.token_for(w.users["staff"])
    )
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def _unit_name(conn: asyncpg.Connection, unit: int) -> str:
    return str(await conn.fetchval("SELECT name FROM organisations WHERE id = $1", unit))


async def test_orders_go_only_to_party_members_confirmed_with_the_order_s_community(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    order = ids.encode("ServiceOrder", await b.service_order(conn, w))
    second = await b.cadre(conn, w.county, w.unit, "周干部")
    await b.adoption(conn, w.unit, w.compound)
    variables = {"orderId": order, "assigneeId": ids.encode("Person", second)}
    refused = (await api.op("DispatchOrder", variables, token=staff))["data"]["dispatchOrder"]
    assert refused["userErrors"] == [
        {
            "field": ["assigneeId"],
            "message": "The assignee has no confirmed registration (双报到) with the order's community",
            "code": "INVALID",
        }
    ]
    token = api.token_for(await b.user(conn, w.county, person_id=second, grants=[("CADRE", w.unit)]))
    pending = await _register(api, token, w.community, person=second)
    still = (await api.op("DispatchOrder", variables, token=staff))["data"]["dispatchOrder"]
    assert [e["code"] for e in still["userErrors"]] == ["INVALID"]
    await api.op("ConfirmRegistration", {"registrationId": pending}, token=staff)
    dispatched = (await api.op("DispatchOrder", variables, token=staff))["data"]["dispatchOrder"]
    assert dispatched["userErrors"] == [] and dispatched["order"]["status"] == "DISPATCHED"


async def test_orders_go_to_the_property_company_serving_the_compound(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    order = ids.encode("ServiceOrder", await b.service_order(conn, w))
    company = await b.organisation(conn, w.county, "PROPERTY_COMPANY", "佛坪县安居物业管理有限公司")
    elsewhere = await b.organisation(conn, w.county, "SERVICE_PROVIDER", "县城家政服务部")
    for org in (company, elsewhere):
        variables = {"orderId": order, "assigneeUnitId": ids.encode("Organisation", org)}
        refused = (await api.op("DispatchOrder", variables, token=staff))["data"]["dispatchOrder"]
        assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [(["assigneeUnitId"], "INVALID")]
    await conn.execute("UPDATE areas SET property_manager_id = $2 WHERE id = $1", w.compound, company)
    variables = {"orderId": order, "assigneeUnitId": ids.encode("Organisation", company)}
    dispatched = (await api.op("DispatchOrder", variables, token=staff))["data"]["dispatchOrder"]
    assert dispatched["userErrors"] == [] and dispatched["order"]["status"] == "DISPATCHED"
    # the company's staff (its members) accept it
    member = await b.person(conn, w.county, "物业李师傅")
    await b.post(conn, member, company, "维修工")
    worker = api.token_for(await b.user(conn, w.county, person_id=member))
    accepted = (await api.op("AcceptOrder", {"orderId": order}, token=worker))["data"]["acceptOrder"]
    assert accepted["userErrors"] == [] and accepted["order"]["status"] == "ACCEPTED"
