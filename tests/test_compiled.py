"""The compiled read path (issue 13) answers exactly as the ordinary path does.

Two apps on the test's connection, one with `compiled_reads` off: every request is sent to
both, each in a savepoint rolled back afterwards, and the JSON (data and errors) must be
the same. The operation log line says which path ran."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.pool import SingleConnectionDatabase
from gongjian import trusted_documents
from gongjian.app import create_app
from gongjian.compiled_http import CompiledHttp
from gongjian.config import Settings
from resolvers import pagination
from resolvers.compiled import run, sql
from resolvers.compiled.declarations import SOURCES
from schema.root import build
from tests import builders as b
from tests.conftest import TEST_SECRET
from tests.support import Api, contract_operations
from tests.test_authorization_matrix import ACCOUNTS, ROWS, SUBSCRIPTIONS, UPLOADS, Scene, build_scene, gid, tokens_for


@dataclasses.dataclass
class Both:
    compiled: Api
    ordinary: Api
    conn: asyncpg.Connection
    caplog: pytest.LogCaptureFixture
    db: SingleConnectionDatabase
    door: CompiledHttp  # the compiled app's own way through HTTP (gongjian/compiled_http.py)

    async def answer(
        self, api: Api, query: str, variables: dict[str, Any], token: str | None
    ) -> tuple[Any, tuple[str, int], set[tuple[Any, ...]]]:
        """The response, the path that ran and the personal-data reads audited (household,
        field, reason: the ordinary path may write one twice, from two DataLoader batches).
        The test's own statements take the apps' lock: a statement of a field that
        graphql-core cancelled may still run on the connection after the response."""
        savepoint = self.conn.transaction()
        async with self.db.lock:
            await savepoint.start()
        try:
            async with self.db.lock:
                before = await self.conn.fetchval("SELECT coalesce(max(id), 0) FROM audit_log")
            self.caplog.clear()
            result = await api.post(query, variables, token=token)
            lines = [r for r in self.caplog.records if r.name == "gongjian.graphql" and r.getMessage() == "operation"]
            fields = lines[-1].fields if lines else {}  # type: ignore[attr-defined]
            path = (str(fields.get("path")), int(fields.get("sql_statements", -1)))
            async with self.db.lock:
                rows = await self.conn.fetch(
                    "SELECT target_id, detail, user_id, county_id FROM audit_log "
                    "WHERE id > $1 AND action = 'read.personalData'",
                    before,
                )
            audited = {
                (r["target_id"], r["detail"]["field"], r["detail"]["reason"], r["user_id"], r["county_id"])
                for r in rows
            }
            return result, path, audited
        finally:
            async with self.db.lock:
                await savepoint.rollback()

    async def same(self, query: str, variables: dict[str, Any], token: str | None) -> str:
        """The path the compiled app took; fails when the two answers differ."""
        compiled, path, audited = await self.answer(self.compiled, query, variables, token)
        ordinary, ordinary_path, ordinary_audited = await self.answer(self.ordinary, query, variables, token)
        assert ordinary_path[0] == "resolvers"
        assert compiled == ordinary, (query, variables, token)
        if path[0] == "compiled":
            assert audited == ordinary_audited, "the same personal-data reads are audited"
            assert path[1] == 1 + bool(audited), "a compiled operation is one statement, and one for its audit rows"
        return path[0]


@pytest.fixture
async def both(conn: asyncpg.Connection, settings: Settings, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Both]:
    caplog.set_level(logging.INFO, logger="gongjian.graphql")
    db = SingleConnectionDatabase(conn)
    compiled_app = create_app(settings, db=db)
    ordinary_app = create_app(dataclasses.replace(settings, compiled_reads=False), db=db)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=compiled_app), base_url="http://test") as c1,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=ordinary_app), base_url="http://test") as c2,
    ):
        yield Both(
            Api(client=c1, secret=TEST_SECRET),
            Api(client=c2, secret=TEST_SECRET),
            conn,
            caplog,
            db,
            compiled_app.state.compiled_http,
        )


BUILDING_HOUSEHOLDS = contract_operations()["BuildingHouseholds"]


async def test_building_households_is_one_statement_and_the_same_for_every_account(both: Both) -> None:
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    for account in ACCOUNTS:
        for variables in (
            {"id": gid("Building", scene.w.building)},
            {"id": gid("Building", scene.w.building), "first": 1},
            {"id": gid("Building", scene.far.building)},
            {"id": gid("Compound", scene.w.building)},
        ):
            path = await both.same(BUILDING_HOUSEHOLDS, variables, tokens[account])
            expected = "resolvers" if account == "anonymous" else "compiled"
            assert path == expected, (account, variables)


VIEWER_IN_FULL = """
query Me($first: Int) {
  viewer {
    __typename id username disabled lastLoginAt
    person { id name phone household { id label residents { id name phone } } }
    roles { role scope { __typename id name } }
    also: roles { role }
  }
  orders: serviceOrders(first: $first) { totalCount }
}
"""


async def test_the_viewer_is_its_own_account_on_both_paths(both: Both) -> None:
    """`viewer` is compiled for a signed-in user: the account's row as node(id) reads a user,
    with its last sign-in (which the ordinary path reads when the user signs in) and its
    household's residents masked and audited alike. An API token's viewer, whose grants the
    token makes up, is the ordinary path's; so is anyone's when the session no longer holds."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    resident = scene.w.users["resident"]
    await both.conn.execute("UPDATE users SET last_login_at = '2026-11-30T08:15:00.5+08' WHERE id = $1", resident)
    for account in ACCOUNTS:
        expected = "resolvers" if account in ("anonymous", "apitoken") else "compiled"
        path = await both.same(VIEWER_IN_FULL, {"first": 5}, tokens[account])
        assert path == expected, account
    data = (await both.compiled.post(VIEWER_IN_FULL, {"first": 5}, token=tokens["resident"]))["data"]
    assert data["viewer"]["lastLoginAt"] == "2026-11-30T00:15:00.500000+00:00"
    assert (await both.compiled.post(VIEWER_IN_FULL, {}, token=tokens["apitoken"]))["data"]["viewer"]["roles"]
    # a password change ends the resident's sessions: no viewer on either path
    await both.conn.execute("UPDATE users SET token_generation = token_generation + 1 WHERE id = $1", resident)
    assert await both.same(VIEWER_IN_FULL, {}, tokens["resident"]) == "resolvers"


HOUSEHOLD_PAIRINGS = """
query($id: ID!, $pairing: ID!) {
  node(id: $id) { ... on Household { id pairings { __typename id since until cadre { id name phone } unit { id name }
    household { id label } } } }
  pairing: node(id: $pairing) { ... on Pairing { id since until household { id } } }
}
"""


