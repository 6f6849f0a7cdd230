"""Sign-in, the viewer and bearer tokens, as a client meets them."""

from __future__ import annotations

import datetime
import time

import asyncpg
import httpx

from db.pool import SingleConnectionDatabase
from gongjian import clock, tokens
from gongjian.app import create_app
from gongjian.config import Settings
from resolvers import ids
from tests.builders import SAMPLE_PASSWORD, with_passwords, world
from tests.conftest import TEST_SECRET
from tests.support import Api

WRONG = "not the password"


def _errors(result: dict[str, object]) -> list[str]:
    errors = result.get("errors") or []
    assert isinstance(errors, list)
    return [e["extensions"]["code"] for e in errors]


async def test_login_gives_an_expiring_token_that_signs_in(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    names = await with_passwords(conn, w)
    before = clock.now()
    result = await api.op("Login", {"username": names["head"].upper(), "password": SAMPLE_PASSWORD})
    login = result["data"]["login"]
    assert login["userErrors"] == []
    expires = datetime.datetime.fromisoformat(login["expiresAt"])
    assert expires.utcoffset() is not None
    assert datetime.timedelta(hours=11, minutes=59) < expires - before < datetime.timedelta(hours=12, minutes=1)
    assert login["viewer"] == {
        "id": ids.encode("User", w.users["head"]),
        "username": names["head"],
        "roles": [{"role": "BUILDING_HEAD", "scope": {"id": ids.encode("Building", w.building), "name": "1号楼"}}],
    }
    viewer = (await api.op("Viewer", token=login["token"]))["data"]["viewer"]
    assert viewer == {
        "id": ids.encode("User", w.users["head"]),
        "username": names["head"],
        "person": {
            "id": ids.encode("Person", w.people["head"]),
            "name": "李楼长",
            "household": {"id": ids.encode("Household", w.household), "label": "1单元101"},
        },
        "roles": [{"role": "BUILDING_HEAD", "scope": {"id": ids.encode("Building", w.building), "name": "1号楼"}}],
    }
    audited = await conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'login' AND user_id = $1", w.users["head"]
    )
    assert audited == 1


