"""Who may act is decided by SQL (migration 0023_may_act.sql): each mutation runs the rule
its SDL names, in the statement that reads (and locks) its target. Shown three ways: with
the rule replaced by one that refuses everybody, in the same database, every mutation of
its family refuses (and acts again once the rule is back); a grant taken away counts at the
next request; and concurrent dual-list mutations, which lock what they check in one order,
never deadlock and leave the ledger whole."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from resolvers import ids, rules
from tests import builders as b
from tests.support import Api, own_connection

Vars = Callable[[asyncpg.Connection, b.World], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Case:
    rule: rules.Rule
    mutation: str
    input_type: str
    user: str
    given: Vars


def _g(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


async def _resource(conn: asyncpg.Connection, w: b.World) -> int:
    return await b.resource(conn, w.unit, [w.community])


async def _need(conn: asyncpg.Connection, w: b.World) -> int:
    return await b.need(conn, w.community)


async def _allocate(conn: asyncpg.Connection, w: b.World) -> dict[str, Any]:
    return {
        "resourceId": _g("Resource", await _resource(conn, w)),
        "needId": _g("Need", await _need(conn, w)),
        "quantity": 1,
    }


async def _exchange(conn: asyncpg.Connection, w: b.World) -> dict[str, Any]:
    return {"exchangeId": _g("Exchange", await b.exchange(conn, await _resource(conn, w), await _need(conn, w)))}


async def _visit(conn: asyncpg.Connection, w: b.World) -> dict[str, Any]:
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    return {"pairingId": _g("Pairing", pairing), "kind": "HOME_VISIT", "occurredOn": "2024-06-01"}


async def _register(conn: asyncpg.Connection, w: b.World) -> dict[str, Any]:
    branch = await b.organisation(conn, w.county, "PARTY_BRANCH", parent=w.unit)
    return {"communityId": _g("Community", w.community), "organisationId": _g("Organisation", branch)}


async def _place_order(conn: asyncpg.Connection, w: b.World) -> dict[str, Any]:
    await b.service_categories(conn)
    return {"householdId": _g("Household", w.household), "title": "水管漏水", "category": "REPAIR"}


async def _create_user(conn: asyncpg.Connection, w: b.World) -> dict[str, Any]:
    newcomer = await b.person(conn, w.county, "孙新住户", household=w.neighbour_household)
    return {
        "username": f"sun.xin{w.county}",
        "personId": _g("Person", newcomer),
        "role": "RESIDENT",
        "scopeId": _g("Building", w.other_building),
    }


def _grant(w: b.World) -> dict[str, Any]:
    return {"userId": _g("User", w.users["neighbour"]), "role": "RESIDENT", "scopeId": _g("Community", w.community)}


def _revoke(w: b.World) -> dict[str, Any]:
    return {"userId": _g("User", w.users["neighbour"]), "role": "RESIDENT", "scopeId": _g("Building", w.other_building)}


async def _mark_read(conn: asyncpg.Connection, w: b.World) -> dict[str, Any]:
    return {"ids": [_g("Notification", await b.notification(conn, w.users["head"]))]}


async def _wrap(field: str, type_name: str, made: Awaitable[int]) -> dict[str, Any]:
    return {field: _g(type_name, await made)}


def _fixed(make: Callable[[b.World], dict[str, Any]]) -> Vars:
    async def given(conn: asyncpg.Connection, w: b.World) -> dict[str, Any]:
        return make(w)

    return given


CASES = [
    Case(
        rules.STAFF_OF_AREA,
        "assignResponsible",
        "AssignResponsibleInput",
        "staff",
        _fixed(lambda w: {"areaId": _g("Building", w.building), "personId": _g("Person", w.people["resident"])}),
    ),
    Case(
        rules.STAFF_OF_AREA,
        "publishNeed",
        "PublishNeedInput",
        "staff",
        _fixed(
            lambda w: {"areaId": _g("Community", w.community), "title": "车位", "category": "PARKING", "quantity": 2}
        ),
    ),
    Case(
        rules.STAFF_OF_AREA,
        "closeNeed",
        "CloseNeedInput",
        "staff",
        lambda conn, w: _wrap("needId", "Need", _need(conn, w)),
    ),
    Case(rules.STAFF_OF_AREA, "allocate", "AllocateInput", "staff", _allocate),
    Case(
        rules.STAFF_OF_AREA,
        "reportFinding",
        "ReportFindingInput",
        "staff",
        _fixed(
            lambda w: {
                "compoundId": _g("Compound", w.compound),
                "category": "DISORDERLY_PARKING",
                "description": "乱停车",
                "deadline": "2999-12-31",
            }
        ),
    ),
    Case(
        rules.STAFF_OF_AREA,
        "planRenovation",
        "PlanRenovationInput",
        "staff",
        _fixed(lambda w: {"compoundId": _g("Compound", w.compound), "title": "改造", "year": 2027}),
    ),
    Case(
        rules.STAFF_OF_AREA,
        "startRenovation",
        "RenovationInput",
        "staff",
        lambda conn, w: _wrap("renovationId", "Renovation", b.renovation(conn, w.compound)),
    ),
    Case(
        rules.STAFF_OF_AREA,
        "scheduleMeeting",
        "ScheduleMeetingInput",
        "staff",
        _fixed(
            lambda w: {
                "kind": "RESIDENTS_REVIEW",
                "communityId": _g("Community", w.community),
                "title": "议事",
                "startsAt": "2030-01-01T10:00:00+08:00",
            }
        ),
    ),
    Case(
        rules.STAFF_OF_AREA,
        "pair",
        "PairInput",
        "staff",
        _fixed(
            lambda w: {
                "cadreId": _g("Person", w.people["cadre"]),
                "householdId": _g("Household", w.neighbour_household),
            }
        ),
    ),
    Case(
        rules.ADMINISTERS_ORGANISATION,
        "publishResource",
        "PublishResourceInput",
        "unit",
        _fixed(
            lambda w: {
                "providerId": _g("Organisation", w.unit),
                "title": "车位",
                "category": "PARKING",
                "quantity": 3,
                "unit": "个",
                "communityIds": [_g("Community", w.community)],
            }
        ),
    ),
    Case(
        rules.ADMINISTERS_ORGANISATION,
        "withdrawResource",
        "WithdrawResourceInput",
        "unit",
        lambda conn, w: _wrap("resourceId", "Resource", _resource(conn, w)),
    ),
    Case(
        rules.ADMINISTERS_ORGANISATION,
        "createApiToken",
        "CreateApiTokenInput",
        "unit",
        _fixed(lambda w: {"organisationId": _g("Organisation", w.unit), "name": "对接"}),
    ),
    Case(rules.EXCHANGE_PARTY, "completeExchange", "CompleteExchangeInput", "staff", _exchange),
    Case(rules.EXCHANGE_PARTY, "cancelExchange", "CancelExchangeInput", "unit", _exchange),
    Case(
        rules.ADOPTION_PARTIES,
        "adopt",
        "AdoptInput",
        "unit",
        _fixed(lambda w: {"unitId": _g("Organisation", w.unit), "areaId": _g("Compound", w.compound)}),
    ),
    Case(
        rules.ADOPTION_PARTIES,
        "endAdoption",
        "EndAdoptionInput",
        "staff",
        lambda conn, w: _wrap("adoptionId", "Adoption", b.adoption(conn, w.unit, w.compound)),
    ),
    Case(
        rules.ACTIVITY_CREATOR,
        "createActivity",
        "CreateActivityInput",
        "unit",
        _fixed(
            lambda w: {
                "hostIds": [_g("Organisation", w.unit)],
                "communityId": _g("Community", w.community),
                "title": "爱心午餐",
                "kind": "CHARITY_MEAL",
                "startsAt": "2030-01-01T10:00:00+08:00",
                "endsAt": "2030-01-01T12:00:00+08:00",
            }
        ),
    ),
    Case(rules.HOUSEHOLD_MEMBER, "placeOrder", "PlaceOrderInput", "head", _place_order),
    Case(rules.PAIRED_CADRE, "recordVisit", "RecordVisitInput", "cadre", _visit),
    Case(rules.UNIT_ADMIN_OF_UNIT, "registerWithCommunity", "RegisterWithCommunityInput", "unit", _register),
    Case(rules.ACCOUNT_MANAGER, "createUser", "CreateUserInput", "staff", _create_user),
    Case(rules.CREATES_ACCOUNT, "createUser", "CreateUserInput", "staff", _create_user),
    Case(rules.GRANTS_ROLE, "createUser", "CreateUserInput", "staff", _create_user),
    Case(rules.MANAGES_ACCOUNTS, "grantRole", "RoleInput", "staff", _fixed(_grant)),
    Case(rules.GRANTS_ROLE, "grantRole", "RoleInput", "staff", _fixed(_grant)),
    Case(rules.MANAGES_ACCOUNTS, "revokeRole", "RoleInput", "staff", _fixed(_revoke)),
    Case(rules.GRANTS_ROLE, "revokeRole", "RoleInput", "staff", _fixed(_revoke)),
    Case(
        rules.MANAGES_ACCOUNTS,
        "disableUser",
        "DisableUserInput",
        "staff",
        _fixed(lambda w: {"userId": _g("User", w.users["resident"])}),
    ),
    Case(rules.NOTIFICATION_ACCESS, "markNotificationsRead", "MarkNotificationsReadInput", "head", _mark_read),
]


async def _act(api: Api, case: Case, token: str, given: dict[str, Any]) -> list[str]:
    document = f"mutation($input: {case.input_type}!) {{ {case.mutation}(input: $input) {{ userErrors {{ code }} }} }}"
    data = await api.ok(document, {"input": given}, token=token)
    return [e["code"] for e in data[case.mutation]["userErrors"]]


async def _refusing(conn: asyncpg.Connection, name: str) -> None:
    """Replace the SQL rule `name` by one that refuses everybody (in the test's transaction)."""
    arguments = await conn.fetch(
        "SELECT pg_get_function_arguments(oid) AS a FROM pg_proc "
        "WHERE proname = $1 AND pronamespace = 'public'::regnamespace",
        name,
    )
    assert len(arguments) == 1, f"one SQL function {name}"
    await conn.execute(
        f"CREATE OR REPLACE FUNCTION {name}({arguments[0]['a']}) RETURNS boolean LANGUAGE sql STABLE AS 'SELECT false'"
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.mutation}-{c.rule.name}")
async def test_the_mutation_runs_the_sql_rule_its_sdl_names(api: Api, conn: asyncpg.Connection, case: Case) -> None:
    assert case.rule.sql, "the rule is a SQL function"
    w = await b.world(conn)
    given = await case.given(conn, w)
    token = api.token_for(w.users[case.user])
    refused = conn.transaction()
    await refused.start()
    await _refusing(conn, case.rule.name)
    assert await _act(api, case, token, given) == ["FORBIDDEN"]
    await refused.rollback()
    assert await _act(api, case, token, given) == []


async def test_volunteer_hours_are_read_under_the_sql_rule(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    query = "query($p: ID) { volunteerHours(personId: $p) { activities } }"
    admin = api.token_for(w.users["admin"])
    person = {"p": _g("Person", w.people["resident"])}
    assert (await api.ok(query, person, token=admin))["volunteerHours"] == {"activities": 0}
    await _refusing(conn, rules.VOLUNTEER_HOURS_READER.name)
    assert (await api.ok(query, person, token=admin))["volunteerHours"] is None


async def test_users_is_listed_under_the_sql_rule(api: Api, conn: asyncpg.Connection) -> None:
    """`users` refuses whoever `account_manager` refuses, from the statement that reads the page."""
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    query = "{ users { edges { node { id } } } }"
    assert len((await api.ok(query, token=staff))["users"]["edges"]) == 3
    refused = conn.transaction()
    await refused.start()
    await _refusing(conn, rules.ACCOUNT_MANAGER.name)
    assert (await api.post(query, token=staff))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await refused.rollback()
    assert len((await api.ok(query, token=staff))["users"]["edges"]) == 3


async def test_the_audit_log_is_read_under_the_sql_rule(api: Api, conn: asyncpg.Connection) -> None:
    """`auditLog` refuses whoever `audit_reader` refuses (no role check in Python): a
    COUNTY_ADMIN reads it, and is FORBIDDEN while the rule says no; staff never read it."""
    w = await b.world(conn)
    admin, staff = api.token_for(w.users["admin"]), api.token_for(w.users["staff"])
    query = "{ auditLog { totalCount } }"
    assert (await api.post(query, token=staff))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert isinstance((await api.ok(query, token=admin))["auditLog"]["totalCount"], int)
    refused = conn.transaction()
    await refused.start()
    await _refusing(conn, rules.AUDIT_READER.name)
    assert (await api.post(query, token=admin))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await refused.rollback()
    assert "auditLog" in await api.ok(query, token=admin)


async def test_a_scope_taken_away_counts_at_the_next_request(api: Api, conn: asyncpg.Connection) -> None:
    """The same tokens, the same server: once the grant is gone, the rule says no."""
    w = await b.world(conn)
    staff, unit = api.token_for(w.users["staff"]), api.token_for(w.users["unit"])
    by_case = {c.mutation: c for c in CASES}
    need = {"areaId": _g("Community", w.community), "title": "车位", "category": "PARKING", "quantity": 2}
    building = {"areaId": _g("Building", w.building), "personId": _g("Person", w.people["resident"])}
    adoption = {"unitId": _g("Organisation", w.unit), "areaId": _g("Compound", w.compound)}
    assert await _act(api, by_case["publishNeed"], staff, need) == []
    assert await _act(api, by_case["assignResponsible"], staff, building) == []
    await conn.execute("DELETE FROM role_grants WHERE user_id = $1", w.users["staff"])
    assert await _act(api, by_case["publishNeed"], staff, need) == ["FORBIDDEN"]
    assert await _act(api, by_case["assignResponsible"], staff, building) == ["FORBIDDEN"]
    await conn.execute(
        "INSERT INTO role_grants (county_id, user_id, role, area_id) VALUES ($1, $2, 'COMMUNITY_STAFF', $3)",
        w.county,
        w.users["staff"],
        w.other_community,
    )
    assert await _act(api, by_case["publishNeed"], staff, need) == ["FORBIDDEN"]  # staff, but elsewhere
    await conn.execute("DELETE FROM role_grants WHERE user_id = $1", w.users["unit"])
    assert await _act(api, by_case["adopt"], unit, adoption) == ["FORBIDDEN"]


# --- concurrency: the dual list locks what it checks, resource before need -----------------


ALLOCATE = """
mutation($r: ID!, $n: ID!) { allocate(input: {resourceId: $r, needId: $n, quantity: 1}) {
  exchange { id } userErrors { code } } }
"""
WITHDRAW = """
mutation($r: ID!) { withdrawResource(input: {resourceId: $r}) { resource { remaining } userErrors { code } } }
"""
CLOSE = "mutation($n: ID!) { closeNeed(input: {needId: $n}) { need { fulfilled } userErrors { code } } }"
CANCEL = "mutation($e: ID!) { cancelExchange(input: {exchangeId: $e}) { exchange { id } userErrors { code } } }"


async def test_withdrawing_and_closing_while_allocating_and_cancelling(committed_db: dict[str, Any]) -> None:
    """Allocations, cancellations, a withdrawal and a closing, all at once: each mutation
    locks the rows it checks (allocation: resource, then need; cancellation: exchange,
    resource, need; withdrawal: the resource; closing: the need), so none deadlocks, and what
    the withdrawal and the closing reported stays true: no allocation takes from the
    resource once it is withdrawn, none adds to the need once it is closed."""
    api: Api = committed_db["api"]
    async with own_connection(committed_db) as conn:
        w = await b.world(conn)
        resources = [await b.resource(conn, w.unit, [w.community], quantity=40) for _ in range(2)]
        needs = [await b.need(conn, w.community, quantity=40) for _ in range(2)]
        # only the second resource and need have exchanges to cancel
        settled = [await b.exchange(conn, resources[1], needs[1]) for _ in range(8)]
    staff, unit = api.token_for(w.users["staff"]), api.token_for(w.users["unit"])
    calls: list[tuple[str, dict[str, Any], str]] = [
        (ALLOCATE, {"r": _g("Resource", resources[i % 2]), "n": _g("Need", needs[i // 2 % 2])}, staff)
        for i in range(24)
    ]
    for i, e in enumerate(settled):
        calls.insert(3 * i + 1, (CANCEL, {"e": _g("Exchange", e)}, staff))
    calls.insert(9, (WITHDRAW, {"r": _g("Resource", resources[0])}, unit))
    calls.insert(14, (CLOSE, {"n": _g("Need", needs[0])}, staff))
    results = await asyncio.gather(*(api.post(q, v, token=t) for q, v, t in calls))
    for result in results:
        assert "errors" not in result, result  # a deadlock would surface here
    data: dict[str, list[dict[str, Any]]] = {}
    for (query, _, _), result in zip(calls, results, strict=True):
        data.setdefault(query, []).append(result["data"])
    withdrawn = data[WITHDRAW][0]["withdrawResource"]
    closed = data[CLOSE][0]["closeNeed"]
    assert withdrawn["userErrors"] == [] and closed["userErrors"] == []
    assert {e["code"] for d in data[ALLOCATE] for e in d["allocate"]["userErrors"]} <= {"INVALID_STATE"}
    assert all(d["cancelExchange"]["userErrors"] == [] for d in data[CANCEL])
    async with own_connection(committed_db) as conn:
        remaining = await conn.fetchval("SELECT remaining FROM resources WHERE id = $1", resources[0])
        assert remaining == withdrawn["resource"]["remaining"]
        fulfilled = await conn.fetchval("SELECT fulfilled FROM needs WHERE id = $1", needs[0])
        assert fulfilled == closed["need"]["fulfilled"]
        bad = await conn.fetch(
            """
            SELECT r.id FROM resources r
            WHERE r.remaining < 0 OR r.quantity - r.remaining <> (
                SELECT coalesce(sum(e.quantity), 0) FROM exchanges e
                WHERE e.resource_id = r.id AND e.status <> 'CANCELLED')
            UNION ALL
            SELECT n.id FROM needs n
            WHERE n.fulfilled > n.quantity OR n.fulfilled <> (
                SELECT coalesce(sum(e.quantity), 0) FROM exchanges e
                WHERE e.need_id = n.id AND e.status <> 'CANCELLED')
            """
        )
        assert bad == []
