"""Sign-in under abuse: argon2 holds no database connection or lock, and failed sign-ins
of any username (unknown ones included) leave the table once out of the window."""

from __future__ import annotations

import os
import threading
from typing import Any

import asyncpg
import pytest

from gongjian import passwords
from tests import builders
from tests.support import Api, contract_operations


async def test_password_verification_holds_no_connection_and_no_lock(
    committed_db: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = committed_db["pool"]
    api: Api = committed_db["api"]
    async with pool.acquire() as raw:
        w = await builders.world(raw)
        names = await builders.with_passwords(raw, w)
    observer = await asyncpg.connect(committed_db["url"])
    seen: list[tuple[int, int]] = []
    verify = passwords.verify_password_async

    async def watched(password_hash: str | None, password: str) -> bool:
        in_use = pool.get_size() - pool.get_idle_size()
        advisory = await observer.fetchval(  # in this test's database (other suites share the server)
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        seen.append((in_use, advisory))
        return await verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password_async", watched)
    try:
        for password in (builders.SAMPLE_PASSWORD, "wrong password"):
            result = await api.post(contract_operations()["Login"], {"username": names["staff"], "password": password})
            signed_in = result["data"]["login"]["token"] is not None
            assert signed_in == (password == builders.SAMPLE_PASSWORD)
    finally:
        await observer.close()
    assert seen == [(0, 0), (0, 0)]


async def test_password_checks_run_at_a_lower_priority_than_the_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood of sign-ins on a busy machine takes its CPU from the argon2 checks, not from
    everybody else's requests (bench/login_flood.py measures it)."""
    check = passwords.verify_password
    seen: list[int] = []

    def watched(password_hash: str | None, password: str) -> bool:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return check(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", watched)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert not await passwords.verify_password_async(None, "guess")
    assert seen == [min(19, mine + passwords.ARGON2_NICENESS)]


async def test_failed_sign_ins_of_unknown_usernames_expire(api: Api, conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO login_failures (username, at) SELECT 'ghost' || n, now() - interval '16 minutes'"
        " FROM generate_series(1, 50) AS n"
    )
    await conn.execute("INSERT INTO login_failures (username) VALUES ('recent-ghost')")
    result = await api.post(contract_operations()["Login"], {"username": "somebody", "password": "x"})
    assert [e["code"] for e in result["data"]["login"]["userErrors"]] == ["INVALID_CREDENTIALS"]
    left = await conn.fetch("SELECT username FROM login_failures ORDER BY username")
    assert [r["username"] for r in left] == ["recent-ghost", "somebody"]