async def test_a_household_s_pairings_are_the_same_on_both_paths(both: Both) -> None:
    """Household.pairings, declared once (schema/pairings.py) and read from that declaration
    on both paths: the active pairings the rule `pairing_access` shows (an ended one left
    out), each with its cadre (phone masked), the cadre's first unit and its household;
    node(id) of a pairing, ended or not, by the same rule."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    ended = await b.pairing(both.conn, w.people["head"], w.household, since="2023-03-01")
    await both.conn.execute("UPDATE pairings SET until = '2023-12-31' WHERE id = $1", ended)
    for pairing in (scene.objects["Pairing"], ended):
        variables = {"id": gid("Household", w.household), "pairing": gid("Pairing", pairing)}
        for account in ACCOUNTS:
            expected = "resolvers" if account == "anonymous" else "compiled"
            assert await both.same(HOUSEHOLD_PAIRINGS, variables, tokens[account]) == expected, account
    data = (await both.compiled.post(HOUSEHOLD_PAIRINGS, variables, token=tokens["admin"]))["data"]
    assert [p["id"] for p in data["node"]["pairings"]] == [gid("Pairing", scene.objects["Pairing"])]
    assert data["pairing"]["until"] == "2023-12-31"


def test_a_place_s_reason_is_handed_to_its_rows() -> None:
    """A building's households read the household rule given the building's office, and a
    household's residents the person rule given the household's reason (`Relation.hands`):
    the statement asks neither for the place again, row by row."""
    statement, _ = run.compile_operation(
        build()._schema,
        parse(BUILDING_HOUSEHOLDS),
        BUILDING_HOUSEHOLDS,
        "BuildingHouseholds",
        {"id": gid("Building", 1)},
    )
    assert "(building_office_of(x0, vw._v)) AS _r_office" in statement
    assert "(household_reason_of((k2._row), vw._v, r0._r_office)) AS _r_residents" in statement
    assert "(person_reason_of(x3, vw._v, r2._r_residents)) AS _r_phone" in statement
    assert "household_reason(" not in statement


async def test_ids_and_cursors_are_written_as_the_ordinary_path_writes_them(conn: asyncpg.Connection) -> None:
    """The statements write global ids and cursors without `translate` (base64 of their text
    has neither '+' nor '/': `base64url_of_key`): the same text as resolvers/ids.py and
    resolvers/pagination.py, for every declared type and ids and times of every length."""
    numbers = [0, 1, 9, 62, 63, 99, 12345, 2**31, 2**53 + 1, 2**63 - 1]
    numbers += [int("7" * k) for k in range(1, 19)] + [int("9" * k) for k in range(1, 19)]
    times = [
        datetime.datetime(2024, 2, 29, 23, 59, 59, tzinfo=datetime.UTC),
        datetime.datetime(1, 1, 1, 0, 0, 1, tzinfo=datetime.UTC),  # (datetime.min is -infinity to asyncpg)
        datetime.datetime(9999, 12, 31, 23, 59, 58, 999999, tzinfo=datetime.UTC),
        datetime.datetime(2026, 12, 3, 8, 5, 1, 120000, tzinfo=datetime.UTC),
    ]
    each = "SELECT array_agg({} ORDER BY o) FROM unnest($1::bigint[]) WITH ORDINALITY u(n, o)"
    for type_name in SOURCES:
        written = await conn.fetchval(each.format(sql.global_id(type_name, "n")), numbers)
        assert written == [gid(type_name, n) for n in numbers], type_name
    cursors = await conn.fetchval(each.format(sql.cursor("n")), numbers)
    assert cursors == [pagination.encode_cursor([n]) for n in numbers]
    for at in times:
        found = await conn.fetchval(each.format(sql.time_cursor("$2::timestamptz", "n")), numbers, at)
        assert found == [pagination.encode_cursor([at.isoformat(), n]) for n in numbers], at


def test_a_repeated_request_is_answered_from_its_kept_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    """The statement and parameters of a document, operation and variables are kept: the same
    variables again (in any key order) are not coerced and planned again; other values are."""
    schema, document = build()._schema, parse(BUILDING_HOUSEHOLDS)
    run._answers.clear()
    compiled: list[Any] = []
    real = run._compile

    def counted(*args: Any) -> tuple[str, list[Any]]:
        compiled.append(args[-1])
        return real(*args)

    monkeypatch.setattr(run, "_compile", counted)
    first = run.compile_operation(schema, document, BUILDING_HOUSEHOLDS, None, {"id": gid("Building", 1), "first": 5})
    again = run.compile_operation(schema, document, BUILDING_HOUSEHOLDS, None, {"first": 5, "id": gid("Building", 1)})
    other = run.compile_operation(schema, document, BUILDING_HOUSEHOLDS, None, {"id": gid("Building", 2), "first": 5})
    assert again == first and len(compiled) == 2
    assert other[0] == first[0] and other[1] != first[1], "the same statement, the other building's id"
    assert 2 in other[1] and 1 in first[1]


def _reads() -> list[Any]:
    """The matrix rows that read: contract queries and query texts."""
    found = []
    for row in ROWS:
        if row.operation in SUBSCRIPTIONS or row.operation in UPLOADS:
            continue
        text = contract_operations()[row.operation] if row.operation[0].isupper() else row.operation
        if text.lstrip().startswith(("query", "{")):
            found.append((row, text))
    return found


async def test_every_read_of_the_matrix_is_the_same_on_both_paths(both: Both) -> None:
    """Every read operation of the contract (and the matrix's query texts), for every sample
    and matrix account, on the scene of the authorization matrix."""
    queries = {name for name, text in contract_operations().items() if text.lstrip().startswith("query")}
    assert queries <= {row.operation for row, _ in _reads()}, "every read of the contract is sent"
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    paths: dict[str, set[str]] = {}
    for row, text in _reads():
        variables = row.variables(scene)
        for account in ACCOUNTS:
            paths.setdefault(row.label, set()).add(await both.same(text, variables, tokens[account]))
    compiled = {label for label, seen in paths.items() if "compiled" in seen}
    # a document answered once is answered again without strawberry: those answers were compared too
    assert both.door.answered > 100
    assert "BuildingHouseholds of the resident's building" in compiled
    assert {"Viewer", "MyHousehold (the viewer's own household, its head and its paired cadres)"} <= compiled
    assert {label for label in paths if label.startswith("ServiceOrders")} <= compiled
    assert {
        "Resources open to the community",
        "Needs of the community",
        "Organisations (search the unit)",
        "Registrations of the community (the unit's pending registration, the cadre's confirmed one)",
        "Activities of the community (public in the county)",
        "Meetings of the community (staff, and the participating unit)",
        "Findings of the community (staff in scope; others read publicNotices)",
        "AuditTrail of the resident's building (the audit entry's target)",
        "Users: the resident's account",
        "NeedMatches of a need",
        "SearchPeople for the resident by name",
        "Areas under the community",
        "CompoundDetail",
        "ResponsibilityChain of the resident's household",
        "OrganisationDetail of the unit, with its resources",
        "OrderAttachments of the resident's order (whoever sees the order)",
        "node Building of our county",  # `nodes(ids)`, by the contract's Nodes
        "node Person of another county",
    } <= compiled


SERVICE_ORDERS = contract_operations()["ServiceOrders"]
# every compilable field of an order, its household's residents (masked, audited), its
# assignee's phone (masked, audited) and its timeline with each entry's actor and order
ORDERS_IN_FULL = """
query Orders($f: ServiceOrderFilter, $first: Int, $after: String) {
  serviceOrders(filter: $f, first: $first, after: $after) {
    __typename totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges {
      cursor
      node {
        __typename id number status title description category createdAt updatedAt dispatchedAt dueAt
        overdue escalated resolution rating ratingComment
        household { id label residents { id name phone } }
        community { id name }
        who: assignee { id name phone household { id label } }
        timeline { at action status note actor { id name phone } order { id number status } }
      }
    }
  }
}
"""

ORDERS_PAGE = ORDERS_IN_FULL.replace("__typename totalCount", "__typename")


async def test_service_orders_are_one_statement_and_the_same_for_every_account(both: Both) -> None:
    """A staff member's ServiceOrders page (issue 13's third read): newest first, filters,
    keyset pages, household, assignee and timeline, masked and audited as on the ordinary path;
    visibility from the rule `order_parties` alone."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w, orders = scene.w, scene.orders
    # one order overdue; timestamps with and without microseconds (isoformat writes both)
    await both.conn.execute(
        "UPDATE service_orders SET due_at = now() - interval '1 day' WHERE id = $1", orders["dispatched"]
    )
    await both.conn.execute(
        "UPDATE service_orders SET created_at = '2024-02-29T23:59:59+00', "
        "dispatched_at = '2024-03-01T08:00:00.123+08' WHERE id = $1",
        orders["accepted"],
    )
    await both.conn.execute(
        "UPDATE service_orders SET description = $2 WHERE id = $1", orders["completed"], '带"引号"\\和\n换行\u2028'
    )
    ids = sorted(orders.values())
    cursor = base64.urlsafe_b64encode(f"[{ids[2]}]".encode()).decode().rstrip("=")
    filters: list[dict[str, Any]] = [
        {},
        {"communityId": gid("Community", w.community)},
        {"communityId": gid("Building", w.building)},
        {"status": "DISPATCHED"},
        {"status": "SUBMITTED", "overdue": False},
        {"overdue": True},
        {"escalated": False},
        {"assigneeId": gid("Person", w.people["cadre"])},
        {"assigneeId": gid("Organisation", w.unit)},
        {"assigneeId": gid("Household", w.household)},
        {"assigneeId": "not-an-id"},
    ]
    pages: list[dict[str, Any]] = [{}, {"first": 2}, {"first": 2, "after": cursor}, {"first": 0}, {"first": 100}]
    for account in ACCOUNTS:
        for f in filters:
            for page in pages if f == {} else [{}]:
                expected = "resolvers" if account == "anonymous" else "compiled"
                path = await both.same(ORDERS_IN_FULL, {"f": f, **page}, tokens[account])
                assert path == expected, (account, f, page)
        contract = {"communityId": gid("Community", w.community), "first": 20}
        assert await both.same(SERVICE_ORDERS, contract, tokens[account]) == expected
        # without totalCount each of the rule's alternatives (staff, the others' candidates)
        # reads its own page, and the page is theirs together
        for page in pages:
            for f in ({}, {"status": "DISPATCHED"}):
                assert await both.same(ORDERS_PAGE, {"f": f, **page}, tokens[account]) == expected, (account, page)
    # values the ordinary path refuses are its own answer
    for variables in ({"first": 101}, {"after": "x"}, {"first": -1}):
        assert await both.same(SERVICE_ORDERS, variables, tokens["staff"]) == "resolvers"
    # an OrderEvent is declared for its rows, not for node()
    event = await both.conn.fetchval("SELECT min(id) FROM order_events")
    node = "query($id: ID!) { node(id: $id) { __typename } }"
    assert await both.same(node, {"id": gid("OrderEvent", event)}, tokens["staff"]) == "resolvers"
    order = {"id": gid("ServiceOrder", orders["to_unit"])}
    by_id = "query($id: ID!) { node(id: $id) { id ... on ServiceOrder { number assignee { name } } } }"
    for account in ACCOUNTS[1:]:
        assert await both.same(by_id, order, tokens[account]) == "compiled"


RESOURCES_IN_FULL = """
query Resources($f: ResourceFilter, $first: Int, $after: String) {
  resources(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor startCursor }
    edges { cursor node { id title description category quantity remaining unit status availableUntil withdrawnAt
                          createdAt provider { id name kind code memberCount parent { id } } } }
  }
}
"""
ORGANISATIONS_IN_FULL = """
query Organisations($f: OrganisationFilter, $first: Int, $after: String) {
  organisations(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { __typename id name kind code memberCount parent { id name } children { id name kind }
                   resources(first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { node { id title } } } } }
  }
}
"""

REGISTRATIONS_IN_FULL = """
query Registrations($f: RegistrationFilter, $first: Int, $after: String) {
  registrations(filter: $f, first: $first, after: $after) {
    __typename totalCount pageInfo { hasNextPage endCursor }
    edges { node { id status registeredAt decidedAt community { id name } organisation { id name kind }
                   person { id name phone household { id label } } } }
  }
}
"""