async def test_every_role_shows_its_scope(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    expected = {
        "admin": ("COUNTY_ADMIN", "County", w.county),
        "staff": ("COMMUNITY_STAFF", "Community", w.community),
        "head": ("BUILDING_HEAD", "Building", w.building),
        "cadre": ("CADRE", "Organisation", w.unit),
        "resident": ("RESIDENT", "Building", w.building),
        "neighbour": ("RESIDENT", "Building", w.other_building),
        "unit": ("UNIT_ADMIN", "Organisation", w.unit),
    }
    for key, (role, type_name, pk) in expected.items():
        viewer = (await api.op("Viewer", token=api.token_for(w.users[key])))["data"]["viewer"]
        assert [(g["role"], g["scope"]["id"]) for g in viewer["roles"]] == [(role, ids.encode(type_name, pk))], key


async def test_viewer_is_null_when_anonymous(api: Api) -> None:
    assert await api.op("Viewer") == {"data": {"viewer": None}}


async def test_unknown_user_and_wrong_password_answer_identically(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    names = await with_passwords(conn, w)
    wrong = await api.op("Login", {"username": names["resident"], "password": WRONG})
    unknown = await api.op("Login", {"username": "nobody-here", "password": WRONG})
    assert wrong == unknown
    failed = await conn.fetch("SELECT user_id, county_id FROM audit_log WHERE action = 'loginFailed'")
    assert [(r["user_id"], r["county_id"]) for r in failed] == [(w.users["resident"], w.county)]
    assert await conn.fetchval("SELECT count(*) FROM login_failures") == 2
    assert wrong["data"]["login"] == {
        "token": None,
        "expiresAt": None,
        "viewer": None,
        "userErrors": [{"field": None, "message": "Unknown username or wrong password", "code": "INVALID_CREDENTIALS"}],
    }


async def test_five_failures_lock_the_username_until_the_window_passes(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    names = await with_passwords(conn, w)
    name = names["resident"]
    for _ in range(5):
        codes = [
            e["code"]
            for e in (await api.op("Login", {"username": name, "password": WRONG}))["data"]["login"]["userErrors"]
        ]
        assert codes == ["INVALID_CREDENTIALS"]
    locked = await api.op("Login", {"username": name.upper(), "password": SAMPLE_PASSWORD})
    assert locked["data"]["login"]["token"] is None
    assert [e["code"] for e in locked["data"]["login"]["userErrors"]] == ["TOO_MANY_ATTEMPTS"]
    # another username is not affected
    other = await api.op("Login", {"username": names["neighbour"], "password": SAMPLE_PASSWORD})
    assert other["data"]["login"]["token"]
    # the window passes: the failures are older than 15 minutes
    await conn.execute("UPDATE login_failures SET at = at - interval '15 minutes 1 second'")
    again = await api.op("Login", {"username": name, "password": SAMPLE_PASSWORD})
    assert again["data"]["login"]["userErrors"] == [] and again["data"]["login"]["token"]


async def test_failures_older_than_the_window_do_not_count(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    names = await with_passwords(conn, w)
    await conn.executemany(
        "INSERT INTO login_failures (username, at) VALUES ($1, now() - make_interval(mins => $2))",
        [(names["staff"], m) for m in (16, 20, 30, 60, 90, 14, 13, 12, 11)],
    )
    ok = await api.op("Login", {"username": names["staff"], "password": SAMPLE_PASSWORD})
    assert ok["data"]["login"]["userErrors"] == []
    # a success clears the username's failures; old ones are forgotten on every attempt
    assert await conn.fetchval("SELECT count(*) FROM login_failures") == 0
    await conn.executemany(
        "INSERT INTO login_failures (username, at) VALUES ($1, now() - interval '1 minute')",
        [(names["staff"],)] * 5,
    )
    refused = await api.op("Login", {"username": names["staff"], "password": SAMPLE_PASSWORD})
    assert [e["code"] for e in refused["data"]["login"]["userErrors"]] == ["TOO_MANY_ATTEMPTS"]


async def test_tampered_expired_and_foreign_tokens_are_unauthenticated(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    good = api.token_for(w.users["admin"])
    prefix, payload, signature = good.split(".")
    forged_payload = tokens._b64(b'{"uid":%d,"exp":%d}' % (w.users["admin"], int(time.time()) + 99999))
    bad = {
        "tampered signature": f"{prefix}.{payload}.{signature[:-2]}AA",
        "tampered payload": f"{prefix}.{forged_payload}.{signature}",
        "expired": tokens.sign(TEST_SECRET, w.users["admin"], -1)[0],
        "other secret": tokens.sign("another-secret-" + "y" * 40, w.users["admin"], 3600)[0],
        "garbage": "v1.garbage",
        "unknown api token": "gjt_" + "A" * 43,
    }
    nodes = {"ids": [ids.encode("County", w.county)]}
    assert (await api.op("Nodes", nodes, token=good))["data"]["nodes"][0]["id"]
    for label, token in bad.items():
        result = await api.op("Nodes", nodes, token=token)
        assert _errors(result) == ["UNAUTHENTICATED"], label
        assert (await api.op("Viewer", token=token))["data"]["viewer"] is None, label


async def test_a_token_verified_before_is_refused_once_it_expires(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    token, expires_at = tokens.sign(TEST_SECRET, w.users["admin"], 60)
    assert (await api.op("Viewer", token=token))["data"]["viewer"] is not None
    assert ((TEST_SECRET,), token) in tokens._verified  # its claims were kept
    assert tokens.verify([TEST_SECRET], token, now=expires_at - 1) is not None
    assert tokens.verify([TEST_SECRET], token, now=expires_at) is None


async def test_rotated_secret_keeps_old_tokens_valid_and_signs_with_the_new(
    conn: asyncpg.Connection,
) -> None:
    w = await world(conn)
    names = await with_passwords(conn, w)
    new_secret = "rotated-secret-" + "z" * 40
    old_token = tokens.sign(TEST_SECRET, w.users["staff"], 3600)[0]

    async def viewer_with(settings: Settings, token: str) -> object:
        app = create_app(settings, db=SingleConnectionDatabase(conn))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            api = Api(client=client, secret=new_secret)
            return (await api.op("Viewer", token=token))["data"]["viewer"]

    rotated = Settings(secret=new_secret, previous_secrets=(TEST_SECRET,))
    assert await viewer_with(rotated, old_token) is not None
    assert await viewer_with(Settings(secret=new_secret), old_token) is None
    app = create_app(rotated, db=SingleConnectionDatabase(conn))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        login = (
            await Api(client=client, secret=new_secret).op(
                "Login", {"username": names["staff"], "password": SAMPLE_PASSWORD}
            )
        )["data"]["login"]
    assert tokens.verify([new_secret], login["token"]) is not None
    assert tokens.verify([TEST_SECRET], login["token"]) is None


async def test_disabled_user_cannot_sign_in_or_use_tokens(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    names = await with_passwords(conn, w)
    token = api.token_for(w.users["neighbour"])
    await conn.execute("UPDATE users SET disabled = true WHERE id = $1", w.users["neighbour"])
    login = await api.op("Login", {"username": names["neighbour"], "password": SAMPLE_PASSWORD})
    assert [e["code"] for e in login["data"]["login"]["userErrors"]] == ["INVALID_CREDENTIALS"]
    assert (await api.op("Viewer", token=token))["data"]["viewer"] is None


async def test_stored_password_is_an_argon2id_hash(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    await with_passwords(conn, w)
    stored = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", w.users["admin"])
    assert stored.startswith("$argon2id$") and SAMPLE_PASSWORD not in stored


async def test_an_over_long_username_is_not_cut_down_to_a_real_one(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    await with_passwords(conn, w)
    long_name = "a" * 64
    await conn.execute("UPDATE users SET username = $2 WHERE id = $1", w.users["admin"], long_name)
    assert (await api.op("Login", {"username": long_name, "password": SAMPLE_PASSWORD}))["data"]["login"]["token"]
    longer = await api.op("Login", {"username": long_name + "x", "password": SAMPLE_PASSWORD})
    assert [e["code"] for e in longer["data"]["login"]["userErrors"]] == ["INVALID_CREDENTIALS"]


async def test_the_login_payload_resolves_as_the_new_user(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    names = await with_passwords(conn, w)
    result = await api.ok(
        "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) "
        "{ viewer { person { phone household { label } } } } }",
        {"u": names["resident"], "p": SAMPLE_PASSWORD},
    )
    assert result["login"]["viewer"]["person"] == {"phone": "13800000004", "household": {"label": "1单元101"}}


async def test_a_scope_leads_to_its_area_or_organisation(api: Api, conn: asyncpg.Connection) -> None:
    w = await world(conn)
    query = "{ viewer { roles { scope { typeName area { level } organisation { kind } } } } }"
    head = (await api.ok(query, token=api.token_for(w.users["head"])))["viewer"]["roles"][0]["scope"]
    assert head == {"typeName": "Building", "area": {"level": "BUILDING"}, "organisation": None}
    unit = (await api.ok(query, token=api.token_for(w.users["unit"])))["viewer"]["roles"][0]["scope"]
    assert unit == {"typeName": "Organisation", "area": None, "organisation": {"kind": "GOVERNMENT_UNIT"}}
