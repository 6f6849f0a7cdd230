"""The authorization matrix: every contract operation served so far, against every sample
account (and anonymous, a partner unit's API token, the county admin of another county, and
two accounts of our county outside every scope the scene's objects lie in: the staff of the
county's other community and the building head of the neighbour's building, living elsewhere).

Each row names an operation (a contract operation by name, or a query text for fields the
contract does not name), builds its variables from the scene, and states the outcome per
account; accounts not named get the row's `others`, except the two OUTSIDERS, who get the
neighbour's outcome (a resident of the community without any role) unless named. Outcomes:

- ALLOWED: answered with data;
- FORBIDDEN: a `FORBIDDEN` userError or GraphQL error;
- UNAUTHENTICATED: a GraphQL error with code `UNAUTHENTICATED`;
- MASKED: answered, but the row's `masked` test finds personal data withheld;
- HIDDEN: not visible: `null` (node), an empty list, or a `NOT_FOUND` userError.

Other domains append rows to ROWS (and objects of their node types to NODE_OBJECTS): the
scene is `tests.builders.world()` for our county plus a second world for another county,
built once. Every request runs in a savepoint that is rolled back, so each row and account
starts from the same state.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from db import orders as orders_db
from db.orders import Changes
from db.pool import Conn, SingleConnectionDatabase
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids, nodes
from resolvers.order_workflow import TRANSITIONS
from tests import builders as b
from tests.builders import SAMPLE_PASSWORD, World
from tests.conftest import TEST_SECRET
from tests.support import Api, contract_operations


class Outcome(enum.Enum):
    ALLOWED = "ALLOWED"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    MASKED = "MASKED"
    HIDDEN = "HIDDEN"


ALLOWED, FORBIDDEN, UNAUTHENTICATED, MASKED, HIDDEN = (
    Outcome.ALLOWED,
    Outcome.FORBIDDEN,
    Outcome.UNAUTHENTICATED,
    Outcome.MASKED,
    Outcome.HIDDEN,
)

SAMPLE = ("admin", "staff", "head", "cadre", "resident", "neighbour", "unit")
OUTSIDERS = ("outside_staff", "outside_head")
ACCOUNTS = ("anonymous", *SAMPLE, "apitoken", "foreign_admin", *OUTSIDERS)
API_TOKEN_SECRET = "gjt_matrix-secret-" + "m" * 30


@dataclass
class Scene:
    """Our county (`w`) and another county (`far`), each with one object of every node type."""

    w: World
    far: World
    objects: dict[str, int]
    far_objects: dict[str, int]
    usernames: dict[str, str]
    api_token_id: int
    enterprise: int
    orders: dict[str, int]
    outsiders: dict[str, int]
    # other people of the scene, by role in it
    extra: dict[str, int] = field(default_factory=dict)


def gid(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


# --- one object of every node type in a world; other domains append builders --------------


async def _stairwell(conn: asyncpg.Connection, w: World) -> int:
    return await b.area(conn, "UNIT", "1单元", w.building)


async def _post(conn: asyncpg.Connection, w: World) -> int:
    return int(await conn.fetchval("SELECT id FROM posts WHERE person_id = $1", w.people["cadre"]))


async def _api_token(conn: asyncpg.Connection, w: World) -> int:
    return await b.api_token(conn, w.unit, w.users["unit"], f"gjt_{w.county}-" + "t" * 40)


async def _audit_entry(conn: asyncpg.Connection, w: World) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO audit_log (county_id, user_id, action, target_type, target_id) "
            "VALUES ($1, $2, 'matrix', 'Building', $3) RETURNING id",
            w.county,
            w.users["admin"],
            w.building,
        )
    )


async def _visit(conn: asyncpg.Connection, w: World) -> int:
    return await b.visit(conn, await b.pairing_of(conn, w.people["cadre"], w.household), "HOME_VISIT", "2025-01-15")


async def _registration(conn: asyncpg.Connection, w: World) -> int:
    """The unit registers with the community (双报到), pending."""
    return int(
        await conn.fetchval(
            "INSERT INTO registrations (county_id, community_id, organisation_id) VALUES ($1, $2, $3) RETURNING id",
            w.county,
            w.community,
            w.unit,
        )
    )


async def _activity(conn: asyncpg.Connection, w: World) -> int:
    """A coming activity of the community hosted by the unit."""
    return await b.activity(conn, w.county, w.community, [w.unit])


async def _signup(conn: asyncpg.Connection, w: World) -> int:
    """The resident's sign-up for another coming activity hosted by the unit."""
    activity = await b.activity(conn, w.county, w.community, [w.unit], title="义诊")
    return int(
        await conn.fetchval(
            "WITH place AS (UPDATE activities SET signup_count = signup_count + 1 WHERE id = $2) "
            "INSERT INTO signups (county_id, activity_id, person_id) VALUES ($1, $2, $3) RETURNING id",
            w.county,
            activity,
            w.people["resident"],
        )
    )


async def _meeting(conn: asyncpg.Connection, w: World) -> int:
    """A scheduled meeting of the community in which the unit takes part (单位联席会)."""
    meeting = await b.meeting(conn, w.community, kind="JOINT_UNIT", title="单位联席会")
    await conn.execute(
        "INSERT INTO meeting_organisations (meeting_id, organisation_id) VALUES ($1, $2)", meeting, w.unit
    )
    return meeting


async def _resolution(conn: asyncpg.Connection, w: World) -> int:
    meeting = await b.meeting(conn, w.community, kind="JOINT_UNIT", title="单位联席会", status="HELD")
    await conn.execute(
        "INSERT INTO meeting_organisations (meeting_id, organisation_id) VALUES ($1, $2)", meeting, w.unit
    )
    return int(
        await conn.fetchval(
            "INSERT INTO resolutions (county_id, meeting_id, position, text) VALUES ($1, $2, 0, '开放停车位') "
            "RETURNING id",
            w.county,
            meeting,
        )
    )


NodeObject = Callable[[asyncpg.Connection, World], Any]

NODE_OBJECTS: dict[str, NodeObject] = {
    "County": lambda conn, w: _const(w.county),
    "Town": lambda conn, w: _const(w.town),
    "Community": lambda conn, w: _const(w.community),
    "District": lambda conn, w: _const(w.district),
    "Compound": lambda conn, w: _const(w.compound),
    "Building": lambda conn, w: _const(w.building),
    "Unit": _stairwell,
    "Organisation": lambda conn, w: _const(w.unit),
    "Household": lambda conn, w: _const(w.household),
    "Person": lambda conn, w: _const(w.people["resident"]),
    "Post": _post,
    "Adoption": lambda conn, w: b.adoption(conn, w.unit, w.compound),
    "User": lambda conn, w: _const(w.users["resident"]),
    "ApiToken": _api_token,
    "AuditEntry": _audit_entry,
    # pairings
    "Pairing": lambda conn, w: b.pairing_of(conn, w.people["cadre"], w.household),
    "Visit": _visit,
    "Registration": _registration,
    # service orders
    "ServiceOrder": lambda conn, w: b.service_order(conn, w),
    # community life
    "Activity": _activity,
    "Signup": _signup,
    "Meeting": _meeting,
    "Resolution": _resolution,
    "Finding": lambda conn, w: b.finding(conn, w.compound),
    "Renovation": lambda conn, w: b.renovation(conn, w.compound),
}


async def _const(value: int) -> int:
    return value


def everyone(outcome: Outcome = ALLOWED, **exceptions: Outcome) -> dict[str, Outcome]:
    """Every account but anonymous (and the OUTSIDERS, who follow the neighbour)."""
    return {a: exceptions.get(a, outcome) for a in ACCOUNTS if a != "anonymous" and a not in OUTSIDERS}