async def test_an_order_follows_its_household_to_another_building(both: Both) -> None:
    """An order's staff are those of its household's building (migration 0035: the order
    carries that building, kept by the database). When an import moves the household to a
    building of another community, that community's staff see its orders and the old one's no
    longer do, on both paths, and the orders are in the new community (its `communityId`
    filter); an order placed afterwards is in the new building too."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w, orders = scene.w, scene.orders
    theirs = {gid("ServiceOrder", pk) for pk in orders.values()}

    async def seen(account: str) -> set[str]:
        assert await both.same(SERVICE_ORDERS, {"first": 100}, tokens[account]) == "compiled"
        data = (await both.compiled.post(SERVICE_ORDERS, {"first": 100}, token=tokens[account]))["data"]
        return {e["node"]["id"] for e in data["serviceOrders"]["edges"]}

    assert theirs <= await seen("staff")
    assert not theirs & await seen("outside_staff")
    compound = await b.area(both.conn, "COMPOUND", "椒溪小区", w.other_community)
    across = await b.area(both.conn, "BUILDING", "3号楼", compound)
    # what `gongjian import` writes for a household that moved (db/bulk_import.py: its upsert)
    await both.conn.execute("UPDATE households SET building_id = $2, area_id = $2 WHERE id = $1", w.household, across)
    assert theirs <= await seen("outside_staff")
    assert not theirs & await seen("staff")
    # and its community (migration 0036): the new community's filter finds them, the old one's not
    for account, community, found in (("outside_staff", w.other_community, theirs), ("admin", w.community, set())):
        variables = {"f": {"communityId": gid("Community", community)}, "first": 100}
        assert await both.same(ORDERS_IN_FULL, variables, tokens[account]) == "compiled"
        data = (await both.compiled.post(ORDERS_IN_FULL, variables, token=tokens[account]))["data"]
        assert {e["node"]["id"] for e in data["serviceOrders"]["edges"]} & theirs == found, account
    placed = await b.service_order(both.conn, w, title="换灯泡")
    assert await both.conn.fetchval("SELECT building_id FROM service_orders WHERE id = $1", placed) == across
    assert gid("ServiceOrder", placed) in await seen("outside_staff")


async def test_plain_table_reads_are_the_same_for_every_account(both: Both) -> None:
    """Plain table reads with their rules inline: `resources` (resource_access), `organisations`
    (the viewer's county; each one's resources by the rule too), `registrations`
    (registration_access; the registrant's phone masked and audited as on the ordinary path)."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    # a withdrawn resource, one that expired, one exhausted, besides the scene's
    for title, change in (
        ("撤回的", "withdrawn_at = now()"),
        ("过期的", "available_until = now() - interval '1 hour'"),
        ("用完的", "remaining = 0"),
    ):
        made = await b.resource(both.conn, w.unit, [w.community], title=title, category="VENUE")
        await both.conn.execute(f"UPDATE resources SET {change} WHERE id = $1", made)  # noqa: S608 - constant text
    cases: list[tuple[str, dict[str, Any]]] = [
        (RESOURCES_IN_FULL, {}),
        (RESOURCES_IN_FULL, {"first": 1}),
        (RESOURCES_IN_FULL, {"f": {"available": True}}),
        (RESOURCES_IN_FULL, {"f": {"available": False, "category": "PARKING"}}),
        (RESOURCES_IN_FULL, {"f": {"communityId": gid("Community", w.community)}}),
        (RESOURCES_IN_FULL, {"f": {"communityId": gid("Building", w.building)}}),
        (ORGANISATIONS_IN_FULL, {}),
        (ORGANISATIONS_IN_FULL, {"first": 2, "f": {"kind": "ENTERPRISE"}}),
        (ORGANISATIONS_IN_FULL, {"f": {"search": "%"}}),
        (REGISTRATIONS_IN_FULL, {}),
        (REGISTRATIONS_IN_FULL, {"first": 1, "f": {"status": "CONFIRMED"}}),
        (REGISTRATIONS_IN_FULL, {"f": {"communityId": gid("Community", w.community), "status": "PENDING"}}),
    ]
    for account in ACCOUNTS:
        for query, variables in cases:
            path = await both.same(query, variables, tokens[account])
            assert path == ("resolvers" if account == "anonymous" else "compiled"), (account, variables)
    # an id of no community is the ordinary path's error
    bad = {"f": {"communityId": gid("Building", w.building)}}
    assert await both.same(REGISTRATIONS_IN_FULL, bad, tokens["staff"]) == "resolvers"


def _manifest_id(name: str) -> tuple[str, str]:
    """A manifest operation's id and body."""
    found = [(i, body) for i, body in trusted_documents.registered().items() if f"query {name}(" in body]
    assert len(found) == 1, name
    return found[0]


async def test_trusted_operations_compile_when_the_app_starts(
    both: Both, conn: asyncpg.Connection, settings: Settings
) -> None:
    """The app plans the manifest's queries as it starts (one plan per type a `node(id)` may
    name); a trusted operation sent by its hash then runs compiled without planning."""
    run._trusted.clear()
    run._precompiled.clear()
    run._plans.clear()
    run._answers.clear()
    create_app(settings, db=SingleConnectionDatabase(conn))
    orders_id, _ = _manifest_id("ServiceOrders")
    households_id, _ = _manifest_id("BuildingHouseholds")
    # planned for the default `first` (a constant of the statement) and no filter given
    assert run._trusted.get((orders_id, "ServiceOrders", (), (), (("first", 20),), ())) is not None
    building = (households_id, "BuildingHouseholds", (), ("Building",), (("first", 20),), (("id",),))
    assert run._trusted.get(building) is not None
    assert not run._plans, "nothing planned on demand yet"

    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    for manifest_id, variables in (
        (orders_id, {"first": 20}),
        (households_id, {"id": gid("Building", scene.w.building)}),
    ):
        answers = []
        for api in (both.compiled, both.ordinary):
            built = run.plans_built
            both.caplog.clear()
            response = await api.client.post(
                "/graphql",
                json={
                    "variables": variables,
                    "extensions": {"persistedQuery": {"version": 1, "sha256Hash": manifest_id}},
                },
                headers={"Authorization": f"Bearer {tokens['staff']}", "Accept-Language": "en"},
            )
            assert response.status_code == 200, response.text
            answers.append(response.json())
            line = [r for r in both.caplog.records if r.name == "gongjian.graphql" and r.getMessage() == "operation"]
            path = line[-1].fields["path"]  # type: ignore[attr-defined]
            assert path == ("compiled" if api is both.compiled else "resolvers")
            assert run.plans_built == built, "a trusted operation is not planned on its request"
        assert answers[0] == answers[1]
        assert "errors" not in answers[0] and answers[0]["data"]
    # another `first`, or a filter given, is planned on its first request, and that plan
    # serves the next ones
    other = {"communityId": gid("Community", scene.w.community), "first": 3}
    built = run.plans_built
    for _ in range(2):
        response = await both.compiled.client.post(
            "/graphql",
            json={"variables": other, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": orders_id}}},
            headers={"Authorization": f"Bearer {tokens['staff']}"},
        )
        assert len(response.json()["data"]["serviceOrders"]["edges"]) == 3
    assert run.plans_built == built + 1


async def test_limits_and_refused_values_answer_alike(both: Both) -> None:
    """Depth, aliases, cost and `first` are refused before either path, with the same errors;
    a value the ordinary path refuses (a malformed cursor, an id of no area) is its answer."""
    scene = await build_scene(both.conn)
    token = tokens_for(both.compiled, scene)["staff"]
    building = {"id": gid("Building", scene.w.building)}
    deep = "household { building { head { " * 4 + "id" + " } } }" * 4
    aliases = " ".join(f"a{i}: name" for i in range(40))
    costly = (
        "compounds(first: 100) { edges { node { buildings(first: 100) { edges { node { "
        "households(first: 100) { edges { node { residents { name } } } } } } } } } }"
    )
    for query, variables in (
        (f"query($id: ID!) {{ node(id: $id) {{ ... on Building {{ head {{ {deep} }} }} }} }}", building),
        (f"query($id: ID!) {{ node(id: $id) {{ ... on Building {{ {aliases} }} }} }}", building),
        (f"{{ {costly} }}", {}),
        ("query($id: ID!) { node(id: $id) { ... on Building { households(first: 101) { totalCount } } } }", building),
        (
            'query($id: ID!) { node(id: $id) { ... on Building { households(after: "x") { totalCount } } } }',
            building,
        ),
        ("query($id: ID!) { compounds(filter: {within: $id}) { totalCount } }", {"id": gid("Person", 1)}),
    ):
        assert await both.same(query, variables, token) == "resolvers"
        answer, _, _ = await both.answer(both.ordinary, query, variables, token)
        assert answer.get("errors"), query


# --- random selection sets over the compilable fields ---------------------------------------

SCALARS: dict[str, list[str]] = {
    "Compound": ["id", "name", "level", "code", "kind", "address", "managementPlan", "householdCount", "__typename"],
    "Building": ["id", "name", "level", "code", "householdCount", "__typename"],
    "Community": ["id", "name", "level", "householdCount"],
    "District": ["id", "name", "level"],
    "Household": ["id", "label", "code", "fullAddress", "__typename"],
    "Person": ["id", "name", "partyMember", "phone", "__typename"],
    "ServiceOrder": [
        "id",
        "number",
        "status",
        "title",
        "description",
        "category",
        "createdAt",
        "updatedAt",
        "dispatchedAt",
        "dueAt",
        "overdue",
        "escalated",
        "resolution",
        "rating",
        "ratingComment",
        "__typename",
    ],
    "OrderEvent": ["at", "action", "status", "note", "__typename"],
    "Organisation": ["id", "name", "kind", "code", "memberCount", "__typename"],
    "Resource": [
        "id",
        "title",
        "description",
        "category",
        "quantity",
        "remaining",
        "unit",
        "status",
        "availableUntil",
        "withdrawnAt",
        "createdAt",
        "__typename",
    ],
    "Need": [
        "id",
        "title",
        "description",
        "category",
        "quantity",
        "fulfilled",
        "shortfall",
        "status",
        "closedAt",
        "createdAt",
        "__typename",
    ],
    "Exchange": [
        "id",
        "quantity",
        "status",
        "allocatedAt",
        "completedAt",
        "cancelledAt",
        "cancelReason",
        "__typename",
    ],
    # the interface: fields every area type declares alike
    "Area": ["id", "name", "level", "code", "__typename"],
    "Adoption": ["id", "duties", "since", "until", "__typename"],
    "Post": ["id", "role", "since", "until", "__typename"],
    "ResponsibilityLink": ["level", "__typename"],
    "Attachment": ["id", "url", "thumbnailUrl", "contentType", "byteSize", "caption", "createdAt", "__typename"],
    "Activity": [
        "id",
        "title",
        "kind",
        "startsAt",
        "endsAt",
        "capacity",
        "signupCount",
        "attendedCount",
        "__typename",
    ],
    "Meeting": ["id", "kind", "title", "status", "startsAt", "minutes", "__typename"],
    "Finding": [
        "id",
        "category",
        "description",
        "deadline",
        "status",
        "published",
        "reportedAt",
        "rectifiedAt",
        "rectificationNote",
        "__typename",
    ],
    "User": ["id", "username", "disabled", "lastLoginAt", "__typename"],
    "RoleGrant": ["role", "__typename"],
    "Scope": ["id", "name", "typeName", "__typename"],
    "AuditEntry": ["id", "at", "action", "targetType", "targetId", "requestId", "detail", "__typename"],
}
# field -> (target type, kind)
RELATIONS: dict[str, dict[str, tuple[str, str]]] = {
    "Compound": {
        "buildings": ("Building", "connection"),
        "responsible": ("Person", "one"),
        "community": ("Community", "one"),
        "district": ("District", "one"),
        "parent": ("Area", "one"),
        "path": ("Area", "list"),
        "ownerCommittee": ("Organisation", "one"),
        "functionalBranch": ("Organisation", "one"),
        "propertyManager": ("Organisation", "one"),
        "adoptions": ("Adoption", "list"),
    },
    "Building": {
        "households": ("Household", "connection"),
        "head": ("Person", "one"),
        "responsible": ("Person", "one"),
        "compound": ("Compound", "one"),
        "adoptions": ("Adoption", "list"),
        "path": ("Area", "list"),
    },
    "Community": {"responsible": ("Person", "one"), "parent": ("Area", "one")},
    "District": {"parent": ("Area", "one")},
    "Household": {
        "residents": ("Person", "list"),
        "building": ("Building", "one"),
        "responsibilityChain": ("ResponsibilityLink", "list"),
    },
    "Adoption": {"unit": ("Organisation", "one"), "area": ("Area", "one")},
    "Post": {"person": ("Person", "one"), "organisation": ("Organisation", "one")},
    "ResponsibilityLink": {"area": ("Area", "one"), "responsible": ("Person", "one")},
    "Attachment": {},
    "Person": {"household": ("Household", "one")},
    "ServiceOrder": {
        "household": ("Household", "one"),
        "community": ("Community", "one"),
        "assignee": ("Person", "one"),
        "timeline": ("OrderEvent", "list"),
        "attachments": ("Attachment", "list"),
    },
    "OrderEvent": {"actor": ("Person", "one"), "order": ("ServiceOrder", "one")},
    "Organisation": {
        "parent": ("Organisation", "one"),
        "children": ("Organisation", "list"),
        "resources": ("Resource", "connection"),
        "members": ("Post", "connection"),
        "adoptions": ("Adoption", "list"),
    },
    "Resource": {"provider": ("Organisation", "one"), "exchanges": ("Exchange", "connection")},
    "Need": {
        "area": ("Area", "one"),
        "community": ("Community", "one"),
        "exchanges": ("Exchange", "connection"),
        "matches": ("Resource", "connection"),
    },
    "Exchange": {
        "resource": ("Resource", "one"),
        "need": ("Need", "one"),
        "provider": ("Organisation", "one"),
        "receiver": ("Area", "one"),
    },
    "Area": {"parent": ("Area", "one"), "path": ("Area", "list"), "responsible": ("Person", "one")},
    "Activity": {"hosts": ("Organisation", "list"), "community": ("Community", "one")},
    "Meeting": {"organisations": ("Organisation", "list"), "community": ("Community", "one")},
    "Finding": {"compound": ("Compound", "one")},
    "User": {"person": ("Person", "one"), "roles": ("RoleGrant", "list")},
    "RoleGrant": {"scope": ("Scope", "one")},
    "Scope": {},
    "AuditEntry": {"user": ("User", "one")},
}
FIRSTS = [None, 0, 1, 2, 3, 100, 101, -1]
# the targets a random `nodes(ids)` names (an id that does not decode: rarely)
NODES_TARGETS = ["building", "compound", "household", "person", "community", "far", "order", "cadre", "unit"]
NODES_TARGETS += ["resource", "need", "exchange", "activity", "meeting", "finding"] * 2 + ["bad"]


@st.composite
def _selection(draw: st.DrawFn, type_name: str, depth: int, fragments: list[str]) -> str:
    """A selection set body on `type_name`: fields, aliases, inline and named fragments,
    @include/@skip over the operation's `$yes`."""
    relations = RELATIONS[type_name] if depth > 0 else {}
    names = draw(st.lists(st.sampled_from(SCALARS[type_name] + list(relations)), min_size=1, max_size=6))
    parts: list[str] = []
    for i, name in enumerate(names):
        alias = f"k{i}_{name.strip('_')}: " if draw(st.booleans()) else ""
        if alias == "" and name in names[:i]:
            continue  # the same field twice without an alias merges; with other arguments it would not validate
        text = alias + name
        if name in relations:
            target, kind = relations[name]
            inner = draw(_selection(target, depth - 1, fragments))
            if kind == "connection":
                first = draw(st.sampled_from(FIRSTS))
                text += f"(first: {first})" if first is not None else ""
                pieces = draw(
                    st.lists(
                        st.sampled_from(
                            [
                                "totalCount",
                                "pageInfo { hasNextPage endCursor startCursor hasPreviousPage }",
                                f"edges {{ cursor node {{ {inner} }} }}",
                                "__typename",
                            ]
                        ),
                        min_size=1,
                        max_size=3,
                        unique=True,
                    )
                )
                text += " { " + " ".join(pieces) + " }"
            else:
                text += f" {{ {inner} }}"
        directive = draw(st.sampled_from(["", "", " @include(if: $yes)", " @skip(if: $yes)", " @skip(if: false)"]))
        if directive:
            text = text.split("{", 1)[0].rstrip() + directive + (" {" + text.split("{", 1)[1] if "{" in text else "")
        wrap = draw(st.sampled_from(["plain", "plain", "inline", "named"]))
        if wrap == "inline":
            text = f"... on {type_name} {{ {text} }}"
        elif wrap == "named":
            name_of = f"F{len(fragments)}"
            fragments.append(f"fragment {name_of} on {type_name} {{ {text} }}")
            text = f"...{name_of}"
        parts.append(text)
    if type_name == "Area" and depth > 0:  # per-type fragments on the interface's rows
        area_types = st.sampled_from(["Building", "Compound", "Community", "District"])
        for area_type in draw(st.lists(area_types, unique=True)):
            parts.append(f"... on {area_type} {{ {draw(_selection(area_type, depth - 1, fragments))} }}")
    return " ".join(parts) or "__typename"


@st.composite
def _filtered(draw: st.DrawFn, root: str, type_name: str, narrows: list[str], under: str, fragments: list[str]) -> str:
    """A root connection of `type_name` narrowed by one of `narrows`, and another under the id `$id`."""
    inner = draw(_selection(type_name, 3, fragments))
    first = draw(st.sampled_from(FIRSTS))
    narrow = draw(st.sampled_from(narrows))
    args = f"filter: {{{narrow}}}" + (f", first: {first}" if first is not None else "")
    return (
        f"query Random($id: ID!, $yes: Boolean!) {{ {root}({args}) "
        f"{{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {inner} }} }} }} "
        f"k: __typename @include(if: $yes) under: {root}(filter: {{{under}: $id}}, first: 1) {{ totalCount }} }}"
    )


@st.composite
def _operations(draw: st.DrawFn) -> tuple[str, str, bool, list[str]]:
    """An operation, the target its `$id` names, `$yes`, and the targets its `$ids` name."""
    fragments: list[str] = []
    roots = ["node", "compounds", "serviceOrders", "organisations", "needs", "activities", "accounts", "areas"]
    roots.append("nodes")
    roots.append("viewer")
    root = draw(st.sampled_from(roots))
    more: list[str] = []
    if root in ("node", "nodes"):
        types = ["Compound", "Building", "Household", "Person", "ServiceOrder", "Organisation", "Resource", "Need"]
        types += ["Exchange", "Activity", "Meeting", "Finding"]
        on = draw(st.lists(st.sampled_from(types), min_size=1, unique=True))
        body = " ".join(f"... on {t} {{ {draw(_selection(t, 3, fragments))} }}" for t in on)
        text = f"query Random($id: ID!, $yes: Boolean!) {{ node(id: $id) {{ {body} }} }}"
        if root == "nodes":  # the same selection over a list of ids (repeated, of several types)
            more = draw(st.lists(st.sampled_from(NODES_TARGETS), max_size=6))
            text = (
                f"query Random($id: ID!, $yes: Boolean!, $ids: [ID!]!) {{ nodes(ids: $ids) {{ {body} }} "
                "k: __typename @include(if: $yes) one: nodes(ids: [$id]) { __typename id } }"
            )
    elif root == "compounds":
        inner = draw(_selection("Compound", 3, fragments))
        first = draw(st.sampled_from(FIRSTS))
        args = "filter: {within: $id}" + (f", first: {first}" if first is not None else "")
        text = (
            f"query Random($id: ID!, $yes: Boolean!) {{ compounds({args}) "
            f"{{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {inner} }} }} }} }}"
        )
    elif root == "areas":  # the rows of an interface
        narrows = ["", "parentId: $id", "level: BUILDING", 'search: "区"']
        text = draw(_filtered("areas", "Area", narrows, "parentId", fragments))
    elif root == "organisations":
        inner = draw(_selection("Organisation", 3, fragments))
        first = draw(st.sampled_from(FIRSTS))
        args = "filter: {kind: ENTERPRISE}" if draw(st.booleans()) else ""
        args += (", " if args else "") + (f"first: {first}" if first is not None else "")
        text = (
            f"query Random($id: ID!, $yes: Boolean!) {{ organisations{f'({args})' if args else ''} "
            f"{{ totalCount edges {{ cursor node {{ {inner} }} }} }} "
            "k: __typename @include(if: $yes) n: node(id: $id) { __typename } }"
        )
    elif root == "needs":
        text = draw(
            _filtered("needs", "Need", ["", "areaId: $id", "open: $yes", "category: PARKING"], "areaId", fragments)
        )
    elif root == "viewer":
        me = draw(_selection("User", 3, fragments))
        text = (
            f"query Random($id: ID!, $yes: Boolean!) {{ k: __typename @include(if: $yes) viewer {{ {me} }} "
            "n: node(id: $id) { __typename id } }"
        )
    elif root == "accounts":  # the ruled lists (FORBIDDEN to most: the ordinary path's) and the search
        users = draw(_selection("User", 3, fragments))
        entries = draw(_selection("AuditEntry", 3, fragments))
        found = draw(_selection("Person", 2, fragments))
        first = draw(st.sampled_from(FIRSTS))
        page = f"(first: {first})" if first is not None else ""
        search = draw(st.sampled_from(["", "居民", "1380"]))
        text = (
            f"query Random($id: ID!, $yes: Boolean!) {{ k: __typename @include(if: $yes) "
            f"users{page} {{ totalCount edges {{ cursor node {{ {users} }} }} }} "
            f"auditLog(filter: {{targetId: $id}}) {{ totalCount edges {{ node {{ {entries} }} }} }} "
            f'people(filter: {{search: "{search}"}}) {{ totalCount edges {{ node {{ {found} }} }} }} }}'
        )
    elif root == "activities":
        inner = draw(_selection("Activity", 3, fragments))
        meetings = draw(_selection("Meeting", 3, fragments))
        findings = draw(_selection("Finding", 3, fragments))
        first = draw(st.sampled_from(FIRSTS))
        narrow = draw(st.sampled_from(["", "communityId: $id", 'from: "2024-01-01T00:00:00Z"']))
        args = f"filter: {{{narrow}}}" + (f", first: {first}" if first is not None else "")
        text = (
            f"query Random($id: ID!, $yes: Boolean!) {{ activities({args}) "
            f"{{ totalCount pageInfo {{ hasNextPage endCursor startCursor }} edges {{ cursor node {{ {inner} }} }} }} "
            f"k: __typename @include(if: $yes) "
            f"m: meetings(communityId: $id) {{ totalCount edges {{ cursor node {{ {meetings} }} }} }} "
            f"f: findings(filter: {{areaId: $id}}) {{ totalCount edges {{ node {{ {findings} }} }} }} }}"
        )
    else:
        inner = draw(_selection("ServiceOrder", 3, fragments))
        first = draw(st.sampled_from(FIRSTS))
        narrow = draw(
            st.sampled_from(["", "communityId: $id", "assigneeId: $id", "status: DISPATCHED", "overdue: $yes"])
        )
        args = f"filter: {{{narrow}}}" + (f", first: {first}" if first is not None else "")
        text = (
            f"query Random($id: ID!, $yes: Boolean!) {{ serviceOrders({args}) "
            f"{{ totalCount pageInfo {{ hasNextPage endCursor startCursor }} "
            f"edges {{ cursor node {{ {inner} }} }} }} }}"
        )
    # only the fragments the operation spreads (an unused one does not validate)
    used: list[str] = []
    reach = text
    for fragment in reversed(fragments):
        if f"...{fragment.split()[1]} " in reach + " " or f"...{fragment.split()[1]}}}" in reach:
            used.append(fragment)
            reach += " " + fragment
    fragments = [f for f in fragments if f in used]
    targets = ["building", "compound", "household", "person", "community", "far", "bad", "order", "cadre", "unit"]
    targets += ["resource", "need", "exchange", "activity", "meeting", "finding"]
    target = draw(st.sampled_from(targets))
    return " ".join([text, *fragments]), target, draw(st.booleans()), more


_scenes: dict[int, tuple[Scene, dict[str, str | None], dict[str, str]]] = {}


async def _scene(both: Both) -> tuple[Scene, dict[str, str | None], dict[str, str]]:
    """The matrix scene with a few more households and residents in the resident's building
    (built once per test: hypothesis runs the examples inside the test's transaction)."""
    if id(both) not in _scenes:
        scene = await build_scene(both.conn)
        for n in range(4):
            household = await b.household(both.conn, scene.w.building, f"2单元{n}01")
            for k in range(n):
                await b.person(both.conn, scene.w.county, f"住户{n}{k}", household=household, phone=f"1370000{n}{k}00")
        w = scene.w
        await b.exchange(both.conn, scene.objects["Resource"], await b.need(both.conn, w.building, category="VENUE"))
        ids = {
            "building": gid("Building", w.building),
            "compound": gid("Compound", w.compound),
            "household": gid("Household", w.household),
            "person": gid("Person", w.people["resident"]),
            "community": gid("Community", w.community),
            "far": gid("Building", scene.far.building),
            "order": gid("ServiceOrder", scene.orders["accepted"]),
            "cadre": gid("Person", w.people["cadre"]),
            "unit": gid("Organisation", w.unit),
            "resource": gid("Resource", scene.objects["Resource"]),
            "need": gid("Need", scene.objects["Need"]),
            "exchange": gid("Exchange", scene.objects["Exchange"]),
            "activity": gid("Activity", scene.objects["Activity"]),
            "meeting": gid("Meeting", scene.objects["Meeting"]),
            "finding": gid("Finding", scene.objects["Finding"]),
            "bad": "not-an-id",
        }
        _scenes[id(both)] = (scene, tokens_for(both.compiled, scene), ids)
    return _scenes[id(both)]


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operation=_operations(), account=st.sampled_from([*ACCOUNTS[1:], ACCOUNTS[0]]))
async def test_random_selections_are_the_same_on_both_paths(
    both: Both, operation: tuple[str, str, bool, list[str]], account: str
) -> None:
    text, target, yes, more = operation
    _, tokens, ids = await _scene(both)
    variables: dict[str, Any] = {"id": ids[target], "yes": yes}
    if "$ids" in text:
        variables["ids"] = [ids[t] for t in more]
    await both.same(text, variables, tokens[account])


NEEDS_IN_FULL = """
query Needs($f: NeedFilter, $first: Int, $after: String) {
  needs(filter: $f, first: $first, after: $after) {
    __typename totalCount pageInfo { hasNextPage endCursor startCursor }
    edges { cursor node { __typename id title description category quantity fulfilled shortfall status closedAt
                          createdAt community { id name }
                          exchanges(first: 2) { totalCount pageInfo { hasNextPage endCursor }
                            edges { node { id quantity status allocatedAt completedAt cancelledAt cancelReason
                                           resource { id title exchanges { totalCount edges { node { id } } } }
                                           need { id title } provider { id name } } } } } }
  }
}
"""


async def test_needs_and_exchanges_are_the_same_for_every_account(both: Both) -> None:
    """`needs` (need_access) with each need's exchanges (exchange_access) and their resource,
    need and provider; a resident sees none of them."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    resource = await b.resource(both.conn, w.unit, [w.community], title="第二个", category="VENUE")
    need = await b.need(both.conn, w.community)
    made = [await b.exchange(both.conn, resource, need) for _ in range(3)]
    await both.conn.execute(
        "UPDATE exchanges SET status = 'CANCELLED', cancelled_at = '2024-03-01T08:00:00.123+08', "
        "cancel_reason = $2 WHERE id = $1",
        made[1],
        '带"引号"',
    )
    await both.conn.execute("UPDATE needs SET closed_at = now() WHERE id = $1", need)
    cursor = base64.urlsafe_b64encode(f"[{need}]".encode()).decode().rstrip("=")
    cases: list[dict[str, Any]] = [
        {},
        {"first": 1},
        {"first": 1, "after": cursor},
        {"f": {"open": True}},
        {"f": {"open": False, "category": "PARKING"}},
        {"f": {"areaId": gid("Community", w.community)}},
        {"f": {"areaId": gid("Building", w.building)}},
        {"f": {"areaId": gid("Person", w.people["resident"])}},
    ]
    for account in ACCOUNTS:
        for variables in cases:
            path = await both.same(NEEDS_IN_FULL, variables, tokens[account])
            assert path == ("resolvers" if account == "anonymous" else "compiled"), (account, variables)
    by_id = "query($id: ID!) { node(id: $id) { id ... on Exchange { quantity need { id status } } } }"
    for account in ACCOUNTS[1:]:
        assert await both.same(by_id, {"id": gid("Exchange", made[0])}, tokens[account]) == "compiled"


ACTIVITIES_IN_FULL = """
query Activities($f: ActivityFilter, $first: Int, $after: String) {
  activities(filter: $f, first: $first, after: $after) {
    __typename totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { __typename id title kind startsAt endsAt capacity signupCount attendedCount
                          hosts { id name kind } community { id name } } }
  }
}
"""
MEETINGS_IN_FULL = """
query Meetings($communityId: ID, $first: Int, $after: String) {
  meetings(communityId: $communityId, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage startCursor endCursor }
    edges { cursor node { id kind title status startsAt minutes community { id name } organisations { id name } } }
  }
}
"""


def _time_cursor(at: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f'["{at}",{pk}]'.encode()).decode().rstrip("=")


async def test_lists_paged_by_time_are_the_same_for_every_account(both: Both) -> None:
    """`activities` (oldest start first) and `meetings` (latest first) page by (time, id): the
    compiled cursors are the ordinary path's, ties on the time are broken by the id, and a
    page after a cursor is the same; a time without an offset is the ordinary path's."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    activities = [await b.activity(both.conn, w.county, w.community, [w.unit], title=f"活动{n}") for n in range(4)]
    meetings = [await b.meeting(both.conn, w.community, title=f"会议{n}") for n in range(3)]
    # two at the same time (the id decides), one with microseconds, one before the scene's
    for table, rows in (("activities", activities), ("meetings", meetings)):
        times = ["2024-03-01T08:00:00+08", "2024-03-01T08:00:00+08", "2024-03-01T08:00:00.5+08"]
        for pk, at in zip(rows[:3], times, strict=True):
            await both.conn.execute(f"UPDATE {table} SET starts_at = $2::text::timestamptz WHERE id = $1", pk, at)  # noqa: S608 - constant text
    await both.conn.execute(
        "UPDATE activities SET starts_at = '2023-12-31T23:00:00+00', ends_at = '2024-01-01T02:00:00+00' WHERE id = $1",
        activities[3],
    )
    await both.conn.execute("UPDATE signups SET attended = true WHERE id = $1", scene.objects["Signup"])
    at, tie = "2024-03-01T00:00:00+00:00", min(activities[:2])
    activity_cases: list[dict[str, Any]] = [
        {},
        {"first": 1},
        {"first": 2, "after": _time_cursor(at, tie)},
        {"first": 0},
        {"f": {"communityId": gid("Community", w.community)}},
        {"f": {"communityId": gid("Building", w.building)}},
        {"f": {"communityId": gid("Community", scene.far.community)}},
        {"f": {"from": "2024-01-01T00:00:00+00:00", "to": "2024-03-01T00:00:00.1+00:00"}},
        {"f": {"from": "2024-03-01T08:00:00+08:00"}},
    ]
    meeting_cases: list[dict[str, Any]] = [
        {},
        {"first": 1},
        {"first": 1, "after": _time_cursor(at, max(meetings[:2]))},
        {"communityId": gid("Community", w.community)},
        {"communityId": gid("Compound", w.compound)},
        {"communityId": "not-an-id"},
    ]
    for account in ACCOUNTS:
        expected = "resolvers" if account == "anonymous" else "compiled"
        for query, cases in ((ACTIVITIES_IN_FULL, activity_cases), (MEETINGS_IN_FULL, meeting_cases)):
            for variables in cases:
                assert await both.same(query, variables, tokens[account]) == expected, (account, variables)
    # every cursor the compiled path gives out pages on as the ordinary path's does
    answer, _, _ = await both.answer(both.compiled, ACTIVITIES_IN_FULL, {"first": 2}, tokens["staff"])
    for edge in answer["data"]["activities"]["edges"]:
        assert await both.same(ACTIVITIES_IN_FULL, {"after": edge["cursor"]}, tokens["staff"]) == "compiled"
    # refused and zone-dependent values are the ordinary path's
    for query, variables in (
        (ACTIVITIES_IN_FULL, {"after": "x"}),
        (ACTIVITIES_IN_FULL, {"after": _time_cursor("yesterday", 1)}),
        (ACTIVITIES_IN_FULL, {"f": {"from": "2024-03-01T08:00:00"}}),
        (MEETINGS_IN_FULL, {"after": base64.urlsafe_b64encode(b"[1]").decode()}),
    ):
        assert await both.same(query, variables, tokens["staff"]) == "resolvers", variables
    by_id = "query($id: ID!) { node(id: $id) { id ... on Activity { title hosts { name } } ... on Meeting { title } } }"
    for account in ACCOUNTS[1:]:
        for node_id in (gid("Activity", activities[0]), gid("Meeting", meetings[0])):
            assert await both.same(by_id, {"id": node_id}, tokens[account]) == "compiled"


