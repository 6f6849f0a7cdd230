"""Service orders through HTTP, with the contract's operations: the workflow, who may do
what, the refusals, visibility, overdue and escalated orders."""

from __future__ import annotations

import datetime
from typing import Any

import asyncpg
import pytest

from gongjian import clock
from resolvers import ids
from tests import builders
from tests.support import Api


class Orders:
    """The world and a client, with one helper per contract operation."""

    def __init__(self, api: Api, conn: asyncpg.Connection, w: builders.World) -> None:
        self.api = api
        self.conn = conn
        self.w = w

    def token(self, who: str) -> str:
        return self.api.token_for(self.w.users[who])

    async def mutate(self, op: str, who: str, **variables: Any) -> dict[str, Any]:
        result = await self.api.op(op, variables, token=self.token(who))
        assert "errors" not in result, result["errors"]
        payload: dict[str, Any] = next(iter(result["data"].values()))
        return payload

    async def place(self, who: str = "resident", **extra: Any) -> dict[str, Any]:
        variables = {
            "householdId": ids.encode("Household", self.w.household),
            "title": "水管漏水",
            "description": "厨房水管滴水",
            "category": "REPAIR",
            **extra,
        }
        return await self.mutate("PlaceOrder", who, **variables)

    async def placed(self, who: str = "resident", **extra: Any) -> str:
        payload = await self.place(who, **extra)
        assert payload["userErrors"] == []
        return str(payload["order"]["id"])

    async def dispatch(self, order: str, who: str = "staff", **extra: Any) -> dict[str, Any]:
        if "assigneeUnitId" not in extra and "assigneeId" not in extra:
            extra["assigneeId"] = ids.encode("Person", self.w.people["cadre"])
        return await self.mutate("DispatchOrder", who, orderId=order, **extra)

    async def dispatched(self, **extra: Any) -> str:
        order = await self.placed()
        assert (await self.dispatch(order, **extra))["userErrors"] == []
        return order

    async def accepted(self) -> str:
        order = await self.dispatched()
        assert (await self.mutate("AcceptOrder", "cadre", orderId=order))["userErrors"] == []
        return order

    async def completed(self) -> str:
        order = await self.accepted()
        done = await self.mutate("CompleteOrder", "cadre", orderId=order, resolution="换了水管")
        assert done["userErrors"] == []
        return order

    async def list(self, who: str, **variables: Any) -> dict[str, Any]:
        result = await self.api.op("ServiceOrders", variables, token=self.token(who))
        assert "errors" not in result, result["errors"]
        data: dict[str, Any] = result["data"]["serviceOrders"]
        return data

    async def count_rows(self) -> tuple[int, int]:
        orders = await self.conn.fetchval("SELECT count(*) FROM service_orders WHERE county_id = $1", self.w.county)
        events = await self.conn.fetchval("SELECT count(*) FROM order_events WHERE county_id = $1", self.w.county)
        return int(orders), int(events)


@pytest.fixture
async def o(api: Api, conn: asyncpg.Connection) -> Orders:
    w = await builders.world(conn)
    await builders.service_categories(conn)
    return Orders(api, conn, w)


