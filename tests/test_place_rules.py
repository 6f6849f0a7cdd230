"""Issue 12, the county's places and people: areas of every level, organisations,
households, persons, posts and adoptions are shown by one SQL rule each (0022_place_rules.sql),
which node()/nodes, the root lists and the nested lists all run; a user's inbox is read by
the rule `notification_access`; an active post is active by the county's date.

The rules are swapped for a refusing one inside the test's transaction: what a field answers
then shows whether it runs the rule (a Python copy of it would go on answering).
"""

from __future__ import annotations

import datetime
from typing import Any

import asyncpg

from db.pool import connect
from resolvers import ids
from tests import builders as b
from tests.support import Api
from tests.test_authorization_matrix import SAMPLE, Scene, build_scene, tokens_for

# the node type, its table and its rule
PLACE_RULES: dict[str, tuple[str, str]] = {
    **{
        t: ("areas", "area_access") for t in ("County", "Town", "Community", "District", "Compound", "Building", "Unit")
    },
    "Organisation": ("organisations", "organisation_access"),
    "Household": ("households", "household_visible"),
    "Person": ("persons", "person_visible"),
    "Post": ("posts", "post_access"),
    "Adoption": ("adoptions", "adoption_access"),
}
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"


def gid(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


def _viewers(s: Scene) -> dict[str, tuple[int, int | None]]:
    """The arguments of `viewer_of` for each signed-in account of the matrix."""
    found: dict[str, tuple[int, int | None]] = {key: (s.w.users[key], None) for key in SAMPLE}
    found["apitoken"] = (s.w.users["unit"], s.api_token_id)  # a token acts for the user who made it
    found["foreign_admin"] = (s.far.users["admin"], None)
    found |= {key: (user, None) for key, user in s.outsiders.items()}
    return found


async def _refuse(conn: asyncpg.Connection, rule: str, table: str) -> None:
    """Swap a rule for one that lets nobody through (rolled back with the test)."""
    arguments = await conn.fetchval(
        "SELECT pg_get_function_arguments(p.oid) FROM pg_proc p "
        "WHERE p.proname = $1 AND p.pronamespace = 'public'::regnamespace AND p.proargtypes[0] = $2::regtype",
        rule,
        table,
    )
    await conn.execute(
        f"CREATE OR REPLACE FUNCTION {rule}({arguments}) RETURNS boolean "
        "LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT false $$"
    )


async def test_node_of_a_place_or_person_is_what_its_sql_rule_says(api: Api, conn: asyncpg.Connection) -> None:
    """For every account of the authorization matrix, our county's object and the other
    county's of each type: node() shows it exactly when the type's SQL rule does."""
    s = await build_scene(conn)
    tokens = tokens_for(api, s)
    differences: list[str] = []
    for account, (user, token) in _viewers(s).items():
        wanted: list[tuple[str, int]] = [(t, o[t]) for t in PLACE_RULES for o in (s.objects, s.far_objects)]
        opened = (await api.ok(NODES, {"ids": [gid(t, pk) for t, pk in wanted]}, token=tokens[account]))["nodes"]
        for (type_name, pk), got in zip(wanted, opened, strict=True):
            table, rule = PLACE_RULES[type_name]
            says = await conn.fetchval(
                f"SELECT {rule}(x, viewer_of($2, $3)) FROM {table} x WHERE x.id = $1",  # noqa: S608 - names above
                pk,
                user,
                token,
            )
            if bool(says) != (got is not None):
                differences.append(f"{account} {type_name} {pk}: the rule says {says}, node() gives {got}")
    assert not differences, "\n".join(differences)


async def test_node_and_lists_of_places_run_the_sql_rules(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    adoption = await b.adoption(conn, w.unit, w.compound)
    post = await b.post(conn, w.people["head"], w.unit, "科员")
    admin = api.token_for(w.users["admin"])
    places = """query($compound: ID!, $unit: ID!, $building: ID!) {
      areas(first: 50) { totalCount }
      compounds(first: 50) { totalCount }
      organisations(first: 50) { totalCount }
      compound: node(id: $compound) { ... on Compound { buildings(first: 10) { totalCount edges { node { id } } } } }
      building: node(id: $building) {
        ... on Building { households(first: 10) { totalCount edges { node { id } } } adoptions { id } }
      }
      unit: node(id: $unit) { ... on Organisation { members(first: 10) { totalCount } adoptions { id } } }
    }"""
    variables = {
        "compound": gid("Compound", w.compound),
        "unit": gid("Organisation", w.unit),
        "building": gid("Building", w.building),
    }
    before = await api.ok(places, variables, token=admin)
    assert before["areas"]["totalCount"] > 0 and before["organisations"]["totalCount"] > 0
    assert before["unit"]["adoptions"] == [{"id": gid("Adoption", adoption)}]
    assert before["unit"]["members"]["totalCount"] > 0

    opened = [gid("Household", w.household), gid("Person", w.people["resident"]), gid("Post", post)]
    opened.append(gid("Adoption", adoption))
    assert None not in (await api.ok(NODES, {"ids": opened}, token=admin))["nodes"]

    savepoint = conn.transaction()
    await savepoint.start()
    try:
        for rule, table in (
            ("organisation_access", "organisations"),
            ("household_visible", "households"),
            ("person_visible", "persons"),
            ("post_access", "posts"),
            ("adoption_access", "adoptions"),
        ):
            await _refuse(conn, rule, table)
        assert (await api.ok(NODES, {"ids": [*opened, gid("Organisation", w.unit)]}, token=admin))["nodes"] == [
            None
        ] * 5
        households = await api.ok(places, variables, token=admin)
        assert households["organisations"]["totalCount"] == 0
        assert households["building"]["households"] == {"totalCount": 0, "edges": []}
        assert households["building"]["adoptions"] == []
        # the areas themselves are still shown: their rule is another
        assert households["compound"]["buildings"] == before["compound"]["buildings"]

        await _refuse(conn, "area_access", "areas")
        areas = await api.ok(places, variables, token=admin)
        assert areas["areas"]["totalCount"] == areas["compounds"]["totalCount"] == 0
        assert areas["compound"] is None and areas["building"] is None
    finally:
        await savepoint.rollback()


# --- the inbox ------------------------------------------------------------------------------------

INBOX = "query($id: ID!) { node(id: $id) { ... on User { notifications(first: 5) { totalCount unreadCount } } } }"


async def test_a_users_inbox_is_read_by_the_rule_notification_access(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    await b.notification(conn, w.users["resident"])
    me = api.token_for(w.users["resident"])
    user = {"id": gid("User", w.users["resident"])}

    assert (await api.ok(INBOX, user, token=me))["node"]["notifications"] == {"totalCount": 1, "unreadCount": 1}
    # the county admin opens the account but not its inbox
    assert (await api.ok(INBOX, user, token=api.token_for(w.users["admin"])))["node"]["notifications"] is None

    savepoint = conn.transaction()
    await savepoint.start()
    try:
        # the rule is the only place that says who reads an inbox: refuse everyone, and the
        # user's own inbox is closed too
        await _refuse(conn, "notification_access", "notifications")
        assert (await api.ok(INBOX, user, token=me))["node"]["notifications"] is None
    finally:
        await savepoint.rollback()


# --- an active post: the county's date ------------------------------------------------------------

MEMBERS = "query($id: ID!) { node(id: $id) { ... on Organisation { memberCount members(first: 20) { totalCount } } } }"


async def test_a_post_is_active_until_the_end_of_its_last_day_in_the_county(api: Api, conn: asyncpg.Connection) -> None:
    """A post ending today in the county is active, one that ended yesterday there is not,
    whatever the date is where the database server's session thinks it is: the session's
    time zone is set to one where the date differs from the county's at this instant (the
    dates come from PostgreSQL's now(); nothing depends on when the test runs)."""
    w = await b.world(conn)
    zone = "Asia/Shanghai"  # the county's (the settings' default)
    now = await conn.fetchrow(
        "SELECT (now() AT TIME ZONE $1)::date AS today, extract(hour FROM now() AT TIME ZONE $1)::int AS hour", zone
    )
    assert now is not None
    county_today, hour = now["today"], now["hour"]
    # UTC-12 is a day behind the county until 20:00 there, UTC+14 a day ahead from 18:00
    server_zone = "Etc/GMT+12" if hour < 20 else "Pacific/Kiritimati"
    await conn.execute(f"SET LOCAL TimeZone = '{server_zone}'")
    assert await conn.fetchval("SELECT current_date") != county_today
    admin = api.token_for(w.users["admin"])
    before: dict[str, Any] = (await api.ok(MEMBERS, {"id": gid("Organisation", w.unit)}, token=admin))["node"]

    yesterday = county_today - datetime.timedelta(days=1)
    for name, until in (("今天离任", county_today), ("昨天离任", yesterday)):
        post = await b.post(conn, await b.person(conn, w.county, name), w.unit, "科员")
        since = until - datetime.timedelta(days=30)
        await conn.execute("UPDATE posts SET since = $2, until = $3 WHERE id = $1", post, since, until)

    after = (await api.ok(MEMBERS, {"id": gid("Organisation", w.unit)}, token=admin))["node"]
    # only the post ending today counts, in the organisation's lists and in the rules alike
    assert after["memberCount"] == before["memberCount"] + 1
    assert after["members"]["totalCount"] == before["members"]["totalCount"] + 1
    active = await conn.fetchrow(
        "SELECT post_active($1::date) AS today, post_active($2::date) AS yesterday", county_today, yesterday
    )
    assert active is not None and (active["today"], active["yesterday"]) == (True, False)


async def test_the_pool_gives_sessions_the_countys_time_zone(template_url: str) -> None:
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12"):
        raw = await connect(template_url, time_zone=zone)
        try:
            found = await raw.fetchrow(
                "SELECT county_today() AS today, (now() AT TIME ZONE $1)::date AS expected", zone
            )
        finally:
            await raw.close()
        assert found is not None and found["today"] == found["expected"]