# who sees an object of each type in their own county (everyone else in the county: HIDDEN)
PUBLIC_IN_COUNTY = {a: ALLOWED for a in (*SAMPLE, "apitoken", *OUTSIDERS)}
NODE_VISIBILITY: dict[str, dict[str, Outcome]] = {
    # the user themself, and whoever may list the account (`users`): the county, staff where its person lives
    "User": {"admin": ALLOWED, "resident": ALLOWED, "staff": ALLOWED},
    "ApiToken": {"admin": ALLOWED, "unit": ALLOWED, "apitoken": ALLOWED},
    "AuditEntry": {"admin": ALLOWED},
    # a pairing (and its visits): the county, staff and the building head in scope, the household's
    # members (head and resident live there), the cadre, and the admin of the cadre's unit
    "Pairing": everyone(neighbour=HIDDEN, foreign_admin=HIDDEN),
    "Visit": everyone(neighbour=HIDDEN, foreign_admin=HIDDEN),
    # the unit's registration: the county, staff of the community, the unit's admin
    "Registration": {"admin": ALLOWED, "staff": ALLOWED, "unit": ALLOWED, "apitoken": ALLOWED},
    # the resident's household's order: its parties (the household, staff in scope)
    "ServiceOrder": {"admin": ALLOWED, "staff": ALLOWED, "head": ALLOWED, "resident": ALLOWED},
    # the resident's sign-up: the person, staff in scope, the host's admin
    "Signup": {"admin": ALLOWED, "staff": ALLOWED, "resident": ALLOWED, "unit": ALLOWED, "apitoken": ALLOWED},
    # meetings (and their resolutions): staff in scope and the participating unit's admin
    "Meeting": {"admin": ALLOWED, "staff": ALLOWED, "unit": ALLOWED, "apitoken": ALLOWED},
    "Resolution": {"admin": ALLOWED, "staff": ALLOWED, "unit": ALLOWED, "apitoken": ALLOWED},
    # an open finding, not yet published: staff in scope only
    "Finding": {"admin": ALLOWED, "staff": ALLOWED},
}


async def build_scene(conn: asyncpg.Connection) -> Scene:
    w = await b.world(conn)
    far = await b.world(conn)
    usernames = await b.with_passwords(conn, w)
    objects = {t: await make(conn, w) for t, make in NODE_OBJECTS.items()}
    far_objects = {t: await make(conn, far) for t, make in NODE_OBJECTS.items()}
    api_token_id = await b.api_token(conn, w.unit, w.users["unit"], API_TOKEN_SECRET)
    # a cross-appointment in our community: the head sits on the owner committee and the residents' committee
    owners = await b.organisation(conn, w.county, "OWNER_COMMITTEE", "滨河小区业委会", area_id=w.compound)
    committee = await b.organisation(conn, w.county, "RESIDENTS_COMMITTEE", "东岳殿社区居委会", area_id=w.community)
    await b.post(conn, w.people["head"], owners, "主任")
    await b.post(conn, w.people["head"], committee, "委员")
    enterprise = await b.organisation(conn, w.county, "ENTERPRISE", "某建材公司")
    # the resident is a party member (so that they may register with their home community)
    await conn.execute("UPDATE persons SET party_member = true WHERE id = $1", w.people["resident"])
    # ... living alone (a tag only our county's resident carries, for SearchPeople)
    await conn.execute("UPDATE persons SET tags = '{独居老人}' WHERE id = $1", w.people["resident"])
    orders = await _orders_in_every_state(conn, w)
    outside_staff = await b.person(conn, w.county, "外社区社工", phone="13800000009")
    outside_head = await b.person(conn, w.county, "二号楼长", phone="13800000010")
    await b.responsible(conn, w.other_building, outside_head)
    outsiders = {
        "outside_staff": await b.user(
            conn, w.county, person_id=outside_staff, grants=[("COMMUNITY_STAFF", w.other_community)]
        ),
        "outside_head": await b.user(
            conn, w.county, person_id=outside_head, grants=[("BUILDING_HEAD", w.other_building)]
        ),
    }
    # a newcomer to the resident's building, without an account yet
    extra = {"newcomer": await b.person(conn, w.county, "新住户", household=w.household)}
    # a home visit of this month (county time), which its cadre may still correct or delete
    today = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).date().isoformat()
    extra["current_visit"] = await b.visit(
        conn, await b.pairing_of(conn, w.people["cadre"], w.household), "HOME_VISIT", today
    )
    return Scene(w, far, objects, far_objects, usernames, api_token_id, enterprise, orders, outsiders, extra)


async def _orders_in_every_state(conn: asyncpg.Connection, w: World) -> dict[str, int]:
    """Orders of the resident's household: SUBMITTED, DISPATCHED / ACCEPTED / COMPLETED by
    the cadre, and DISPATCHED to the unit."""
    db = Conn(conn)
    made = {key: await b.service_order(conn, w, title=key) for key in STATES}

    async def step(key: str, name: str, actor: str, changes: Changes) -> None:
        order = await orders_db.order_by_id(db, made[key])
        assert order is not None
        done = await orders_db.transition(
            db,
            TRANSITIONS[name],
            order,
            actor_user_id=w.users[actor],
            actor_person_id=w.people.get(actor),
            note=None,
            changes=changes,
        )
        assert done is not None, (key, name)

    to_cadre = Changes(assignee_id=w.people["cadre"])
    for key in ("dispatched", "accepted", "completed"):
        await step(key, "dispatchOrder", "staff", to_cadre)
    for key in ("accepted", "completed"):
        await step(key, "acceptOrder", "cadre", Changes())
    await step("completed", "completeOrder", "cadre", Changes(resolution="已修好"))
    await step("to_unit", "dispatchOrder", "staff", Changes(assignee_unit_id=w.unit))
    return made


STATES = ("submitted", "dispatched", "accepted", "completed", "to_unit")


def tokens_for(api: Api, s: Scene) -> dict[str, str | None]:
    t: dict[str, str | None] = {"anonymous": None, "apitoken": API_TOKEN_SECRET}
    for key in SAMPLE:
        t[key] = api.token_for(s.w.users[key])
    t["foreign_admin"] = api.token_for(s.far.users["admin"])
    for key, user in s.outsiders.items():
        t[key] = api.token_for(user)
    return t


# --- rows -----------------------------------------------------------------------------------


Data = dict[str, Any]


@dataclass
class Row:
    label: str
    operation: str  # a contract operation's name, or a query text
    variables: Callable[[Scene], dict[str, Any]]
    expect: dict[str, Outcome]
    others: Outcome = FORBIDDEN
    masked: Callable[[Data], bool] | None = None
    hidden: Callable[[Data], bool] | None = None
    anonymous: Outcome = UNAUTHENTICATED
    marks: list[Any] = field(default_factory=list)
    # a `hidden` test that needs the scene's ids (replaces `hidden` when given)
    hidden_in: Callable[[Scene], Callable[[Data], bool]] | None = None

    def outcome_for(self, account: str) -> Outcome:
        if account == "anonymous":
            return self.expect.get(account, self.anonymous)
        if account in OUTSIDERS:
            return self.expect.get(account, self.outcome_for("neighbour"))
        return self.expect.get(account, self.others)


def _edges(connection: Data) -> list[Data]:
    return [e["node"] for e in connection["edges"]]


def _households_masked(data: Data) -> bool:
    return all(h["residents"] == [] for h in _edges(data["node"]["households"]))


def _chain_masked(data: Data) -> bool:
    people = [link["responsible"] for link in data["node"]["responsibilityChain"] if link["responsible"]]
    return all(p["phone"] is None for p in people)