FINDINGS_IN_FULL = """
query Findings($f: FindingFilter, $first: Int, $after: String, $areaId: ID) {
  findings(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage startCursor endCursor }
    edges { cursor node { __typename id category description deadline status published reportedAt rectifiedAt
                          rectificationNote compound { id name }
                          attachments { __typename id url thumbnailUrl contentType caption createdAt } } }
  }
  publicNotices(areaId: $areaId, first: $first) { totalCount edges { node { id status published deadline } } }
}
"""


async def test_findings_are_the_same_for_every_account(both: Both) -> None:
    """`findings` (staff in scope: `finding_access` STAFF) and `publicNotices` (published ones,
    for every user of the county), newest first, with the status derived from the county's
    calendar; the dates are fixed, far from today."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    made = [await b.finding(both.conn, w.compound, category="RUBBISH") for _ in range(3)]
    await both.conn.execute("UPDATE findings SET deadline = '2020-01-01' WHERE id = $1", made[0])  # overdue
    await both.conn.execute(  # rectified after its deadline: published
        "UPDATE findings SET deadline = '2020-01-01', rectified_at = '2020-01-05T10:00:00.25+08', "
        "rectification_note = '已清理' WHERE id = $1",
        made[1],
    )
    await both.conn.execute("UPDATE findings SET deadline = '8999-12-31' WHERE id = $1", made[2])  # open
    for finding, caption in ((made[0], "垃圾堆"), (made[0], None), (made[2], "楼道")):  # photos, oldest first
        await both.conn.execute(
            "INSERT INTO attachments (county_id, subject_type, subject_id, sha256, content_type, byte_size, "
            "thumbnail_sha256, caption) VALUES ($1, 'Finding', $2, $3, 'image/jpeg', 99, $3, $4)",
            w.county,
            finding,
            "d" * 64,
            caption,
        )
    cursor = base64.urlsafe_b64encode(f"[{made[1]}]".encode()).decode().rstrip("=")
    cases: list[dict[str, Any]] = [
        {},
        {"first": 1},
        {"first": 2, "after": cursor},
        {"f": {"status": "OVERDUE"}, "areaId": gid("Compound", w.compound)},
        {"f": {"status": "RECTIFIED", "areaId": gid("Community", w.community)}},
        {"f": {"areaId": gid("Building", w.building)}, "areaId": gid("Household", w.household)},
        {"f": {"areaId": gid("Community", scene.far.community)}, "areaId": "not-an-id"},
    ]
    for account in ACCOUNTS:
        for variables in cases:
            path = await both.same(FINDINGS_IN_FULL, variables, tokens[account])
            assert path == ("resolvers" if account == "anonymous" else "compiled"), (account, variables)
    by_id = "query($id: ID!) { node(id: $id) { id ... on Finding { status published compound { name } } } }"
    for account in ACCOUNTS[1:]:
        for pk in made:
            assert await both.same(by_id, {"id": gid("Finding", pk)}, tokens[account]) == "compiled"


AUDIT_IN_FULL = """
query Audit($f: AuditLogFilter, $first: Int, $after: String) {
  auditLog(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage startCursor endCursor }
    edges { cursor node { __typename id at action targetType targetId requestId detail
                          user { id username disabled lastLoginAt person { id name phone } } } }
  }
}
"""
USERS_IN_FULL = """
query Users($f: UserFilter, $first: Int, $after: String) {
  users(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id username disabled lastLoginAt person { id name phone household { id label } }
                          roles { __typename role scope { __typename id name typeName } } } }
  }
}
"""


async def test_ruled_lists_are_the_same_for_every_account(both: Both) -> None:
    """`auditLog` (`audit_reader`) and `users` (`account_manager`) answer their rule beside the
    page: where it refuses, the ordinary path answers with its FORBIDDEN error and nothing is
    audited twice; where it admits, one statement, its personal-data reads audited alike."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    for target_type, target, detail, user in (
        ("Area", w.building, '{"b": [1, 2.5, null], "a": "带\\"引号\\"", "n": {"x": true}}', w.users["admin"]),
        ("Area", -5, "{}", None),
        ("Building", w.building, '{"z": 1.0}', w.users["resident"]),
        (None, None, "{}", None),
    ):
        await both.conn.execute(
            "INSERT INTO audit_log (county_id, user_id, action, target_type, target_id, request_id, detail, at) "
            "VALUES ($1, $2, 'test.action', $3, $4, 'r-1', $5::jsonb, '2024-03-01T08:00:00.5+08')",
            w.county,
            user,
            target_type,
            target,
            detail,
        )
    await both.conn.execute("UPDATE users SET last_login_at = '2024-03-01T08:00:00+08' WHERE id = $1", w.users["staff"])
    audit_cases: list[dict[str, Any]] = [
        {},
        {"first": 2},
        {"f": {"targetId": gid("Building", w.building)}},
        {"f": {"action": "test.action", "userId": gid("User", w.users["admin"])}},
        {"f": {"userId": gid("Person", 1), "from": "2024-03-01T00:00:00Z", "to": "2024-03-02T00:00:00+08:00"}},
        {"f": {"targetType": "Area", "from": "2024-03-01T00:00:00"}},
    ]
    users_cases: list[dict[str, Any]] = [
        {},
        {"first": 1},
        {"f": {"role": "RESIDENT"}},
        {"f": {"search": " 居民 "}},
        {"f": {"search": "%"}},
        {"f": {"role": "COUNTY_ADMIN", "search": "a"}},
    ]
    paths: dict[tuple[str, str], set[str]] = {}
    for account in ACCOUNTS:
        for query, cases in ((AUDIT_IN_FULL, audit_cases), (USERS_IN_FULL, users_cases)):
            for variables in cases:
                paths.setdefault((account, query[:12]), set()).add(await both.same(query, variables, tokens[account]))
    assert paths[("admin", AUDIT_IN_FULL[:12])] == {"compiled"}
    assert paths[("staff", USERS_IN_FULL[:12])] == {"compiled"}
    assert paths[("resident", USERS_IN_FULL[:12])] == {"resolvers"}, "refused: the ordinary path's FORBIDDEN"
    answer, _, _ = await both.answer(both.compiled, USERS_IN_FULL, {}, tokens["resident"])
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # refused values are the ordinary path's
    for query, variables in (
        (AUDIT_IN_FULL, {"f": {"targetId": "not-an-id"}}),
        (AUDIT_IN_FULL, {"f": {"action": "a\x00"}}),
        (USERS_IN_FULL, {"f": {"search": "x" * 101}}),
    ):
        assert await both.same(query, variables, tokens["admin"]) == "resolvers"


