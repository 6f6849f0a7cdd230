"""User and role management through the API (Users, CreateUser, GrantRole, RevokeRole,
DisableUser) and the first sign-in's password change."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from resolvers import ids
from tests import builders as b
from tests.support import Api, own_connection

LOGIN = (
    "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) "
    "{ token viewer { id } userErrors { code } } }"
)
CHANGE = (
    "mutation($c: String, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) "
    "{ token expiresAt userErrors { field code } } }"
)
VIEWER = "{ viewer { id username lastLoginAt disabled roles { role scope { id } } } }"


def _errors(result: dict[str, Any], field: str) -> list[str]:
    return [e["code"] for e in result["data"][field]["userErrors"]]


async def test_a_new_account_changes_its_one_time_password_at_first_sign_in(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    admin = api.token_for(w.users["admin"])
    clerk = await b.person(conn, w.county, "吴社工", phone="13800000011")
    made = await api.op(
        "CreateUser",
        {
            "username": "wu.shegong",
            "personId": ids.encode("Person", clerk),
            "role": "COMMUNITY_STAFF",
            "scopeId": ids.encode("Community", w.community),
        },
        token=admin,
    )
    payload = made["data"]["createUser"]
    assert payload["userErrors"] == []
    assert payload["user"]["username"] == "wu.shegong"
    assert payload["user"]["roles"] == [
        {"role": "COMMUNITY_STAFF", "scope": {"id": ids.encode("Community", w.community)}}
    ]
    initial = payload["initialPassword"]
    assert len(initial) >= 12

    first = (await api.post(LOGIN, {"u": "wu.shegong", "p": initial}))["data"]["login"]
    assert [e["code"] for e in first["userErrors"]] == ["PASSWORD_CHANGE_REQUIRED"] and first["viewer"] is None
    limited = first["token"]
    # the token only changes the password
    assert (await api.post(VIEWER, token=limited))["data"]["viewer"] is None
    refused = await api.op("SearchPeople", {"search": "赵"}, token=limited)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    short = await api.post(CHANGE, {"n": "short"}, token=limited)
    assert short["data"]["changePassword"]["userErrors"] == [{"field": ["newPassword"], "code": "INVALID"}]
    changed = (await api.post(CHANGE, {"n": "a much better password"}, token=limited))["data"]["changePassword"]
    assert changed["userErrors"] == [] and changed["token"]
    seen = (await api.post(VIEWER, token=changed["token"]))["data"]["viewer"]
    assert seen["username"] == "wu.shegong"
    # the one-time password is gone; the new one signs in fully
    assert _errors(await api.post(LOGIN, {"u": "wu.shegong", "p": initial}), "login") == ["INVALID_CREDENTIALS"]
    again = (await api.post(LOGIN, {"u": "wu.shegong", "p": "a much better password"}))["data"]["login"]
    assert again["userErrors"] == [] and again["viewer"]["id"] == payload["user"]["id"]
    listed = await api.op("Users", {"search": "吴社工"}, token=admin)
    [node] = [e["node"] for e in listed["data"]["users"]["edges"]]
    assert node["lastLoginAt"] is not None and node["disabled"] is False and node["person"]["name"] == "吴社工"
    # an ordinary token changes the password only with the current one
    wrong = await api.post(CHANGE, {"c": "nope", "n": "yet another password"}, token=again["token"])
    assert _errors(wrong, "changePassword") == ["INVALID_CREDENTIALS"]
    audited = await conn.fetch(
        "SELECT action FROM audit_log WHERE target_type = 'User' AND target_id = $1 ORDER BY id",
        ids.decode_as(payload["user"]["id"], "User"),
    )
    assert [r["action"] for r in audited][:3] == ["createUser", "loginPasswordChangeRequired", "changePassword"]


async def test_staff_create_resident_accounts_in_their_scope_only(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    newcomer = await b.person(conn, w.county, "孙新住户", household=w.neighbour_household)

    async def create(**variables: Any) -> dict[str, Any]:
        base = {"username": "sun.xin", "personId": ids.encode("Person", newcomer), "role": "RESIDENT"}
        base["scopeId"] = ids.encode("Building", w.other_building)
        return await api.op("CreateUser", base | variables, token=staff)

    assert _errors(
        await create(role="COMMUNITY_STAFF", scopeId=ids.encode("Community", w.community)), "createUser"
    ) == ["FORBIDDEN"]
    assert _errors(await create(role="BUILDING_HEAD"), "createUser") == ["INVALID"]
    assert _errors(await create(scopeId=ids.encode("Building", w.building)), "createUser") == ["INVALID"]
    assert _errors(await create(username="x"), "createUser") == ["INVALID"]
    outsider = await b.person(conn, w.county, "外人")
    assert _errors(await create(personId=ids.encode("Person", outsider)), "createUser") == ["FORBIDDEN"]
    taken = await create(username=await conn.fetchval("SELECT username FROM users WHERE id = $1", w.users["head"]))
    assert _errors(taken, "createUser") == ["ALREADY_EXISTS"]
    assert (await create())["data"]["createUser"]["userErrors"] == []
    twice = await create(username="sun.xin2")
    assert twice["data"]["createUser"]["userErrors"][0] == {
        "field": ["personId"],
        "message": "This person already has an account",
        "code": "ALREADY_EXISTS",
    }
    refused = await api.op(
        "CreateUser",
        {"username": "r1", "role": "RESIDENT", "scopeId": ids.encode("Building", w.building)},
        token=api.token_for(w.users["resident"]),
    )
    assert _errors(refused, "createUser") == ["FORBIDDEN"]


async def test_grants_and_revocations_take_effect_on_the_next_request(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    admin = api.token_for(w.users["admin"])
    resident = api.token_for(w.users["resident"])
    variables = {
        "userId": ids.encode("User", w.users["resident"]),
        "role": "COMMUNITY_STAFF",
        "scopeId": ids.encode("Community", w.community),
    }
    granted = await api.op("GrantRole", variables, token=admin)
    assert {"role": "COMMUNITY_STAFF", "scope": {"id": variables["scopeId"]}} in granted["data"]["grantRole"]["user"][
        "roles"
    ]
    assert _errors(await api.op("GrantRole", variables, token=admin), "grantRole") == ["ALREADY_EXISTS"]
    found = await api.op("SearchPeople", {"search": "钱"}, token=resident)
    assert found["data"]["people"]["totalCount"] == 1
    revoked = await api.op("RevokeRole", variables, token=admin)
    assert revoked["data"]["revokeRole"]["userErrors"] == []
    assert (await api.op("SearchPeople", {"search": "钱"}, token=resident))["data"]["people"]["totalCount"] == 0
    assert _errors(await api.op("RevokeRole", variables, token=admin), "revokeRole") == ["NOT_FOUND"]
    # nobody changes their own roles
    own = variables | {"userId": ids.encode("User", w.users["admin"])}
    assert _errors(await api.op("GrantRole", own, token=admin), "grantRole") == ["FORBIDDEN"]
    # BUILDING_HEAD follows the building's responsible person
    head = {
        "userId": ids.encode("User", w.users["head"]),
        "role": "BUILDING_HEAD",
        "scopeId": ids.encode("Building", w.building),
    }
    assert _errors(await api.op("RevokeRole", head, token=admin), "revokeRole") == ["INVALID"]
    # staff may not grant what they could not grant themselves, nor touch a stronger account
    staff = api.token_for(w.users["staff"])
    assert _errors(await api.op("GrantRole", variables, token=staff), "grantRole") == ["FORBIDDEN"]
    strong = await b.user(conn, w.county, person_id=await b.person(conn, w.county, household=w.household))
    await conn.execute(
        "INSERT INTO role_grants (county_id, user_id, role, area_id) VALUES ($1, $2, 'COUNTY_ADMIN', $1)",
        w.county,
        strong,
    )
    resident_grant = {
        "userId": ids.encode("User", strong),
        "role": "RESIDENT",
        "scopeId": ids.encode("Building", w.building),
    }
    assert _errors(await api.op("GrantRole", resident_grant, token=staff), "grantRole") == ["FORBIDDEN"]


async def test_a_disabled_account_is_refused_from_the_next_request(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    usernames = await b.with_passwords(conn, w)
    staff = api.token_for(w.users["staff"])
    resident = api.token_for(w.users["resident"])
    target = {"userId": ids.encode("User", w.users["resident"])}
    done = await api.op("DisableUser", target, token=staff)
    assert done["data"]["disableUser"]["user"] == {"id": target["userId"], "disabled": True}
    assert (await api.post(VIEWER, token=resident))["data"]["viewer"] is None
    assert (await api.op("MyHousehold", token=resident))["data"]["viewer"] is None
    assert _errors(await api.post(LOGIN, {"u": usernames["resident"], "p": b.SAMPLE_PASSWORD}), "login") == [
        "INVALID_CREDENTIALS"
    ]
    assert _errors(await api.op("DisableUser", target, token=staff), "disableUser") == ["INVALID_STATE"]
    assert _errors(
        await api.op("DisableUser", {"userId": ids.encode("User", w.users["staff"])}, token=staff), "disableUser"
    ) == ["FORBIDDEN"]
    # staff manage only accounts of people living in their scope
    assert _errors(
        await api.op("DisableUser", {"userId": ids.encode("User", w.users["cadre"])}, token=staff), "disableUser"
    ) == ["FORBIDDEN"]
    row = await conn.fetchrow(
        "SELECT user_id, action FROM audit_log "
        "WHERE target_type = 'User' AND target_id = $1 AND action = 'disableUser'",
        w.users["resident"],
    )
    assert row is not None and row["user_id"] == w.users["staff"]


async def test_users_lists_what_each_manager_may_manage(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)

    async def usernames_for(who: str, **variables: Any) -> list[int]:
        result = await api.op("Users", variables, token=api.token_for(w.users[who]))
        return [ids.decode_as(e["node"]["id"], "User") or 0 for e in result["data"]["users"]["edges"]]

    living_here = [w.users["head"], w.users["resident"], w.users["neighbour"]]
    assert await usernames_for("staff") == living_here
    assert await usernames_for("staff", role="RESIDENT") == living_here[1:]
    assert await usernames_for("staff", search="钱邻") == [w.users["neighbour"]]
    assert await usernames_for("admin") == sorted(w.users.values())
    refused = await api.op("Users", {}, token=api.token_for(w.users["head"]))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_building_head_role_follows_the_building_s_responsible_person(
    api: Api, conn: asyncpg.Connection
) -> None:
    w = await b.world(conn)
    staff = api.token_for(w.users["staff"])
    assigned = await api.op(
        "AssignResponsible",
        {"areaId": ids.encode("Building", w.building), "personId": ids.encode("Person", w.people["neighbour"])},
        token=staff,
    )
    assert assigned["data"]["assignResponsible"]["userErrors"] == []
    roles = {
        who: (await api.post(VIEWER, token=api.token_for(w.users[who])))["data"]["viewer"]["roles"]
        for who in ("head", "neighbour")
    }
    building = {"role": "BUILDING_HEAD", "scope": {"id": ids.encode("Building", w.building)}}
    assert building not in roles["head"] and building in roles["neighbour"]
    # the new head reaches the building's residents, the former one no longer does
    found = await api.op("SearchPeople", {"search": "赵"}, token=api.token_for(w.users["neighbour"]))
    assert found["data"]["people"]["totalCount"] == 1
    former = await api.op("SearchPeople", {"search": "赵"}, token=api.token_for(w.users["head"]))
    assert former["data"]["people"]["totalCount"] == 0


async def test_concurrent_password_changes_with_the_same_current_password_one_wins(
    committed_db: dict[str, Any],
) -> None:
    """The current password is checked before the transaction (argon2 holds no lock); the
    transaction requires the stored hash to be the one checked, so of five changes sent at
    once with the same current password exactly one succeeds, and its password signs in."""
    api: Api = committed_db["api"]
    async with own_connection(committed_db) as conn:
        w = await b.world(conn)
        usernames = await b.with_passwords(conn, w)
    token = api.token_for(w.users["staff"])
    news = [f"new password number {i}" for i in range(5)]
    results = await asyncio.gather(*(api.post(CHANGE, {"c": b.SAMPLE_PASSWORD, "n": n}, token=token) for n in news))
    outcomes = [r["data"]["changePassword"] for r in results]
    won = [n for n, o in zip(news, outcomes, strict=True) if o["userErrors"] == [] and o["token"]]
    assert len(won) == 1
    assert sorted(e["code"] for o in outcomes for e in o["userErrors"]) == ["INVALID_CREDENTIALS"] * 4
    signed_in = await api.post(LOGIN, {"u": usernames["staff"], "p": won[0]})
    assert signed_in["data"]["login"]["userErrors"] == []
    assert _errors(await api.post(LOGIN, {"u": usernames["staff"], "p": b.SAMPLE_PASSWORD}), "login") == [
        "INVALID_CREDENTIALS"
    ]