AUDIT_LOG = (
    "query($u: ID) { auditLog(first: 5, filter: {userId: $u}) { totalCount edges { node { id action user { id } } } } }"
)

ROWS: list[Row] = [
    # identity
    Row(
        "Login (a bearer token does not matter)",
        "Login",
        lambda s: {"username": s.usernames["resident"], "password": SAMPLE_PASSWORD},
        everyone(),
        anonymous=ALLOWED,
    ),
    Row("Viewer", "Viewer", lambda s: {}, everyone(), anonymous=HIDDEN, hidden=lambda d: d["viewer"] is None),
    Row(
        "CreateApiToken for the unit",
        "CreateApiToken",
        lambda s: {"organisationId": gid("Organisation", s.w.unit), "name": "对接"},
        {"admin": ALLOWED, "unit": ALLOWED, "foreign_admin": HIDDEN},
    ),
    Row(
        "CreateApiToken for another organisation of the county",
        "CreateApiToken",
        lambda s: {"organisationId": gid("Organisation", s.enterprise), "name": "对接"},
        {"admin": ALLOWED, "foreign_admin": HIDDEN},
    ),
    Row(
        "RevokeApiToken of the unit",
        "RevokeApiToken",
        lambda s: {"apiTokenId": gid("ApiToken", s.api_token_id)},
        {"admin": ALLOWED, "unit": ALLOWED, "apitoken": FORBIDDEN},
        others=HIDDEN,
    ),
    Row(
        "auditLog (county admin only)",
        AUDIT_LOG,
        lambda s: {"u": gid("User", s.w.users["admin"])},
        {"admin": ALLOWED, "foreign_admin": HIDDEN},
        hidden=lambda d: not any(e["node"]["action"] == "matrix" for e in d["auditLog"]["edges"]),
    ),
    Row(
        "apiTokens of the unit",
        "query($o: ID!) { apiTokens(organisationId: $o) { totalCount edges { node { id lastUsedAt } } } }",
        lambda s: {"o": gid("Organisation", s.w.unit)},
        {"admin": ALLOWED, "unit": ALLOWED, "apitoken": ALLOWED},
    ),
    # areas
    Row(
        "Areas under the community",
        "Areas",
        lambda s: {"parentId": gid("Community", s.w.community)},
        everyone(foreign_admin=HIDDEN),
        hidden=lambda d: d["areas"]["totalCount"] == 0,
    ),
    Row(
        "Compounds within the community",
        "Compounds",
        lambda s: {"communityId": gid("Community", s.w.community)},
        everyone(foreign_admin=HIDDEN),
        hidden=lambda d: d["compounds"]["totalCount"] == 0,
    ),
    Row(
        "CompoundDetail",
        "CompoundDetail",
        lambda s: {"id": gid("Compound", s.w.compound)},
        everyone(foreign_admin=HIDDEN),
        hidden=lambda d: d["node"] is None,
    ),
    Row(
        "BuildingHouseholds of the resident's building",
        "BuildingHouseholds",
        lambda s: {"id": gid("Building", s.w.building)},
        everyone(neighbour=MASKED, unit=MASKED, apitoken=MASKED, foreign_admin=HIDDEN),
        masked=_households_masked,
        hidden=lambda d: d["node"] is None,
    ),
    Row(
        "ResponsibilityChain of the resident's household",
        "ResponsibilityChain",
        lambda s: {"householdId": gid("Household", s.w.household)},
        everyone(neighbour=MASKED, unit=MASKED, apitoken=MASKED, foreign_admin=HIDDEN),
        masked=_chain_masked,
        hidden=lambda d: d["node"] is None,
    ),
    Row(
        "the resident's phone and household through node",
        "query($id: ID!) { node(id: $id) { ... on Person { name phone household { id } } } }",
        lambda s: {"id": gid("Person", s.w.people["resident"])},
        everyone(neighbour=MASKED, unit=MASKED, apitoken=MASKED, foreign_admin=HIDDEN),
        masked=lambda d: d["node"]["phone"] is None and d["node"]["household"] is None,
        hidden=lambda d: d["node"] is None,
    ),
    Row(
        "the resident's household's residents through node",
        "query($id: ID!) { node(id: $id) { ... on Household { label residents { name phone } } } }",
        lambda s: {"id": gid("Household", s.w.household)},
        everyone(neighbour=MASKED, unit=MASKED, apitoken=MASKED, foreign_admin=HIDDEN),
        masked=lambda d: d["node"]["residents"] == [],
        hidden=lambda d: d["node"] is None,
    ),
    Row(
        "AssignResponsible of the resident's building",
        "AssignResponsible",
        lambda s: {"areaId": gid("Building", s.w.building), "personId": gid("Person", s.w.people["neighbour"])},
        {"admin": ALLOWED, "staff": ALLOWED, "foreign_admin": HIDDEN},
    ),
    Row(
        "Organisations (search the unit)",
        "Organisations",
        lambda s: {"search": "县财政局"},
        everyone(foreign_admin=ALLOWED),
        hidden=lambda d: d["organisations"]["totalCount"] == 0,
    ),
    Row(
        "CrossAppointments of the community",
        "CrossAppointments",
        lambda s: {"communityId": gid("Community", s.w.community)},
        everyone(foreign_admin=HIDDEN),
        hidden=lambda d: d["crossAppointments"] == [],
    ),
]

# --- pairings (pairings.graphql) ----------------------------------------------------------


def _my_pairings_hidden(d: Data) -> bool:
    viewer = d["viewer"]
    return viewer is None or viewer["person"] is None or viewer["person"]["pairings"]["totalCount"] == 0


def _report_hidden(name: str) -> Callable[[Data], bool]:
    return lambda d: d[name] is None


COUNTY_AND_STAFF = {"admin": ALLOWED, "staff": ALLOWED, "foreign_admin": HIDDEN}
# ... and the unit's admin: it adopts the compound (NODE_OBJECTS["Adoption"]), hosts the activities
# and takes part in the meeting of the scene
STAFF_AND_UNIT = COUNTY_AND_STAFF | {"unit": ALLOWED, "apitoken": ALLOWED}

ROWS += [
    Row(
        "Adopt the other building for the unit",
        "Adopt",
        lambda s: {"unitId": gid("Organisation", s.w.unit), "areaId": gid("Building", s.w.other_building)},
        STAFF_AND_UNIT,
    ),
    Row(
        "Pair the cadre with the neighbour's household",
        "Pair",
        lambda s: {
            "cadreId": gid("Person", s.w.people["cadre"]),
            "householdId": gid("Household", s.w.neighbour_household),
        },
        COUNTY_AND_STAFF,
    ),
    Row(
        "MyPairings (the cadre's own)",
        "MyPairings",
        lambda s: {"asOf": "2025-01-31"},
        {"cadre": ALLOWED},
        others=HIDDEN,
        anonymous=HIDDEN,
        hidden=_my_pairings_hidden,
    ),
    Row(
        "the cadre's pairings through node(Person)",
        "query($id: ID!) { node(id: $id) { ... on Person { pairings(first: 10) { totalCount "
        "edges { node { id household { id label } } } } } } }",
        lambda s: {"id": gid("Person", s.w.people["cadre"])},
        everyone(neighbour=HIDDEN, foreign_admin=HIDDEN),
        hidden=lambda d: d["node"] is None or d["node"]["pairings"]["totalCount"] == 0,
    ),
    Row(
        "RecordVisit on the cadre's pairing",
        "RecordVisit",
        lambda s: {"pairingId": gid("Pairing", s.objects["Pairing"]), "kind": "HOME_VISIT", "occurredOn": "2025-01-20"},
        {"cadre": ALLOWED, "neighbour": HIDDEN, "foreign_admin": HIDDEN},
    ),
    Row(
        "RegisterWithCommunity: the unit with the other community",
        "RegisterWithCommunity",
        lambda s: {
            "communityId": gid("Community", s.w.other_community),
            "organisationId": gid("Organisation", s.w.unit),
        },
        {"unit": ALLOWED, "apitoken": ALLOWED, "foreign_admin": HIDDEN},
    ),
    Row(
        "RegisterWithCommunity: the resident (a party member) with their community",
        "RegisterWithCommunity",
        lambda s: {"communityId": gid("Community", s.w.community), "personId": gid("Person", s.w.people["resident"])},
        {"resident": ALLOWED, "foreign_admin": HIDDEN},
    ),
]