MATCHES_IN_FULL = """
query Matches($id: ID!, $first: Int, $after: String) {
  node(id: $id) {
    ... on Need {
      id shortfall
      matches(first: $first, after: $after) {
        __typename totalCount pageInfo { hasNextPage startCursor endCursor }
        edges { cursor node { id title remaining availableUntil status provider { id name } } }
      }
    }
  }
}
"""


async def test_need_matches_are_ranked_alike(both: Both) -> None:
    """`Need.matches`: the available resources of the need's category open to its community,
    ranked best fit first and paged by the rank, as on the ordinary path."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    need = await b.need(both.conn, w.community, category="VENUE", quantity=5)
    later, sooner = (datetime.datetime(year, 1, 1, tzinfo=datetime.UTC) for year in (2999, 2998))
    for quantity, until in ((5, None), (3, later), (8, None), (5, sooner), (1, None)):
        await b.resource(both.conn, w.unit, [w.community], category="VENUE", quantity=quantity, available_until=until)
    await b.resource(both.conn, w.unit, [scene.far.community], category="VENUE")  # not open to the community
    await b.resource(both.conn, w.unit, [w.community], category="PARKING")  # another category
    cursors = [base64.urlsafe_b64encode(f"[{n}]".encode()).decode().rstrip("=") for n in (2, -3, 40)]
    cases: list[dict[str, Any]] = [{}, {"first": 2}, {"first": 0}, {"first": 2, "after": cursors[0]}]
    cases += [{"after": cursors[1]}, {"after": cursors[2]}]
    for account in ACCOUNTS:
        for variables in cases:
            path = await both.same(MATCHES_IN_FULL, {"id": gid("Need", need), **variables}, tokens[account])
            assert path == ("resolvers" if account == "anonymous" else "compiled"), (account, variables)
    # the compiled cursors page on alike
    answer, _, _ = await both.answer(both.compiled, MATCHES_IN_FULL, {"id": gid("Need", need)}, tokens["staff"])
    edges = answer["data"]["node"]["matches"]["edges"]
    assert len(edges) == 5
    for edge in edges:
        variables = {"id": gid("Need", need), "first": 2, "after": edge["cursor"]}
        assert await both.same(MATCHES_IN_FULL, variables, tokens["staff"]) == "compiled"


AREAS_BY_TYPE = """
query NeedAreas($f: NeedFilter) {
  needs(filter: $f) {
    edges { node { id area {
      __typename id
      ... on Building { name head { name phone } households(first: 1) { totalCount edges { node { label } } } }
      ... on Compound { kind address buildings(first: 2) { totalCount edges { node { id name } } } }
      ... on Community { householdCount responsible { id } }
      ... AreaName
    } } }
  }
}
fragment AreaName on Area { name level }
"""


async def test_per_type_fragments_on_interface_rows(both: Both) -> None:
    """An interface's row (a need's `area`) whose selection depends on its type: each row's
    JSON by its own type's fields, relations of one type reading only the rows of that type."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    for area in (w.building, w.compound, w.community, w.district):
        await b.need(both.conn, area, category="VENUE")
    for account in ACCOUNTS:
        for variables in ({}, {"f": {"category": "VENUE"}}):
            path = await both.same(AREAS_BY_TYPE, variables, tokens[account])
            assert path == ("resolvers" if account == "anonymous" else "compiled"), (account, variables)
    by_id = "query($id: ID!) { node(id: $id) { ... on Exchange { receiver { ... on Building { name } } } } }"
    assert await both.same(by_id, {"id": gid("Exchange", scene.objects["Exchange"])}, tokens["staff"]) == "compiled"


