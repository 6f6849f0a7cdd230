"""Sessions end when access ends: a password change or `gongjian user disable` ends the
user's tokens (and what its open sockets may do); an API token ends with its creator's
right to issue it."""

from __future__ import annotations

import asyncpg

from db.pool import Conn
from gongjian.config import Settings
from resolvers import user_admin
from tests import builders
from tests.support import Api
from tests.test_websocket_access import Runner, _socket

VIEWER = "{ viewer { username } }"


async def _viewer(api: Api, token: str) -> object:
    return (await api.ok(VIEWER, token=token))["viewer"]


async def _login(api: Api, username: str, password: str) -> str:
    login = (await api.op("Login", {"username": username, "password": password}))["data"]["login"]
    assert login["userErrors"] == [], login
    return str(login["token"])


async def test_a_password_change_ends_the_earlier_tokens(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    names = await builders.with_passwords(conn, w)
    old = await _login(api, names["staff"], builders.SAMPLE_PASSWORD)
    assert await _viewer(api, old) == {"username": names["staff"]}
    await user_admin.set_password(Conn(conn), names["staff"], "a brand new password")
    assert await _viewer(api, old) is None
    new = await _login(api, names["staff"], "a brand new password")
    assert await _viewer(api, new) == {"username": names["staff"]}


async def test_disabling_a_user_ends_tokens_and_sockets_for_good(
    api: Api, conn: asyncpg.Connection, settings: Settings
) -> None:
    w = await builders.world(conn)
    names = await builders.with_passwords(conn, w)
    token = await _login(api, names["admin"], builders.SAMPLE_PASSWORD)
    async with _socket(conn, settings, w.users["admin"]) as ws:
        socket = Runner(ws)
        assert (await socket.run(VIEWER))["data"]["viewer"] == {"username": names["admin"]}
        await user_admin.set_disabled(Conn(conn), names["admin"], True)
        assert (await socket.run(VIEWER))["data"]["viewer"] is None
        assert await _viewer(api, token) is None
        await user_admin.set_disabled(Conn(conn), names["admin"], False)
        assert (await socket.run(VIEWER))["data"]["viewer"] is None  # its token was ended, not paused
        assert await _viewer(api, token) is None
    assert await _viewer(api, await _login(api, names["admin"], builders.SAMPLE_PASSWORD)) == {
        "username": names["admin"]
    }
    actions = await conn.fetch("SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id", w.users["admin"])
    assert [r["action"] for r in actions if r["action"].startswith("user.")] == ["user.disable", "user.enable"]


async def test_an_api_token_ends_with_its_creators_right_to_issue_it(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    secret = "gjt_" + "s" * 43
    await builders.api_token(conn, w.unit, w.users["unit"], secret)
    assert await _viewer(api, secret) is not None
    await conn.execute("DELETE FROM role_grants WHERE user_id = $1 AND role = 'UNIT_ADMIN'", w.users["unit"])
    assert await _viewer(api, secret) is None  # the creator was offboarded from the unit
    # a COUNTY_ADMIN's token lives as long as they administer the county
    county_secret = "gjt_" + "c" * 43
    await builders.api_token(conn, w.unit, w.users["admin"], county_secret)
    assert await _viewer(api, county_secret) is not None
    await conn.execute("UPDATE users SET disabled = true WHERE id = $1", w.users["admin"])
    assert await _viewer(api, county_secret) is None