def _report_area(
    type_name: str, area: Callable[[World], int], extra: dict[str, Any]
) -> Callable[[Scene], dict[str, Any]]:
    return lambda s: {"areaId": gid(type_name, area(s.w))} | extra


_REPORTS: list[tuple[str, dict[str, Any]]] = [
    ("Coverage", {}),
    ("Compliance", {"asOf": "2025-01-31"}),
    ("Statistics", {}),
    ("StatisticsForPeriod", {"from": "2021-01-01", "to": "2025-12-31"}),
]
_REPORT_FIELDS = {"StatisticsForPeriod": "statistics"}
for _report, _extra in _REPORTS:
    ROWS += [
        Row(
            f"{_report} of the community",
            _report,
            _report_area("Community", lambda w: w.community, _extra),
            COUNTY_AND_STAFF,
            hidden=_report_hidden(_REPORT_FIELDS.get(_report, _report.lower())),
        ),
        Row(
            f"{_report} of the compound the unit adopts",
            _report,
            _report_area("Compound", lambda w: w.compound, _extra),
            STAFF_AND_UNIT,
            hidden=_report_hidden(_REPORT_FIELDS.get(_report, _report.lower())),
        ),
    ]

# --- service orders (orders.graphql) --------------------------------------------------------

# the head lives in the resident's household: both are the household that placed the orders
HOUSEHOLD = {"head": ALLOWED, "resident": ALLOWED}
PARTIES_REFUSED = {"admin": FORBIDDEN, "staff": FORBIDDEN, "head": FORBIDDEN, "resident": FORBIDDEN}


def _order(state: str) -> Callable[[Scene], dict[str, Any]]:
    return lambda s: {"orderId": gid("ServiceOrder", s.orders[state])}


def _no_orders(d: Data) -> bool:
    return bool(d["serviceOrders"]["totalCount"] == 0)


ROWS += [
    Row(
        "PlaceOrder for the resident's household",
        "PlaceOrder",
        lambda s: {"householdId": gid("Household", s.w.household), "title": "楼道灯坏了", "category": "REPAIR"},
        COUNTY_AND_STAFF | HOUSEHOLD,
    ),
    Row(
        "DispatchOrder a submitted order to the cadre",
        "DispatchOrder",
        lambda s: _order("submitted")(s) | {"assigneeId": gid("Person", s.w.people["cadre"])},
        COUNTY_AND_STAFF | {"head": FORBIDDEN, "resident": FORBIDDEN},
        others=HIDDEN,
    ),
    Row(
        "AcceptOrder dispatched to the cadre",
        "AcceptOrder",
        _order("dispatched"),
        PARTIES_REFUSED | {"cadre": ALLOWED},
        others=HIDDEN,
    ),
    Row(
        "AcceptOrder dispatched to the unit (its members and admin)",
        "AcceptOrder",
        _order("to_unit"),
        PARTIES_REFUSED | {"cadre": ALLOWED, "unit": ALLOWED, "apitoken": ALLOWED},
        others=HIDDEN,
    ),
    Row(
        "ReturnOrder dispatched to the cadre",
        "ReturnOrder",
        lambda s: _order("dispatched")(s) | {"reason": "不在本片区"},
        PARTIES_REFUSED | {"cadre": ALLOWED},
        others=HIDDEN,
    ),
    Row(
        "CompleteOrder accepted by the cadre",
        "CompleteOrder",
        lambda s: _order("accepted")(s) | {"resolution": "已修好"},
        PARTIES_REFUSED | {"cadre": ALLOWED},
        others=HIDDEN,
    ),
    Row(
        "RateOrder completed by the cadre",
        "RateOrder",
        lambda s: _order("completed")(s) | {"score": 5},
        {"admin": FORBIDDEN, "staff": FORBIDDEN, "cadre": FORBIDDEN} | HOUSEHOLD,
        others=HIDDEN,
    ),
    Row(
        "CancelOrder a submitted order",
        "CancelOrder",
        _order("submitted"),
        {"admin": ALLOWED, "staff": ALLOWED} | HOUSEHOLD,
        others=HIDDEN,
    ),
    Row(
        "ServiceOrders of the community (each party sees its own)",
        "ServiceOrders",
        lambda s: {"communityId": gid("Community", s.w.community)},
        everyone(neighbour=HIDDEN, foreign_admin=HIDDEN),
        hidden=_no_orders,
    ),
    Row(
        "ServiceOrders SUBMITTED (no assignee yet: the household and staff only)",
        "ServiceOrders",
        lambda s: {"communityId": gid("Community", s.w.community), "status": "SUBMITTED"},
        {"admin": ALLOWED, "staff": ALLOWED} | HOUSEHOLD,
        others=HIDDEN,
        hidden=_no_orders,
    ),
    Row(
        "ServiceOrders assigned to the unit (its members and admin, the household, staff)",
        "ServiceOrders",
        lambda s: {"assigneeId": gid("Organisation", s.w.unit)},
        everyone(neighbour=HIDDEN, foreign_admin=HIDDEN),
        hidden=_no_orders,
    ),
    Row(
        "OrderEvents of the community (graphql-transport-ws)",
        "OrderEvents",
        lambda s: {"communityId": gid("Community", s.w.community)},
        {"admin": ALLOWED, "staff": ALLOWED},
    ),
]

# --- community life (community-life.graphql) ------------------------------------------------

LATER = "2030-06-01T09:00:00+08:00"
LATER_END = "2030-06-01T11:00:00+08:00"