PEOPLE_IN_FULL = """
query People($f: PeopleFilter!, $first: Int, $after: String) {
  people(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id name phone partyMember household { id label residents { id name } } } }
  }
}
"""


async def test_people_search_is_the_same_for_every_account(both: Both) -> None:
    """`people` (`findable_people` inline): the search by name, by the end of the phone and by
    tag; each household of the page audited for the search ("people") as on the ordinary
    path, besides the masked phones."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    cursor = base64.urlsafe_b64encode(f"[{w.people['resident']}]".encode()).decode().rstrip("=")
    cases: list[dict[str, Any]] = [
        {"f": {"search": ""}},
        {"f": {"search": ""}, "first": 1},
        {"f": {"search": ""}, "first": 2, "after": cursor},
        {"f": {"search": "居民"}},
        {"f": {"search": " 138-0000 "}},
        {"f": {"search": "%"}},
        {"f": {"search": "", "tag": "独居老人"}},
        {"f": {"search": "", "tag": ""}},
    ]
    for account in ACCOUNTS:
        for variables in cases:
            path = await both.same(PEOPLE_IN_FULL, variables, tokens[account])
            assert path == ("resolvers" if account == "anonymous" else "compiled"), (account, variables)
    only_count = "query($f: PeopleFilter!) { people(filter: $f) { totalCount } }"
    assert await both.same(only_count, {"f": {"search": ""}}, tokens["staff"]) == "compiled"
    assert await both.same(PEOPLE_IN_FULL, {"f": {"search": "x" * 101}}, tokens["staff"]) == "resolvers"


async def _compiled_for_the_signed_in(
    both: Both, tokens: dict[str, str | None], cases: list[tuple[str, dict[str, Any]]]
) -> None:
    """Each case for every account: the same answer on both paths, compiled for each one signed in."""
    for account in ACCOUNTS:
        for query, variables in cases:
            path = await both.same(query, variables, tokens[account])
            assert path == ("resolvers" if account == "anonymous" else "compiled"), (account, query, variables)


AREAS_IN_FULL = """
query Areas($f: AreaFilter, $first: Int, $after: String) {
  areas(filter: $f, first: $first, after: $after) {
    __typename totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      __typename id name level code householdCount
      parent { __typename id name level parent { id } }
      responsible { id name phone }
    } }
  }
}
"""
AREAS_BY_LEVEL = """
query Areas($f: AreaFilter) {
  areas(filter: $f) {
    totalCount
    edges { node {
      id name
      ... on Compound { kind community { id name } }
      ... on Building { head { id name } }
      parent { id ... on Compound { kind } }
    } }
  }
}
"""


async def test_areas_are_the_same_for_every_account(both: Both) -> None:
    """The root `areas` (the rows of every level, each its own type): filters, keyset pages,
    each area's parent (an area again) and responsible person, per-type fragments."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    cursor = base64.urlsafe_b64encode(f"[{w.compound}]".encode()).decode().rstrip("=")
    cases: list[tuple[str, dict[str, Any]]] = [
        (AREAS_IN_FULL, {}),
        (AREAS_IN_FULL, {"first": 2}),
        (AREAS_IN_FULL, {"first": 3, "after": cursor}),
        (AREAS_IN_FULL, {"f": {"parentId": gid("Community", w.community)}}),
        (AREAS_IN_FULL, {"f": {"level": "BUILDING"}}),
        (AREAS_IN_FULL, {"f": {"search": "%", "level": "COMPOUND"}}),
        (AREAS_BY_LEVEL, {}),
        (AREAS_BY_LEVEL, {"f": {"parentId": gid("Compound", w.compound)}}),
    ]
    await _compiled_for_the_signed_in(both, tokens, cases)
    # an id of no area is the ordinary path's error
    bad = {"f": {"parentId": gid("Household", w.household)}}
    assert await both.same(AREAS_IN_FULL, bad, tokens["staff"]) == "resolvers"


