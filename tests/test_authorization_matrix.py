"""The authorization matrix: every contract operation served so far, against every sample
account (and anonymous, a partner unit's API token, and the county admin of another county).

Each row names an operation (a contract operation by name, or a query text for fields the
contract does not name), builds its variables from the scene, and states the outcome per
account; accounts not named get the row's `others`. Outcomes:

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

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from resolvers import ids, nodes
from tests import builders as b
from tests.builders import SAMPLE_PASSWORD, World
from tests.support import Api


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
ACCOUNTS = ("anonymous", *SAMPLE, "apitoken", "foreign_admin")
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
            "INSERT INTO audit_log (county_id, user_id, action) VALUES ($1, $2, 'matrix') RETURNING id",
            w.county,
            w.users["admin"],
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
}


async def _const(value: int) -> int:
    return value


# who sees an object of each type in their own county (everyone else in the county: HIDDEN)
PUBLIC_IN_COUNTY = {a: ALLOWED for a in (*SAMPLE, "apitoken")}
NODE_VISIBILITY: dict[str, dict[str, Outcome]] = {
    "User": {"admin": ALLOWED, "resident": ALLOWED},  # the user themself
    "ApiToken": {"admin": ALLOWED, "unit": ALLOWED, "apitoken": ALLOWED},
    "AuditEntry": {"admin": ALLOWED},
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
    return Scene(w, far, objects, far_objects, usernames, api_token_id, enterprise)


def tokens_for(api: Api, s: Scene) -> dict[str, str | None]:
    t: dict[str, str | None] = {"anonymous": None, "apitoken": API_TOKEN_SECRET}
    for key in SAMPLE:
        t[key] = api.token_for(s.w.users[key])
    t["foreign_admin"] = api.token_for(s.far.users["admin"])
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

    def outcome_for(self, account: str) -> Outcome:
        if account == "anonymous":
            return self.expect.get(account, self.anonymous)
        return self.expect.get(account, self.others)


def everyone(outcome: Outcome = ALLOWED, **exceptions: Outcome) -> dict[str, Outcome]:
    return {a: exceptions.get(a, outcome) for a in ACCOUNTS if a != "anonymous"}


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
NOT_RESIDENTS = {a: ALLOWED for a in ("admin", "staff", "head", "cadre", "unit", "apitoken")}
NODE_VISIBILITY.update({"Need": NOT_RESIDENTS, "Exchange": NOT_RESIDENTS})
PROVIDER_SIDE = {"admin": ALLOWED, "unit": ALLOWED, "apitoken": ALLOWED}
RESIDENTS_HIDDEN = {"resident": HIDDEN, "neighbour": HIDDEN, "foreign_admin": HIDDEN}
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
            {"admin": ALLOWED, "staff": ALLOWED} | RESIDENTS_HIDDEN,
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
            {"admin": ALLOWED, "staff": ALLOWED} | RESIDENTS_HIDDEN,
        ),
        Row(
            "CompleteExchange (either side)",
            "CompleteExchange",
            lambda s: {"exchangeId": gid("Exchange", s.objects["Exchange"])},
            {"staff": ALLOWED} | PROVIDER_SIDE | RESIDENTS_HIDDEN,
        ),
        Row(
            "CancelExchange (either side)",
            "CancelExchange",
            lambda s: {"exchangeId": gid("Exchange", s.objects["Exchange"])},
            {"staff": ALLOWED} | PROVIDER_SIDE | RESIDENTS_HIDDEN,
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


async def run_row(api: Api, conn: asyncpg.Connection, row: Row, scene: Scene) -> dict[str, Outcome | str]:
    """Each account's outcome; every request runs in a savepoint that is rolled back."""
    tokens = tokens_for(api, scene)
    variables = row.variables(scene)
    seen: dict[str, Outcome | str] = {}
    for account in ACCOUNTS:
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            if row.operation[0].isupper():
                result = await api.op(row.operation, variables, token=tokens[account])
            else:
                result = await api.post(row.operation, variables, token=tokens[account])
            seen[account] = classify(row, result)
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