ROWS += [
    Row(
        "CreateActivity hosted by the unit",
        "CreateActivity",
        lambda s: {
            "hostIds": [gid("Organisation", s.w.unit)],
            "communityId": gid("Community", s.w.community),
            "title": "清洁家园",
            "kind": "CLEAN_UP",
            "startsAt": LATER,
            "endsAt": LATER_END,
            "capacity": 20,
        },
        STAFF_AND_UNIT,  # staff in scope, or UNIT_ADMIN of a host
    ),
    Row(
        "CreateActivity hosted by another enterprise",
        "CreateActivity",
        lambda s: {
            "hostIds": [gid("Organisation", s.enterprise)],
            "communityId": gid("Community", s.w.community),
            "title": "义诊",
            "kind": "FREE_CLINIC",
            "startsAt": LATER,
            "endsAt": LATER_END,
        },
        COUNTY_AND_STAFF,
    ),
    Row(
        "SignUp for a coming activity (the signed-in person)",
        "SignUp",
        lambda s: {"activityId": gid("Activity", s.objects["Activity"])},
        everyone(admin=FORBIDDEN, apitoken=FORBIDDEN, foreign_admin=HIDDEN),
    ),
    Row(
        "CheckIn the resident's sign-up",
        "CheckIn",
        lambda s: {"signupId": gid("Signup", s.objects["Signup"])},
        STAFF_AND_UNIT,  # staff in scope, or UNIT_ADMIN of a host
    ),
    Row(
        "Activities of the community (public in the county)",
        "Activities",
        lambda s: {"communityId": gid("Community", s.w.community)},
        everyone(foreign_admin=HIDDEN),
        hidden=lambda d: d["activities"]["totalCount"] == 0,
    ),
    Row(
        "the resident's sign-up through node: the host sees it, not the phone",
        "query($id: ID!) { node(id: $id) { ... on Signup { person { name phone } } } }",
        lambda s: {"id": gid("Signup", s.objects["Signup"])},
        {"admin": ALLOWED, "staff": ALLOWED, "resident": ALLOWED, "unit": MASKED, "apitoken": MASKED},
        others=HIDDEN,
        masked=lambda d: d["node"]["person"]["phone"] is None,
        hidden=lambda d: d["node"] is None,
    ),
    Row(
        "ScheduleMeeting in the community",
        "ScheduleMeeting",
        lambda s: {
            "kind": "RESIDENTS_REVIEW",
            "communityId": gid("Community", s.w.community),
            "title": "群众评议会",
            "startsAt": LATER,
            "organisationIds": [gid("Organisation", s.w.unit)],
        },
        COUNTY_AND_STAFF,
    ),
    Row(
        "RecordMinutes of the scheduled meeting, with a follow-up order",
        "RecordMinutes",
        lambda s: {
            "meetingId": gid("Meeting", s.objects["Meeting"]),
            "minutes": "议定修复路灯",
            "resolutions": [{"text": "修复路灯", "followUpHouseholdId": gid("Household", s.w.household)}],
        },
        COUNTY_AND_STAFF,
    ),
    Row(
        "Meetings of the community (staff, and the participating unit)",
        "Meetings",
        lambda s: {"communityId": gid("Community", s.w.community)},
        STAFF_AND_UNIT,
        others=HIDDEN,
        hidden=lambda d: d["meetings"]["totalCount"] == 0,
    ),
    Row(
        "ReportFinding in the compound",
        "ReportFinding",
        lambda s: {
            "compoundId": gid("Compound", s.w.compound),
            "category": "PILING",
            "description": "楼道堆放杂物",
            "deadline": "2030-01-01",
        },
        COUNTY_AND_STAFF,
    ),
    Row(
        "RectifyFinding the open finding",
        "RectifyFinding",
        lambda s: {"findingId": gid("Finding", s.objects["Finding"]), "note": "已清理"},
        COUNTY_AND_STAFF,
    ),
    Row(
        "Findings of the community (staff in scope; others read publicNotices)",
        "Findings",
        lambda s: {"areaId": gid("Community", s.w.community)},
        {"admin": ALLOWED, "staff": ALLOWED},
        others=HIDDEN,
        hidden=lambda d: d["findings"]["totalCount"] == 0,
    ),
]


# --- beyond the contract: the domains' other mutations and fields that reach personal data ---


def _mutation(field: str, input_type: str, selection: str) -> str:
    errors = "userErrors { field message code }"
    return f"mutation($input: {input_type}!) {{ {field}(input: $input) {{ {selection} {errors} }} }}"


def _input(make: Callable[[Scene], dict[str, Any]]) -> Callable[[Scene], dict[str, Any]]:
    return lambda s: {"input": make(s)}


ROWS += [
    Row(
        "a pairing's household's residents through node: the cadre's unit sees the pairing, not the phones",
        "query($id: ID!) { node(id: $id) { ... on Pairing { household { residents { name phone } } } } }",
        lambda s: {"id": gid("Pairing", s.objects["Pairing"])},
        everyone(unit=MASKED, apitoken=MASKED, neighbour=HIDDEN, foreign_admin=HIDDEN),
        masked=lambda d: d["node"]["household"]["residents"] == [],
        hidden=lambda d: d["node"] is None,
    ),
    Row(
        "volunteerHours of the resident",
        "query($p: ID) { volunteerHours(personId: $p) { hours activities } }",
        lambda s: {"p": gid("Person", s.w.people["resident"])},
        {"admin": ALLOWED, "staff": ALLOWED, "resident": ALLOWED},
        others=HIDDEN,
        hidden=lambda d: d["volunteerHours"] is None,
    ),
    Row(
        "endAdoption of the unit's adoption",
        _mutation("endAdoption", "EndAdoptionInput", "adoption { id until }"),
        _input(lambda s: {"adoptionId": gid("Adoption", s.objects["Adoption"])}),
        STAFF_AND_UNIT,
    ),
    Row(
        "endPairing of the cadre's pairing",
        _mutation("endPairing", "EndPairingInput", "pairing { id }"),
        _input(lambda s: {"pairingId": gid("Pairing", s.objects["Pairing"])}),
        COUNTY_AND_STAFF | {"neighbour": HIDDEN},
    ),
    Row(
        "ConfirmRegistration: the unit's registration",
        "ConfirmRegistration",
        lambda s: {"registrationId": gid("Registration", s.objects["Registration"])},
        COUNTY_AND_STAFF | {"unit": FORBIDDEN, "apitoken": FORBIDDEN},
        others=HIDDEN,
    ),
    Row(
        "cancelSignUp of the resident's sign-up",
        _mutation("cancelSignUp", "CancelSignUpInput", "signup { id }"),
        _input(lambda s: {"signupId": gid("Signup", s.objects["Signup"])}),
        STAFF_AND_UNIT | {"resident": ALLOWED},
    ),
    Row(
        "cancelMeeting of the scheduled meeting",
        _mutation("cancelMeeting", "CancelMeetingInput", "meeting { id status }"),
        _input(lambda s: {"meetingId": gid("Meeting", s.objects["Meeting"])}),
        COUNTY_AND_STAFF,
    ),
    Row(
        "planRenovation of the compound",
        _mutation("planRenovation", "PlanRenovationInput", "renovation { id }"),
        _input(lambda s: {"compoundId": gid("Compound", s.w.compound), "title": "加装电梯", "year": 2027}),
        COUNTY_AND_STAFF,
    ),
    Row(
        "startRenovation of the planned project",
        _mutation("startRenovation", "RenovationInput", "renovation { id status }"),
        _input(lambda s: {"renovationId": gid("Renovation", s.objects["Renovation"])}),
        COUNTY_AND_STAFF,
    ),
    Row(
        "renovationProjects of the compound (public in the county)",
        "query($a: ID) { renovationProjects(filter: {areaId: $a}) { totalCount } }",
        lambda s: {"a": gid("Compound", s.w.compound)},
        everyone(foreign_admin=HIDDEN),
        hidden=lambda d: d["renovationProjects"]["totalCount"] == 0,
    ),
]

# dual list: resources are seen by everyone of the county (residents: those open to their
# community, as the world's resource is); needs and exchanges by every role but RESIDENT.


async def _exchange(conn: asyncpg.Connection, w: World) -> int:
    return await b.exchange(conn, await b.resource(conn, w.unit, [w.community]), await b.need(conn, w.community))