COMPOUND_IN_FULL = """
query Compound($id: ID!) {
  node(id: $id) {
    ... on Compound {
      id name kind address managementPlan
      path { __typename id name level parent { id } }
      community { id name path { id } }
      ownerCommittee { id name kind }
      functionalBranch { id name }
      propertyManager { id name adoptions { id area { id name } } }
      adoptions { id unit { id name } area { __typename id ... on Compound { kind } } duties since until }
      buildings(first: 2) { totalCount edges { node { id name head { id name phone } householdCount
                                                      adoptions { id since } path { id level } } } }
    }
  }
}
"""


async def test_compound_detail_is_the_same_for_every_account(both: Both) -> None:
    """A compound with its path (in the path's order), attached organisations (the first of
    each kind), property manager and adoptions (oldest first), each building's too."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    # a second owner committee (the first by id is the compound's), a property manager, a
    # functional branch, adoptions of the compound and of a building (an older one listed first)
    await b.organisation(both.conn, w.county, "OWNER_COMMITTEE", "第二业委会", area_id=w.compound)
    branch = await b.organisation(both.conn, w.county, "FUNCTIONAL_BRANCH", "功能型党支部", area_id=w.compound)
    manager = await b.organisation(both.conn, w.county, "PROPERTY_COMPANY", "物业公司")
    await both.conn.execute("UPDATE areas SET property_manager_id = $2 WHERE id = $1", w.compound, manager)
    await b.adoption(both.conn, manager, w.compound, since="2020-01-01")
    await b.adoption(both.conn, branch, w.building)
    queries = (COMPOUND_IN_FULL, contract_operations()["CompoundDetail"])
    compounds = (w.compound, scene.far.compound)
    await _compiled_for_the_signed_in(
        both, tokens, [(q, {"id": gid("Compound", c)}) for q in queries for c in compounds]
    )


CHAIN_IN_FULL = """
query Chain($id: ID!) {
  node(id: $id) {
    ... on Household {
      id label
      responsibilityChain {
        __typename level
        area { __typename id name level ... on Building { head { id } } }
        responsible { id name phone household { id } }
      }
      building { responsible { id phone } }
    }
  }
}
"""


async def test_responsibility_chains_are_the_same_for_every_account(both: Both) -> None:
    """A household's chain: a link per level of its building's path (a level the tree skips
    has no area), and its stairwell unit's where it lives in one; each responsible person's
    phone masked and audited as on the ordinary path."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    # a compound right under the community (no district), a building with a stairwell unit
    compound = await b.area(both.conn, "COMPOUND", "无片区小区", w.community)
    building = await b.area(both.conn, "BUILDING", "9号楼", compound)
    stairwell = await b.area(both.conn, "UNIT", "2单元", building)
    in_unit = await b.household(both.conn, building, "2单元301", unit=stairwell)
    await b.responsible(both.conn, stairwell, w.people["resident"])
    await b.responsible(both.conn, w.community, w.people["cadre"])
    households = (w.household, w.neighbour_household, in_unit, scene.far.household)
    cases = [(CHAIN_IN_FULL, {"id": gid("Household", h)}) for h in households]
    cases += [(contract_operations()["ResponsibilityChain"], {"householdId": gid("Household", h)}) for h in households]
    await _compiled_for_the_signed_in(both, tokens, cases)


ORGANISATION_IN_FULL = """
query Organisation($id: ID!, $first: Int, $after: String) {
  node(id: $id) {
    ... on Organisation {
      id name kind memberCount
      parent { id name }
      children { id name kind }
      members(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { cursor node { __typename id role since until person { id name phone } organisation { id name } } }
      }
      adoptions { id area { id name level ... on Building { head { id } } } unit { id } duties since until }
      resources(first: 2) { totalCount edges { node { id title remaining } } }
    }
  }
}
"""


