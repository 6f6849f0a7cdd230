"""`gongjian user`: add, grant, revoke, set-password and list, as an admin runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from resolvers import ids
from tests import builders
from tests.builders import world
from tests.conftest import TEST_SECRET


def _gongjian(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "GONGJIAN_SECRET": TEST_SECRET}
    return subprocess.run(
        [sys.executable, "-m", "gongjian.cli", *args], input=stdin, capture_output=True, text=True, env=env, check=False
    )


async def test_an_admin_manages_accounts_from_the_console(committed_db: dict[str, Any]) -> None:
    url, api = committed_db["url"], committed_db["api"]
    async with committed_db["pool"].acquire() as conn:
        w = await world(conn)
        person = ids.encode("Person", await builders.person(conn, w.county, "王芳"))
    added = _gongjian(url, "user", "add", "wangfang", "--person", person, stdin="first-password\n")
    assert added.returncode == 0, added.stderr
    login = (await api.op("Login", {"username": "wangfang", "password": "first-password"}))["data"]["login"]
    assert login["userErrors"] == [] and login["viewer"]["roles"] == []

    community = ids.encode("Community", w.community)
    assert _gongjian(url, "user", "grant", "wangfang", "community_staff", community).returncode == 0
    assert _gongjian(url, "user", "grant", "wangfang", "UNIT_ADMIN", str(w.unit)).returncode == 0
    viewer = (await api.op("Viewer", token=login["token"]))["data"]["viewer"]
    assert [(g["role"], g["scope"]["id"]) for g in viewer["roles"]] == [
        ("COMMUNITY_STAFF", community),
        ("UNIT_ADMIN", ids.encode("Organisation", w.unit)),
    ]
    listed = _gongjian(url, "user", "list")
    assert "wangfang" in listed.stdout and "COMMUNITY_STAFF 东岳殿社区" in listed.stdout

    assert _gongjian(url, "user", "revoke", "wangfang", "UNIT_ADMIN", str(w.unit)).returncode == 0
    viewer = (await api.op("Viewer", token=login["token"]))["data"]["viewer"]
    assert [g["role"] for g in viewer["roles"]] == ["COMMUNITY_STAFF"]

    assert _gongjian(url, "user", "set-password", "wangfang", stdin="second-password\n").returncode == 0
    old = (await api.op("Login", {"username": "wangfang", "password": "first-password"}))["data"]["login"]
    assert [e["code"] for e in old["userErrors"]] == ["INVALID_CREDENTIALS"]
    new = (await api.op("Login", {"username": "wangfang", "password": "second-password"}))["data"]["login"]
    assert new["userErrors"] == []

    async with committed_db["pool"].acquire() as conn:
        actions = [
            r["action"] for r in await conn.fetch("SELECT action FROM audit_log WHERE request_id = 'cli' ORDER BY id")
        ]
        stored = await conn.fetchval("SELECT password_hash FROM users WHERE username = 'wangfang'")
    assert actions == ["user.add", "user.grant", "user.grant", "user.revoke", "user.setPassword"]
    assert stored.startswith("$argon2id$")


async def test_refusals_are_one_line_and_passwords_never_come_from_arguments(committed_db: dict[str, Any]) -> None:
    url = committed_db["url"]
    async with committed_db["pool"].acquire() as conn:
        w = await world(conn)
        users_before = await conn.fetchval("SELECT count(*) FROM users")
    by_argument = _gongjian(url, "user", "add", "someone", "--password", "secret-password")
    assert by_argument.returncode == 2 and "unrecognized arguments" in by_argument.stderr
    cases = {
        "short password": (["user", "add", "someone", "--county", str(w.county)], "short\n"),
        "unknown user": (["user", "grant", "nobody", "RESIDENT", str(w.building)], ""),
        "bad role": (["user", "grant", f"user{w.users['admin']}", "KING", str(w.building)], ""),
        "area for an organisation role": (["user", "grant", "x", "CADRE", ids.encode("Building", w.building)], ""),
        "duplicate": (["user", "add", "dup", "--person", str(w.people["resident"])], "long-enough-password\n"),
    }
    for label, (args, stdin) in cases.items():
        result = _gongjian(url, *args, stdin=stdin)
        assert result.returncode == 2, (label, result.stderr)
        assert result.stderr.startswith("gongjian: ") and "Traceback" not in result.stderr, (label, result.stderr)
    async with committed_db["pool"].acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users") == users_before