NODE_OBJECTS.update(
    {
        "Resource": lambda conn, w: b.resource(conn, w.unit, [w.community]),
        "Need": lambda conn, w: b.need(conn, w.community),
        "Exchange": _exchange,
    }
)
NOT_RESIDENTS = {a: ALLOWED for a in ("admin", "staff", "head", "cadre", "unit", "apitoken", *OUTSIDERS)}
NODE_VISIBILITY.update({"Need": NOT_RESIDENTS, "Exchange": NOT_RESIDENTS})
PROVIDER_SIDE = {"admin": ALLOWED, "unit": ALLOWED, "apitoken": ALLOWED}
RESIDENTS_HIDDEN = {"resident": HIDDEN, "neighbour": HIDDEN, "foreign_admin": HIDDEN}
OUTSIDERS_REFUSED = {a: FORBIDDEN for a in OUTSIDERS}  # they see needs and exchanges, out of their scope
ROWS.extend(
    [
        Row(
            "PublishResource for the unit",
            "PublishResource",
            lambda s: {
                "providerId": gid("Organisation", s.w.unit),
                "title": "夜间车位",
                "category": "PARKING",
                "quantity": 5,
                "unit": "个",
                "communityIds": [gid("Community", s.w.community)],
            },
            PROVIDER_SIDE | {"foreign_admin": HIDDEN},
        ),
        Row(
            "withdrawResource of the unit",
            "mutation($id: ID!) { withdrawResource(input: {resourceId: $id}) { resource { id } userErrors { code } } }",
            lambda s: {"id": gid("Resource", s.objects["Resource"])},
            PROVIDER_SIDE | {"foreign_admin": HIDDEN},
        ),
        Row(
            "PublishNeed for the community",
            "PublishNeed",
            lambda s: {
                "areaId": gid("Community", s.w.community),
                "title": "停车",
                "category": "PARKING",
                "quantity": 3,
            },
            {"admin": ALLOWED, "staff": ALLOWED, "foreign_admin": HIDDEN},
        ),
        Row(
            "closeNeed of the community",
            "mutation($id: ID!) { closeNeed(input: {needId: $id}) { need { id } userErrors { code } } }",
            lambda s: {"id": gid("Need", s.objects["Need"])},
            {"admin": ALLOWED, "staff": ALLOWED} | RESIDENTS_HIDDEN | OUTSIDERS_REFUSED,
        ),
        Row(
            "Resources open to the community",
            "Resources",
            lambda s: {"communityId": gid("Community", s.w.community)},
            everyone(foreign_admin=HIDDEN),
            hidden=lambda d: d["resources"]["totalCount"] == 0,
        ),
        Row(
            "Needs of the community",
            "Needs",
            lambda s: {"areaId": gid("Community", s.w.community)},
            NOT_RESIDENTS | RESIDENTS_HIDDEN,
            hidden=lambda d: d["needs"]["totalCount"] == 0,
        ),
        Row(
            "NeedMatches of a need",
            "NeedMatches",
            lambda s: {"needId": gid("Need", s.objects["Need"])},
            NOT_RESIDENTS | RESIDENTS_HIDDEN,
            hidden=lambda d: d["node"] is None,
        ),
        Row(
            "Allocate to the community's need",
            "Allocate",
            lambda s: {
                "resourceId": gid("Resource", s.objects["Resource"]),
                "needId": gid("Need", s.objects["Need"]),
                "quantity": 1,
            },
            {"admin": ALLOWED, "staff": ALLOWED} | RESIDENTS_HIDDEN | OUTSIDERS_REFUSED,
        ),
        Row(
            "CompleteExchange (either side)",
            "CompleteExchange",
            lambda s: {"exchangeId": gid("Exchange", s.objects["Exchange"])},
            {"staff": ALLOWED} | PROVIDER_SIDE | RESIDENTS_HIDDEN | OUTSIDERS_REFUSED,
        ),
        Row(
            "CancelExchange (either side)",
            "CancelExchange",
            lambda s: {"exchangeId": gid("Exchange", s.objects["Exchange"])},
            {"staff": ALLOWED} | PROVIDER_SIDE | RESIDENTS_HIDDEN | OUTSIDERS_REFUSED,
        ),
        Row(
            "OrganisationDetail of the unit, with its resources",
            "OrganisationDetail",
            lambda s: {"id": gid("Organisation", s.w.unit)},
            everyone(foreign_admin=HIDDEN),
            hidden=lambda d: d["node"] is None,
        ),
    ]
)

# --- finding people, households and duties (issue 14) ---------------------------------------


ORDER_CONTACT = "query($id: ID!) { node(id: $id) { ... on ServiceOrder { contact { name phone } } } }"


def _node_of_order(state: str) -> Callable[[Scene], dict[str, Any]]:
    return lambda s: {"id": gid("ServiceOrder", s.orders[state])}


def _without_user(key: str) -> Callable[[Scene], Callable[[Data], bool]]:
    return lambda s: lambda d: gid("User", s.w.users[key]) not in [e["node"]["id"] for e in d["users"]["edges"]]


def _no_household(d: Data) -> bool:
    viewer = d["viewer"]
    return viewer is None or viewer["person"] is None or viewer["person"]["household"] is None


HOUSEHOLD_PAIRINGS = (
    "query($id: ID!) { node(id: $id) { ... on Household { fullAddress pairings { id cadre { name } unit { id } } } } }"
)
# who sees the resident's household's pairings: the county, staff and head in scope, its members
# (head and resident), the cadre, and the admin of the cadre's unit
HOUSEHOLD_PAIRING_READERS = everyone(neighbour=MASKED, foreign_admin=HIDDEN)

