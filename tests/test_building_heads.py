"""Building heads (楼栋长) at work: the orders of their building, ordering on a resident's
behalf, and the reports of their building."""

from __future__ import annotations

import asyncpg

from resolvers import ids
from tests import builders as b
from tests.support import Api


async def test_a_head_reads_the_orders_of_their_building_and_orders_for_its_residents(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    elderly = await b.household(conn, w.building, "1单元302")
    other_building = await b.service_order(conn, w, household=w.neighbour_household, placed_by="neighbour")
    head = api.token_for(w.users["head"])
    placed = await api.op(
        "PlaceOrder",
        {"householdId": ids.encode("Household", elderly), "title": "代老人报修：水管漏水", "category": "REPAIR"},
        token=head,
    )
    payload = placed["data"]["placeOrder"]
    assert payload["userErrors"] == [] and payload["order"]["household"]["id"] == ids.encode("Household", elderly)
    refused = await api.op(
        "PlaceOrder",
        {"householdId": ids.encode("Household", w.neighbour_household), "title": "代报修", "category": "REPAIR"},
        token=head,
    )
    assert [e["code"] for e in refused["data"]["placeOrder"]["userErrors"]] == ["FORBIDDEN"]
    listed = await api.op("ServiceOrders", {}, token=head)
    assert [e["node"]["id"] for e in listed["data"]["serviceOrders"]["edges"]] == [payload["order"]["id"]]
    # the other building's order stays hidden from this head, visible to its own head
    other_head = await b.person(conn, w.county, "孙楼长", household=w.neighbour_household)
    await b.responsible(conn, w.other_building, other_head)
    their_head = await b.user(conn, w.county, person_id=other_head, grants=[("BUILDING_HEAD", w.other_building)])
    theirs = await api.op("ServiceOrders", {}, token=api.token_for(their_head))
    assert [e["node"]["id"] for e in theirs["data"]["serviceOrders"]["edges"]] == [
        ids.encode("ServiceOrder", other_building)
    ]
    # reading is all: a head does not dispatch
    dispatched = await api.op(
        "DispatchOrder",
        {"orderId": payload["order"]["id"], "assigneeId": ids.encode("Person", w.people["cadre"])},
        token=head,
    )
    assert [e["code"] for e in dispatched["data"]["dispatchOrder"]["userErrors"]] == ["FORBIDDEN"]


async def test_a_head_reads_the_reports_of_their_building_only(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    head = api.token_for(w.users["head"])
    building = ids.encode("Building", w.building)
    coverage = await api.op("Coverage", {"areaId": building}, token=head)
    assert coverage["data"]["coverage"]["households"] == 1
    due = await api.op("DueHouseholds", {"areaId": building, "asOf": "2025-03-15", "kind": "HOME_VISIT"}, token=head)
    assert [e["node"]["label"] for e in due["data"]["compliance"]["dueHouseholds"]["edges"]] == ["1单元101"]
    compliance = await api.op("Compliance", {"areaId": building, "asOf": "2025-03-15"}, token=head)
    assert compliance["data"]["compliance"]["pairings"] == 1
    for area in (ids.encode("Building", w.other_building), ids.encode("Compound", w.compound)):
        refused = await api.op("Coverage", {"areaId": area}, token=head)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


CONTACT = "query($id: ID!) { node(id: $id) { ... on ServiceOrder { status contact { name phone } } } }"


async def test_the_assignee_reaches_the_ordering_person_while_the_order_is_theirs(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    cadre = api.token_for(w.users["cadre"])
    order = ids.encode("ServiceOrder", await b.service_order(conn, w))
    resident = {"name": "赵居民", "phone": "13800000004"}
    assert (await api.ok(CONTACT, {"id": order}, token=staff))["node"]["contact"] == resident
    assert (await api.ok(CONTACT, {"id": order}, token=cadre))["node"] is None  # not theirs yet
    await api.op(
        "DispatchOrder", {"orderId": order, "assigneeId": ids.encode("Person", w.people["cadre"])}, token=staff
    )
    assert (await api.ok(CONTACT, {"id": order}, token=cadre))["node"]["contact"] == resident
    audited = await conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'read.personalData' AND user_id = $1 "
        "AND target_id = $2 AND detail->>'reason' = 'ASSIGNEE' AND detail->>'field' = 'contact'",
        w.users["cadre"],
        w.household,
    )
    assert audited == 1
    await api.op("AcceptOrder", {"orderId": order}, token=cadre)
    assert (await api.ok(CONTACT, {"id": order}, token=cadre))["node"]["contact"] == resident
    await api.op("CompleteOrder", {"orderId": order, "resolution": "已修好"}, token=cadre)
    done = (await api.ok(CONTACT, {"id": order}, token=cadre))["node"]
    assert done["status"] == "COMPLETED" and done["contact"] is None
    # the unit's admin, for an order dispatched to the unit
    to_unit = ids.encode("ServiceOrder", await b.service_order(conn, w, title="楼道灯坏了"))
    await api.op(
        "DispatchOrder", {"orderId": to_unit, "assigneeUnitId": ids.encode("Organisation", w.unit)}, token=staff
    )
    unit = await api.ok(CONTACT, {"id": to_unit}, token=api.token_for(w.users["unit"]))
    assert unit["node"]["contact"] == resident