async def test_organisation_detail_is_the_same_for_every_account(both: Both) -> None:
    """An organisation with its current posts (a keyset page; an ended post left out), its
    current adoptions (oldest first; an ended one left out) and its resources."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w = scene.w
    for name in ("甲", "乙", "丙"):
        person = await b.person(both.conn, w.county, name, phone="13900000000")
        await both.conn.execute(
            "INSERT INTO posts (county_id, person_id, organisation_id, role, since) "
            "VALUES ($1, $2, $3, '委员', '2023-01-01')",
            w.county,
            person,
            w.unit,
        )
    await both.conn.execute(
        "UPDATE posts SET until = '2024-01-01' WHERE id = (SELECT max(id) FROM posts WHERE organisation_id = $1)",
        w.unit,
    )
    ended = await b.adoption(both.conn, w.unit, w.building, since="2019-05-01")
    await both.conn.execute("UPDATE adoptions SET until = '2020-01-01' WHERE id = $1", ended)
    await b.adoption(both.conn, w.unit, w.other_building, since="2019-06-01")
    first_post = await both.conn.fetchval("SELECT min(id) FROM posts WHERE organisation_id = $1", w.unit)
    cursor = base64.urlsafe_b64encode(f"[{first_post}]".encode()).decode().rstrip("=")
    cases: list[tuple[str, dict[str, Any]]] = [
        (ORGANISATION_IN_FULL, {"id": gid("Organisation", w.unit)}),
        (ORGANISATION_IN_FULL, {"id": gid("Organisation", w.unit), "first": 1}),
        (ORGANISATION_IN_FULL, {"id": gid("Organisation", w.unit), "first": 2, "after": cursor}),
        (ORGANISATION_IN_FULL, {"id": gid("Organisation", scene.far.unit)}),
        (contract_operations()["OrganisationDetail"], {"id": gid("Organisation", w.unit)}),
    ]
    await _compiled_for_the_signed_in(both, tokens, cases)


ORDER_ATTACHMENTS_IN_FULL = """
query Attachments($id: ID!) {
  node(id: $id) {
    ... on ServiceOrder {
      id number
      attachments { __typename id url thumbnailUrl contentType byteSize caption createdAt }
      timeline { action }
    }
  }
}
"""


async def test_order_attachments_are_the_same_for_every_account(both: Both) -> None:
    """An order's attachments (whoever sees the order sees them, oldest first), their URLs from
    the request's base URL; node(id) of an attachment stays the ordinary path's."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    w, orders = scene.w, scene.orders
    for order, content_type, thumbnail, caption, at in (
        (orders["submitted"], "image/jpeg", "b" * 64, '漏水的"水管"', "2024-02-29T23:59:59.5+00"),
        (orders["submitted"], "application/pdf", None, None, "2024-03-01T00:00:00+08"),
        (orders["dispatched"], "image/png", "c" * 64, "门", "2024-03-02T00:00:00+00"),
    ):
        await both.conn.execute(
            "INSERT INTO attachments (county_id, subject_type, subject_id, sha256, content_type, byte_size, "
            "thumbnail_sha256, caption, created_at) "
            "VALUES ($1, 'ServiceOrder', $2, $3, $4, 1234, $5, $6, $7::text::timestamptz)",
            w.county,
            order,
            "a" * 64,
            content_type,
            thumbnail,
            caption,
            at,
        )
    queries = (ORDER_ATTACHMENTS_IN_FULL, contract_operations()["OrderAttachments"])
    chosen = (orders["submitted"], orders["dispatched"], orders["to_unit"])
    await _compiled_for_the_signed_in(
        both, tokens, [(q, {"id": gid("ServiceOrder", o)}) for q in queries for o in chosen]
    )
    attachment = await both.conn.fetchval("SELECT min(id) FROM attachments WHERE subject_id = $1", orders["submitted"])
    node = "query($id: ID!) { node(id: $id) { id ... on Attachment { url } } }"
    for account in ("staff", "resident", "neighbour"):
        assert await both.same(node, {"id": gid("Attachment", attachment)}, tokens[account]) == "resolvers"


NODES = """
query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename id
    ... on Person { name phone home: household { id label } }
    ... on Household { label residents { id name phone } building { name head { name phone } } }
    ... on Building { name head { id name phone } households(first: 2) { totalCount edges { node { id label } } } }
    ... on ServiceOrder { number status household { label residents { name phone } } assignee { name phone } }
    ... on Finding { findingStatus: status published compound { name } }
    ... on User { username account: person { name phone } }
    ... on Need { title needStatus: status community { name } }
    ... on AuditEntry { action targetType user { username } }
    ... on Post { role person { name phone } organisation { name } }
  }
}
"""


async def test_nodes_are_one_statement_and_the_same_for_every_account(both: Both) -> None:
    """`nodes(ids)` (issue 13): one row set per type the ids name, answered in the ids' order
    with node()'s visibility, masking and audit rows: for every account, ids of one type, of
    every declared type, repeated, unknown, of the other county, not visible; an id that
    does not decode or names a type node() leaves to the ordinary path, and more than 100
    ids (its error), run on the ordinary path."""
    from resolvers.compiled.declarations import SOURCES

    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    declared = [t for t in scene.objects if t in SOURCES and SOURCES[t].node]
    assert {"Building", "Household", "Person", "ServiceOrder", "User", "Finding", "Post"} <= set(declared)
    ours = [gid(t, scene.objects[t]) for t in declared]
    theirs = [gid(t, scene.far_objects[t]) for t in declared]
    w = scene.w
    buildings = [gid("Building", b) for b in (w.building, w.other_building, scene.far.building)]
    people = [gid("Person", p) for p in w.people.values()]
    households = [gid("Household", w.household), gid("Household", 10**12), gid("Household", scene.far.household)]
    compiled = [
        [],
        buildings,
        people + households,
        ours,
        list(reversed(ours)) + theirs,
        [buildings[0], people[0], buildings[0], households[0], people[0], buildings[0]],  # duplicates
        [gid("Building", 10**12), gid("ServiceOrder", 0)],  # unknown
        [gid("ServiceOrder", o) for o in scene.orders.values()] + [gid("Finding", scene.objects["Finding"])],
        (people * 20)[:100],  # the most one request may name
    ]
    ordinary = [
        [buildings[0], "not-an-id"],
        [buildings[0], gid("Visit", scene.objects["Visit"])],  # a type the compiled path does not declare
        [gid("Attachment", scene.objects["Attachment"])],  # declared for its rows only (`Source.node`)
        [buildings[0], base64.urlsafe_b64encode(b"OrderEvent:1").decode()],  # not a Node type
        (people * 21)[:101],  # BAD_USER_INPUT
    ]
    for account in ACCOUNTS:
        for named in compiled:
            path = await both.same(NODES, {"ids": named}, tokens[account])
            assert path == ("resolvers" if account == "anonymous" else "compiled"), (account, named)
        for named in ordinary:
            assert await both.same(NODES, {"ids": named}, tokens[account]) == "resolvers", (account, named)
    # a literal list, aliases, and node() beside nodes()
    text = (
        "query($id: ID!, $ids: [ID!]!) { a: nodes(ids: $ids) { id ... on Building { name } } "
        f'b: nodes(ids: ["{buildings[1]}", $id]) {{ __typename }} node(id: $id) {{ id }} '
        "c: nodes(ids: []) { id } }"
    )
    for account in ("staff", "head", "resident", "foreign_admin"):
        variables = {"id": people[0], "ids": [buildings[2], people[0], buildings[0]]}
        assert await both.same(text, variables, tokens[account]) == "compiled"


async def test_one_plan_of_nodes_serves_every_order_and_number_of_ids(both: Both) -> None:
    """A plan of `nodes(ids)` depends on the set of types the ids name, not on how many ids
    there are nor their order: planned on its first request, then reused."""
    scene = await build_scene(both.conn)
    token = tokens_for(both.compiled, scene)["staff"]
    text = "query Few($ids: [ID!]!) { nodes(ids: $ids) { id ... on Building { name } ... on Person { name } } }"
    building, person = gid("Building", scene.w.building), gid("Person", scene.w.people["resident"])
    built = run.plans_built
    assert await both.same(text, {"ids": [building, person]}, token) == "compiled"
    assert run.plans_built == built + 1
    for ids in ([person, building], [person, person, building, person], [building] * 30 + [person]):
        assert await both.same(text, {"ids": ids}, token) == "compiled"
    assert run.plans_built == built + 1
    assert await both.same(text, {"ids": [building]}, token) == "compiled"
    assert run.plans_built == built + 2, "another set of types: another plan"


COMPOUNDS_WITH_COMMITTEE_AND_BUILDINGS = """
query Compounds($id: ID!) {
  compounds(filter: {within: $id}) { totalCount edges { node {
    id name ownerCommittee { id } buildings { totalCount } } } }
}
"""


async def test_a_relation_s_own_alias_is_not_taken_for_a_column_of_an_enclosing_level(both: Both) -> None:
    """A compound's owners' committee (a level with the statement's own columns) beside its
    buildings' totalCount (`FROM areas a ... area_access(a, ...)`): PostgreSQL looks an
    unqualified name up as a column of every enclosing level first, so a level's output column
    named `a` made `a` that text; found by the random selections."""
    scene = await build_scene(both.conn)
    tokens = tokens_for(both.compiled, scene)
    variables = {"id": gid("Community", scene.w.community)}
    for account in ACCOUNTS:
        expected = "resolvers" if account == "anonymous" else "compiled"
        assert await both.same(COMPOUNDS_WITH_COMMITTEE_AND_BUILDINGS, variables, tokens[account]) == expected, account
    data = (await both.compiled.post(COMPOUNDS_WITH_COMMITTEE_AND_BUILDINGS, variables, token=tokens["admin"]))["data"]
    assert data["compounds"]["edges"][0]["node"]["buildings"]["totalCount"] >= 1