ROWS += [
    Row(
        "MyHousehold (the viewer's own household, its head and its paired cadres)",
        "MyHousehold",
        lambda s: {},
        {"head": ALLOWED, "resident": ALLOWED, "neighbour": ALLOWED, **dict.fromkeys(OUTSIDERS, HIDDEN)},
        others=HIDDEN,
        anonymous=HIDDEN,
        hidden=_no_household,
    ),
    Row(
        "the resident's household's pairings through node",
        HOUSEHOLD_PAIRINGS,
        lambda s: {"id": gid("Household", s.w.household)},
        HOUSEHOLD_PAIRING_READERS,
        masked=lambda d: d["node"]["pairings"] == [],
        hidden=lambda d: d["node"] is None,
    ),
    Row(
        "SearchPeople for the resident by name",
        "SearchPeople",
        lambda s: {"search": "赵居民", "tag": "独居老人"},
        {"admin": ALLOWED, "staff": ALLOWED, "head": ALLOWED},
        others=HIDDEN,
        hidden=lambda d: d["people"]["totalCount"] == 0,
    ),
    Row(
        "SearchPeople for the resident by the end of the phone (personal data: masked where not allowed)",
        "SearchPeople",
        lambda s: {"search": "0004", "tag": "独居老人"},
        {"admin": ALLOWED, "staff": ALLOWED, "head": ALLOWED},
        others=HIDDEN,
        hidden=lambda d: d["people"]["totalCount"] == 0,
        masked=lambda d: any(e["node"]["phone"] is None for e in d["people"]["edges"]),
    ),
    Row(
        "Registrations of the community (the unit's pending registration, the cadre's confirmed one)",
        "Registrations",
        lambda s: {"communityId": gid("Community", s.w.community)},
        # ... and the cadre's confirmed one: the cadre, and the unit's admin (the cadre works there)
        {"admin": ALLOWED, "staff": ALLOWED, "unit": ALLOWED, "apitoken": ALLOWED, "cadre": ALLOWED},
        others=HIDDEN,
        hidden=lambda d: d["registrations"]["totalCount"] == 0,
    ),
    Row(
        "DueHouseholds of the community",
        "DueHouseholds",
        _report_area("Community", lambda w: w.community, {"asOf": "2025-01-31", "kind": "HOME_VISIT"}),
        COUNTY_AND_STAFF,
        hidden=lambda d: d["compliance"] is None,
    ),
    Row(
        "DueHouseholds of the compound the unit adopts",
        "DueHouseholds",
        _report_area("Compound", lambda w: w.compound, {"asOf": "2025-01-31", "kind": "HEART_TO_HEART"}),
        STAFF_AND_UNIT,
        hidden=lambda d: d["compliance"] is None,
    ),
    Row(
        "AuditTrail of the resident's building (the audit entry's target)",
        "AuditTrail",
        lambda s: {"targetId": gid("Building", s.w.building), "first": 5},
        {"admin": ALLOWED, "foreign_admin": HIDDEN},
        hidden=lambda d: d["auditLog"]["totalCount"] == 0,
    ),
    Row(
        "Coverage of the resident's building (its head too)",
        "Coverage",
        _report_area("Building", lambda w: w.building, {}),
        STAFF_AND_UNIT | {"head": ALLOWED},
        hidden=lambda d: d["coverage"] is None,
    ),
    Row(
        "DueHouseholds of the resident's building (its head too)",
        "DueHouseholds",
        _report_area("Building", lambda w: w.building, {"asOf": "2025-01-31", "kind": "HOME_VISIT"}),
        STAFF_AND_UNIT | {"head": ALLOWED},
        hidden=lambda d: d["compliance"] is None,
    ),
    Row(
        "PlaceOrder for the neighbour's household (its building's head on its behalf)",
        "PlaceOrder",
        lambda s: {
            "householdId": gid("Household", s.w.neighbour_household),
            "title": "代老人报修",
            "category": "REPAIR",
        },
        COUNTY_AND_STAFF | {"neighbour": ALLOWED, "outside_head": ALLOWED, "outside_staff": FORBIDDEN},
    ),
    Row(
        "the resident's building's responsibilityHistory through node",
        "query($id: ID!) { node(id: $id) { ... on Building { responsibilityHistory { person { name } until } } } }",
        lambda s: {"id": gid("Building", s.w.building)},
        everyone(MASKED, admin=ALLOWED, staff=ALLOWED, foreign_admin=HIDDEN),
        masked=lambda d: d["node"]["responsibilityHistory"] == [],
        hidden=lambda d: d["node"] is None,
    ),
    Row(
        "correctVisit of this month's visit (its cadre only)",
        'mutation($id: ID!) { correctVisit(input: {visitId: $id, notes: "补记"}) '
        "{ visit { id } userErrors { field message code } } }",
        lambda s: {"id": gid("Visit", s.extra["current_visit"])},
        everyone(FORBIDDEN, cadre=ALLOWED, neighbour=HIDDEN, foreign_admin=HIDDEN),
    ),
    Row(
        "deleteVisit of this month's visit (its cadre only)",
        "mutation($id: ID!) { deleteVisit(input: {visitId: $id}) { deletedVisitId userErrors { field code } } }",
        lambda s: {"id": gid("Visit", s.extra["current_visit"])},
        everyone(FORBIDDEN, cadre=ALLOWED, neighbour=HIDDEN, foreign_admin=HIDDEN),
    ),
    Row(
        "the contact of the order dispatched to the cadre (the assignee reaches the ordering person)",
        ORDER_CONTACT,
        _node_of_order("dispatched"),
        {a: ALLOWED for a in ("admin", "staff", "head", "resident", "cadre")},
        others=HIDDEN,
        masked=lambda d: d["node"]["contact"] is None,
        hidden=lambda d: d["node"] is None,
    ),
    Row(
        "the contact of the completed order (the assignee no longer reaches it)",
        ORDER_CONTACT,
        _node_of_order("completed"),
        {"admin": ALLOWED, "staff": ALLOWED, "head": ALLOWED, "resident": ALLOWED, "cadre": MASKED},
        others=HIDDEN,
        masked=lambda d: d["node"]["contact"] is None,
        hidden=lambda d: d["node"] is None,
    ),
    Row(
        "Users: the resident's account",
        "Users",
        lambda s: {"role": "RESIDENT"},
        {"admin": ALLOWED, "staff": ALLOWED, "outside_staff": HIDDEN, "foreign_admin": HIDDEN},
        hidden_in=_without_user("resident"),
    ),
    Row(
        "CreateUser: a RESIDENT account for a newcomer of the resident's building",
        "CreateUser",
        lambda s: {
            "username": "newcomer",
            "personId": gid("Person", s.extra["newcomer"]),
            "role": "RESIDENT",
            "scopeId": gid("Building", s.w.building),
        },
        {"admin": ALLOWED, "staff": ALLOWED, "outside_staff": FORBIDDEN, "foreign_admin": HIDDEN},
    ),
    Row(
        "CreateUser: a COMMUNITY_STAFF account",
        "CreateUser",
        lambda s: {"username": "newstaff", "role": "COMMUNITY_STAFF", "scopeId": gid("Community", s.w.community)},
        {"admin": ALLOWED, "staff": FORBIDDEN, "outside_staff": FORBIDDEN, "foreign_admin": HIDDEN},
    ),
    Row(
        "GrantRole: RESIDENT of the community to the neighbour",
        "GrantRole",
        lambda s: {
            "userId": gid("User", s.w.users["neighbour"]),
            "role": "RESIDENT",
            "scopeId": gid("Community", s.w.community),
        },
        {"admin": ALLOWED, "staff": ALLOWED, "outside_staff": FORBIDDEN, "foreign_admin": HIDDEN},
    ),
    Row(
        "RevokeRole: the neighbour's RESIDENT grant",
        "RevokeRole",
        lambda s: {
            "userId": gid("User", s.w.users["neighbour"]),
            "role": "RESIDENT",
            "scopeId": gid("Building", s.w.other_building),
        },
        {"admin": ALLOWED, "staff": ALLOWED, "outside_staff": FORBIDDEN, "foreign_admin": HIDDEN},
    ),
    Row(
        "DisableUser: the neighbour's account",
        "DisableUser",
        lambda s: {"userId": gid("User", s.w.users["neighbour"])},
        {
            "admin": ALLOWED,
            "staff": ALLOWED,
            "outside_staff": FORBIDDEN,
            "foreign_admin": HIDDEN,
        },
    ),
]

# --- reaching people: notifications (identity.graphql) ------------------------------------------


async def _admins_notification(conn: asyncpg.Connection, w: World) -> int:
    """A notification in the county admin's inbox (the other county's is its admin's)."""
    return await b.notification(conn, w.users["admin"])


NODE_OBJECTS["Notification"] = _admins_notification
NODE_VISIBILITY["Notification"] = {"admin": ALLOWED}  # its user only


def _no_inbox(d: Data) -> bool:
    return d["viewer"] is None or d["viewer"]["notifications"] is None


ROWS += [
    Row(
        "MyNotifications (every user their own inbox; an API token has none)",
        "MyNotifications",
        lambda s: {},
        everyone(apitoken=HIDDEN),
        anonymous=HIDDEN,
        hidden=_no_inbox,
    ),
    Row(
        "MarkNotificationsRead of the county admin's notification (its user only)",
        "MarkNotificationsRead",
        lambda s: {"ids": [gid("Notification", s.objects["Notification"])]},
        {"admin": ALLOWED, "apitoken": FORBIDDEN},
        others=HIDDEN,
    ),
    Row(
        "Notifications of the viewer (graphql-transport-ws)",
        "Notifications",
        lambda s: {},
        everyone(apitoken=FORBIDDEN),
    ),
]

# --- reaching people: attachments (orders.graphql) ---------------------------------------------


async def _attachment(conn: asyncpg.Connection, w: World) -> int:
    """A photo on the resident's household's order."""
    order = await b.service_order(conn, w)
    return int(
        await conn.fetchval(
            "INSERT INTO attachments (county_id, subject_type, subject_id, sha256, content_type, byte_size) "
            "VALUES ($1, 'ServiceOrder', $2, repeat('a', 64), 'image/jpeg', 1) RETURNING id",
            w.county,
            order,
        )
    )


NODE_OBJECTS["Attachment"] = _attachment
NODE_VISIBILITY["Attachment"] = NODE_VISIBILITY["ServiceOrder"]  # whoever sees its subject