def _errors(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def test_the_whole_workflow_with_its_timeline(o: Orders) -> None:
    placed = await o.place(idempotencyKey="k1")
    assert placed["userErrors"] == []
    order = placed["order"]
    assert order["status"] == "SUBMITTED" and order["category"] == "REPAIR" and order["title"] == "水管漏水"
    assert order["household"] == {"id": ids.encode("Household", o.w.household)}
    assert order["number"].startswith(f"GJ{o.w.county}-") and order["number"].endswith("-0001")
    oid = order["id"]

    dispatched = await o.dispatch(oid)
    assert dispatched["userErrors"] == []
    assert dispatched["order"]["status"] == "DISPATCHED"
    assert dispatched["order"]["assignee"] == {"id": ids.encode("Person", o.w.people["cadre"]), "name": "张干部"}
    assert dispatched["order"]["assigneeUnit"] is None
    due = datetime.datetime.fromisoformat(dispatched["order"]["dueAt"])
    hours = (due - clock.now()).total_seconds() / 3600
    assert 47 < hours <= 48  # REPAIR's due_hours

    assert (await o.mutate("AcceptOrder", "cadre", orderId=oid))["order"]["status"] == "ACCEPTED"
    done = await o.mutate("CompleteOrder", "cadre", orderId=oid, resolution="换了水管")
    assert done["order"]["status"] == "COMPLETED"
    rated = await o.mutate("RateOrder", "resident", orderId=oid, score=5, comment="很及时")
    assert rated["order"] == {"id": oid, "status": "CLOSED", "rating": 5}

    listed = await o.list("resident")
    assert listed["totalCount"] == 1
    node = listed["edges"][0]["node"]
    assert node["status"] == "CLOSED" and node["rating"] == 5 and node["overdue"] is False
    assert node["household"]["label"] == "1单元101"
    timeline = [(e["action"], e["actor"]["name"] if e["actor"] else None, e["note"]) for e in node["timeline"]]
    assert timeline == [
        ("PLACED", "赵居民", None),
        ("DISPATCHED", "王社工", None),
        ("ACCEPTED", "张干部", None),
        ("COMPLETED", "张干部", "换了水管"),
        ("RATED", "赵居民", "很及时"),
    ]
    times = [e["at"] for e in node["timeline"]]
    assert times == sorted(times)


async def test_dispatch_to_a_unit_whose_member_and_admin_may_act(o: Orders) -> None:
    unit = ids.encode("Organisation", o.w.unit)
    order = await o.placed()
    dispatched = await o.dispatch(order, assigneeUnitId=unit)
    assert dispatched["userErrors"] == []
    assert dispatched["order"]["assigneeUnit"]["id"] == unit and dispatched["order"]["assignee"] is None
    # the UNIT_ADMIN accepts; the cadre (a member of the unit) completes
    assert (await o.mutate("AcceptOrder", "unit", orderId=order))["order"]["status"] == "ACCEPTED"
    done = await o.mutate("CompleteOrder", "cadre", orderId=order, resolution="已处理")
    assert done["order"]["status"] == "COMPLETED"


async def test_reassigning_a_dispatched_order(o: Orders) -> None:
    order = await o.dispatched()
    again = await o.dispatch(order, assigneeUnitId=ids.encode("Organisation", o.w.unit))
    assert again["userErrors"] == []
    assert again["order"]["assignee"] is None and again["order"]["assigneeUnit"]["id"] == ids.encode(
        "Organisation", o.w.unit
    )


async def test_return_hands_the_order_back_with_the_reason(o: Orders) -> None:
    order = await o.accepted()
    returned = await o.mutate("ReturnOrder", "cadre", orderId=order, reason="不在本地")
    assert returned["order"]["status"] == "SUBMITTED"
    listed = await o.list("staff")
    node = listed["edges"][0]["node"]
    assert node["assignee"] is None and node["dueAt"] is None
    assert [(e["action"], e["note"]) for e in node["timeline"]][-1] == ("RETURNED", "不在本地")
    # the former assignee no longer sees it; it can be dispatched again
    assert (await o.list("cadre"))["totalCount"] == 0
    assert (await o.dispatch(order))["order"]["status"] == "DISPATCHED"


async def test_cancel_by_household_and_by_staff(o: Orders) -> None:
    first = await o.placed()
    cancelled = await o.mutate("CancelOrder", "resident", orderId=first, reason="已自行修好")
    assert cancelled["order"]["status"] == "CANCELLED"
    second = await o.dispatched()
    assert (await o.mutate("CancelOrder", "staff", orderId=second))["order"]["status"] == "CANCELLED"


@pytest.mark.parametrize(
    ("state", "op", "who", "extra"),
    [
        ("submitted", "RateOrder", "resident", {"score": 4}),
        ("dispatched", "CompleteOrder", "cadre", {"resolution": "x"}),
        ("dispatched", "RateOrder", "resident", {"score": 4}),
        ("accepted", "CancelOrder", "resident", {}),
        ("accepted", "DispatchOrder", "staff", {}),
        ("accepted", "AcceptOrder", "cadre", {}),
        ("completed", "CancelOrder", "staff", {}),
        ("completed", "ReturnOrder", "cadre", {"reason": "x"}),
        ("closed", "RateOrder", "resident", {"score": 3}),
        ("cancelled", "DispatchOrder", "staff", {}),
    ],
)
async def test_transitions_not_allowed_from_the_state(
    o: Orders, state: str, op: str, who: str, extra: dict[str, Any]
) -> None:
    if state in ("submitted", "cancelled"):
        order = await o.placed()
        if state == "cancelled":
            await o.mutate("CancelOrder", "resident", orderId=order)
    elif state == "dispatched":
        order = await o.dispatched()
    elif state == "accepted":
        order = await o.accepted()
    else:
        order = await o.completed()
        if state == "closed":
            await o.mutate("RateOrder", "resident", orderId=order, score=5)
    if op == "DispatchOrder":
        extra = {"assigneeId": ids.encode("Person", o.w.people["cadre"])}
    before = await o.count_rows()
    payload = await o.mutate(op, who, orderId=order, **extra)
    assert payload["order"] is None
    assert _errors(payload) == [(["orderId"], "INVALID_STATE")]
    assert await o.count_rows() == before


@pytest.mark.parametrize(
    ("op", "who", "extra"),
    [
        ("DispatchOrder", "resident", {}),
        ("DispatchOrder", "cadre", {}),
        ("AcceptOrder", "staff", {}),
        ("AcceptOrder", "resident", {}),
        ("ReturnOrder", "staff", {"reason": "x"}),
        ("CancelOrder", "cadre", {}),
    ],
)
async def test_parties_that_see_the_order_but_may_not_do_this(
    o: Orders, op: str, who: str, extra: dict[str, Any]
) -> None:
    order = await o.dispatched()
    if op == "DispatchOrder":
        extra = {"assigneeId": ids.encode("Person", o.w.people["cadre"])}
    before = await o.count_rows()
    payload = await o.mutate(op, who, orderId=order, **extra)
    assert _errors(payload) == [(["orderId"], "FORBIDDEN")]
    assert await o.count_rows() == before


async def test_rating_is_for_the_placing_household_only(o: Orders) -> None:
    order = await o.completed()
    assert _errors(await o.mutate("RateOrder", "cadre", orderId=order, score=5)) == [(["orderId"], "FORBIDDEN")]


@pytest.mark.parametrize("who", ["neighbour", "unit"])
async def test_outsiders_get_not_found(o: Orders, who: str) -> None:
    order = await o.dispatched()
    for op, extra in [("AcceptOrder", {}), ("CancelOrder", {}), ("ReturnOrder", {"reason": "x"})]:
        payload = await o.mutate(op, who, orderId=order, **extra)
        assert _errors(payload) == [(["orderId"], "NOT_FOUND")]
    assert _errors(await o.mutate("AcceptOrder", "cadre", orderId="bm9uc2Vuc2U")) == [(["orderId"], "NOT_FOUND")]


async def test_place_refusals_change_nothing(o: Orders) -> None:
    before = await o.count_rows()
    assert _errors(await o.place(category="ASTROLOGY")) == [(["category"], "INVALID")]
    assert _errors(await o.place(title="  ")) == [(["title"], "INVALID")]
    assert _errors(await o.place(title="长" * 201)) == [(["title"], "INVALID")]
    neighbour_household = ids.encode("Household", o.w.neighbour_household)
    assert _errors(await o.place(householdId=neighbour_household)) == [(["householdId"], "FORBIDDEN")]
    assert _errors(await o.place(householdId=ids.encode("Household", 10**12))) == [(["householdId"], "NOT_FOUND")]
    assert _errors(await o.place(householdId=ids.encode("Person", o.w.household))) == [(["householdId"], "NOT_FOUND")]
    assert await o.count_rows() == before


async def test_staff_places_on_behalf_of_a_household_in_scope(o: Orders) -> None:
    payload = await o.place("staff", householdId=ids.encode("Household", o.w.neighbour_household))
    assert payload["userErrors"] == [] and payload["order"]["status"] == "SUBMITTED"
    # a unit admin is not staff
    assert _errors(await o.place("unit")) == [(["householdId"], "FORBIDDEN")]


async def test_idempotency_key_returns_the_first_order(o: Orders) -> None:
    first = await o.place(idempotencyKey="retry-1")
    before = await o.count_rows()
    again = await o.place(idempotencyKey="retry-1", title="另一个标题")
    assert again["order"] == first["order"] and again["userErrors"] == []
    assert await o.count_rows() == before
    # the key is per user: staff using the same key places a new order
    other = await o.place("staff", idempotencyKey="retry-1")
    assert other["order"]["id"] != first["order"]["id"]


async def test_dispatch_refusals(o: Orders) -> None:
    order = await o.placed()
    cadre = ids.encode("Person", o.w.people["cadre"])
    unit = ids.encode("Organisation", o.w.unit)
    resident = ids.encode("Person", o.w.people["resident"])
    committee = await builders.organisation(o.conn, o.w.county, "RESIDENTS_COMMITTEE", area_id=o.w.community)
    past = (clock.now() - datetime.timedelta(hours=1)).isoformat()
    before = await o.count_rows()
    cases = [
        ({"assigneeId": cadre, "assigneeUnitId": unit}, ["assigneeId"]),
        ({"assigneeId": resident}, ["assigneeId"]),  # not a party member
        ({"assigneeId": ids.encode("Person", 10**12)}, ["assigneeId"]),
        ({"assigneeUnitId": ids.encode("Organisation", committee)}, ["assigneeUnitId"]),  # not a unit
        ({"assigneeId": cadre, "dueAt": past}, ["dueAt"]),
    ]
    for extra, field in cases:
        payload = await o.mutate("DispatchOrder", "staff", orderId=order, **extra)
        assert _errors(payload) == [(field, "INVALID")], extra
    payload = await o.mutate("DispatchOrder", "staff", orderId=order)
    assert _errors(payload) == [(["assigneeId"], "INVALID")]
    assert await o.count_rows() == before


async def test_dispatch_with_explicit_due_time(o: Orders) -> None:
    order = await o.placed()
    due = (clock.now() + datetime.timedelta(days=3)).replace(microsecond=0)
    payload = await o.dispatch(order, dueAt=due.isoformat())
    assert datetime.datetime.fromisoformat(payload["order"]["dueAt"]) == due


async def test_text_refusals_of_return_complete_and_rate(o: Orders) -> None:
    order = await o.accepted()
    assert _errors(await o.mutate("ReturnOrder", "cadre", orderId=order, reason=" ")) == [(["reason"], "INVALID")]
    assert _errors(await o.mutate("CompleteOrder", "cadre", orderId=order, resolution="")) == [
        (["resolution"], "INVALID")
    ]
    await o.mutate("CompleteOrder", "cadre", orderId=order, resolution="ok")
    before = await o.count_rows()
    for score in (0, 6, -1):
        assert _errors(await o.mutate("RateOrder", "resident", orderId=order, score=score)) == [(["score"], "INVALID")]
    assert await o.count_rows() == before


async def test_who_sees_which_orders(o: Orders) -> None:
    mine = await o.dispatched()
    theirs = await o.placed("neighbour", householdId=ids.encode("Household", o.w.neighbour_household))
    elsewhere_building = await builders.area(
        o.conn, "BUILDING", None, await builders.area(o.conn, "COMPOUND", None, o.w.other_community)
    )
    elsewhere = await builders.household(o.conn, elsewhere_building)
    other = await o.placed("admin", householdId=ids.encode("Household", elsewhere))

    def id_set(data: dict[str, Any]) -> set[str]:
        return {e["node"]["id"] for e in data["edges"]}

    assert id_set(await o.list("resident")) == {mine}
    assert id_set(await o.list("neighbour")) == {theirs}
    assert id_set(await o.list("cadre")) == {mine}
    assert id_set(await o.list("unit")) == set()
    assert id_set(await o.list("staff")) == {mine, theirs}
    assert id_set(await o.list("admin")) == {mine, theirs, other}
    assert id_set(await o.list("head")) == {mine}  # the building head lives in that household
    # the node field obeys the same rule
    query = "query($id: ID!) { node(id: $id) { ... on ServiceOrder { number } } }"
    assert (await o.api.ok(query, {"id": mine}, token=o.token("cadre")))["node"] is not None
    assert (await o.api.ok(query, {"id": mine}, token=o.token("neighbour")))["node"] is None
    assert (await o.api.ok(query, {"id": other}, token=o.token("staff")))["node"] is None
    # filters
    community = ids.encode("Community", o.w.community)
    assert id_set(await o.list("admin", communityId=community)) == {mine, theirs}
    assert id_set(await o.list("admin", status="SUBMITTED")) == {theirs, other}
    cadre = ids.encode("Person", o.w.people["cadre"])
    assert id_set(await o.list("admin", assigneeId=cadre)) == {mine}


async def test_paging_is_newest_first_with_stable_cursors(o: Orders) -> None:
    placed = [await o.placed() for _ in range(5)]
    page = await o.list("resident", first=2)
    assert page["totalCount"] == 5 and page["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["id"] for e in page["edges"]] == placed[::-1][:2]
    await o.placed()  # an insert does not move the next page
    rest = await o.list("resident", first=10, after=page["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in rest["edges"]] == placed[::-1][2:]
    assert rest["pageInfo"]["hasNextPage"] is False
    result = await o.api.op("ServiceOrders", {"first": 101}, token=o.token("resident"))
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_overdue_and_escalated(o: Orders) -> None:
    late = await o.dispatched()
    accepted_late = await o.accepted()
    fresh = await o.dispatched()
    pk = ids.decode_as
    # dispatched long ago: REPAIR has 4 accept hours and 48 due hours
    await o.conn.execute(
        "UPDATE service_orders SET dispatched_at = now() - interval '5 hours', due_at = now() - interval '1 hour' "
        "WHERE id = ANY($1::bigint[])",
        [pk(late, "ServiceOrder"), pk(accepted_late, "ServiceOrder")],
    )
    overdue = await o.list("staff", overdue=True)
    assert {e["node"]["id"] for e in overdue["edges"]} == {late, accepted_late}
    assert all(e["node"]["overdue"] for e in overdue["edges"])
    not_overdue = await o.list("staff", overdue=False)
    assert {e["node"]["id"] for e in not_overdue["edges"]} == {fresh}
    query = """query($e: Boolean) { serviceOrders(filter: {escalated: $e}) { edges { node { id escalated } } } }"""
    escalated = await o.api.ok(query, {"e": True}, token=o.token("staff"))
    # accepted orders are no longer waiting for acceptance
    assert [e["node"] for e in escalated["serviceOrders"]["edges"]] == [{"id": late, "escalated": True}]


async def test_service_categories(o: Orders) -> None:
    data = await o.api.ok("{ serviceCategories { code name dueHours acceptHours } }", token=o.token("admin"))
    assert {"code": "REPAIR", "name": "维修", "dueHours": 48, "acceptHours": 4} in data["serviceCategories"]


async def test_orders_need_a_token(o: Orders) -> None:
    result = await o.api.op("ServiceOrders", {})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    result = await o.api.op(
        "PlaceOrder", {"householdId": ids.encode("Household", o.w.household), "title": "x", "category": "REPAIR"}
    )
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def _statements(caplog: pytest.LogCaptureFixture) -> int:
    lines = [r for r in caplog.records if r.name == "gongjian.graphql" and r.getMessage() == "operation"]
    return int(lines[-1].fields["sql_statements"])  # type: ignore[attr-defined]


async def test_listing_does_not_grow_statements_with_rows(o: Orders, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="gongjian.graphql")
    for _ in range(2):
        await o.dispatched()
    await o.list("staff", first=2)
    small = _statements(caplog)
    for _ in range(6):
        await o.dispatched()
    await o.list("staff", first=8)
    assert _statements(caplog) == small