async def _upload(api: Api, token: str | None, variables: dict[str, Any]) -> Data:
    """AddAttachment as a GraphQL multipart request, with a small PNG."""
    import io
    import json

    from PIL import Image

    image = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(image, "PNG")
    operations = {"query": contract_operations()["AddAttachment"], "variables": {**variables, "file": None}}
    response = await api.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("photo.png", image.getvalue(), "image/png")},
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    result: Data = response.json()
    return result


UPLOADS = {"AddAttachment": _upload}

ROWS += [
    Row(
        "AddAttachment to a dispatched order (its parties)",
        "AddAttachment",
        lambda s: {"subjectId": gid("ServiceOrder", s.orders["dispatched"])},
        {"admin": ALLOWED, "staff": ALLOWED, "head": ALLOWED, "resident": ALLOWED, "cadre": ALLOWED},
        others=HIDDEN,
    ),
    Row(
        "OrderAttachments of the resident's order (whoever sees the order)",
        "OrderAttachments",
        lambda s: {"id": gid("ServiceOrder", s.orders["submitted"])},
        {"admin": ALLOWED, "staff": ALLOWED, "head": ALLOWED, "resident": ALLOWED},
        others=HIDDEN,
        hidden=lambda d: d["node"] is None,
    ),
]

# IDOR through `nodes`: one row per registered type, for our county's object and the other's


def _node_ids(type_name: str, far: bool) -> Callable[[Scene], dict[str, Any]]:
    def variables(s: Scene) -> dict[str, Any]:
        return {"ids": [gid(type_name, (s.far_objects if far else s.objects)[type_name])]}

    return variables


def _node_hidden(d: Data) -> bool:
    return bool(d["nodes"] == [None])


for _type in NODE_OBJECTS:
    _seen = NODE_VISIBILITY.get(_type, PUBLIC_IN_COUNTY)
    ROWS.append(
        Row(
            f"node {_type} of our county",
            "Nodes",
            _node_ids(_type, far=False),
            {a: _seen.get(a, HIDDEN) for a in ACCOUNTS if a != "anonymous"} | {"foreign_admin": HIDDEN},
            hidden=_node_hidden,
        )
    )
    ROWS.append(
        Row(
            f"node {_type} of another county",
            "Nodes",
            _node_ids(_type, far=True),
            {a: HIDDEN for a in ACCOUNTS if a != "anonymous"} | {"foreign_admin": ALLOWED},
            hidden=_node_hidden,
        )
    )


# --- running a row ------------------------------------------------------------------------


def classify(row: Row, result: Data) -> Outcome | str:
    errors = result.get("errors") or []
    if errors:
        codes = {e.get("extensions", {}).get("code") for e in errors}
        if codes == {"UNAUTHENTICATED"}:
            return UNAUTHENTICATED
        if codes == {"FORBIDDEN"}:
            return FORBIDDEN
        return f"unexpected errors {errors}"
    data: Data = result["data"]
    payload = next(iter(data.values()))
    if isinstance(payload, dict) and "userErrors" in payload:
        codes = {e["code"] for e in payload["userErrors"]}
        if codes == {"FORBIDDEN"}:
            return FORBIDDEN
        if codes == {"NOT_FOUND"}:
            return HIDDEN
        if codes:
            return f"unexpected userErrors {payload['userErrors']}"
    if row.hidden is not None and row.hidden(data):
        return HIDDEN
    if row.masked is not None and row.masked(data):
        return MASKED
    return ALLOWED


SUBSCRIPTIONS = {n: t for n, t in contract_operations().items() if t.startswith("subscription")}


async def _subscribe(
    conn: asyncpg.Connection, query: str, variables: dict[str, Any], token: str | None
) -> Outcome | str:
    """A subscription over graphql-transport-ws, on the test's connection. The app has no
    DATABASE_URL to LISTEN on, so a subscriber who passes authorization is told
    `EVENTS_UNAVAILABLE`: that is ALLOWED here; a refused one gets FORBIDDEN, and a
    connection without a valid token is closed with 4403 (UNAUTHENTICATED)."""
    app = create_app(Settings(secret=TEST_SECRET), db=SingleConnectionDatabase(conn))
    init = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app=app), base_url="http://test") as client:
        connecting: Any = aconnect_ws("http://test/graphql", client, subprotocols=["graphql-transport-ws"])
        async with connecting as ws:
            await ws.send_json({"type": "connection_init", "payload": init})
            try:
                ack = await ws.receive_json(timeout=5)
            except WebSocketDisconnect as closed:
                return UNAUTHENTICATED if closed.code == 4403 else f"closed with {closed.code}"
            assert ack == {"type": "connection_ack"}, ack
            await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}})
            message: Data = await ws.receive_json(timeout=10)
    errors = message.get("payload", {}).get("errors") or [{}]
    codes = {e.get("extensions", {}).get("code") for e in errors}
    outcomes = {"EVENTS_UNAVAILABLE": ALLOWED, "FORBIDDEN": FORBIDDEN, "UNAUTHENTICATED": UNAUTHENTICATED}
    if message.get("type") == "next" and len(codes) == 1 and next(iter(codes)) in outcomes:
        return outcomes[next(iter(codes))]
    return f"unexpected message {message}"


async def run_row(api: Api, conn: asyncpg.Connection, row: Row, scene: Scene) -> dict[str, Outcome | str]:
    """Each account's outcome; every request runs in a savepoint that is rolled back."""
    tokens = tokens_for(api, scene)
    variables = row.variables(scene)
    if row.hidden_in is not None:
        row = dataclasses.replace(row, hidden=row.hidden_in(scene))
    seen: dict[str, Outcome | str] = {}
    for account in ACCOUNTS:
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            if row.operation in SUBSCRIPTIONS:
                seen[account] = await _subscribe(conn, SUBSCRIPTIONS[row.operation], variables, tokens[account])
            elif row.operation in UPLOADS:
                seen[account] = classify(row, await UPLOADS[row.operation](api, tokens[account], variables))
            elif row.operation[0].isupper():
                seen[account] = classify(row, await api.op(row.operation, variables, token=tokens[account]))
            else:
                seen[account] = classify(row, await api.post(row.operation, variables, token=tokens[account]))
        finally:
            await savepoint.rollback()
    return seen


def _text(outcome: Outcome | str) -> str:
    return outcome if isinstance(outcome, str) else outcome.value


async def test_matrix(api: Api, conn: asyncpg.Connection) -> None:
    """All rows on one scene (building it is most of the cost); the failure lists every
    row that differs, account by account."""
    scene = await build_scene(conn)
    differences: dict[str, dict[str, str]] = {}
    for row in ROWS:
        seen = await run_row(api, conn, row, scene)
        wrong = {
            a: f"expected {row.outcome_for(a).value}, got {_text(seen[a])}"
            for a in ACCOUNTS
            if seen[a] != row.outcome_for(a)
        }
        if wrong:
            differences[row.label] = wrong
    assert not differences, "\n".join(f"{label}: {wrong}" for label, wrong in differences.items())


def test_row_labels_are_unique() -> None:
    labels = [r.label for r in ROWS]
    assert len(labels) == len(set(labels))


def test_every_node_type_has_an_object_in_the_matrix() -> None:
    missing = set(nodes.registered()) - set(NODE_OBJECTS)
    assert not missing, f"add builders for {sorted(missing)} to NODE_OBJECTS (and their visibility)"


def test_every_served_contract_operation_has_a_row() -> None:
    from graphql import parse, validate

    from schema.root import build
    from tests.support import contract_operations

    schema = build()._schema
    served = {n for n, text in contract_operations().items() if not validate(schema, parse(text))}
    covered = {r.operation for r in ROWS}
    assert served <= covered, f"rows missing for {sorted(served - covered)}"
