"""A reusable check that string arguments reach SQL only as parameters.

`assert_injection_safe(api, conn, "OperationName", variables, ["path", "to.key"], token=...)`
sends the contract operation once per hostile string in each named variable and asserts
that no request fails unexpectedly (no INTERNAL_SERVER_ERROR, nothing leaked) and that
the database still holds its tables and users. (Strings with NUL are refused up front
with BAD_USER_INPUT and `data: null`, by gongjian/text_input.py.) Use it in any domain's tests; mutations
that store the value can then check it was stored verbatim.
"""

from __future__ import annotations

import copy
from typing import Any

import asyncpg

from tests.support import Api

HOSTILE_STRINGS: tuple[str, ...] = (
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    '" OR ""="',
    "1; SELECT pg_sleep(5); --",
    "' UNION SELECT password_hash, token_hash FROM users, api_tokens --",
    "$1 $2 %s %(x)s {0}",
    "\\'; TRUNCATE audit_log; --",
    "名字'); DELETE FROM persons; --",
    "%",
    "_",
    "\x00",
)

LEAKS = ("syntax error", "asyncpg", "Traceback", "SELECT ", "password_hash", ".py")


def _set(variables: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    """A copy of `variables` with `value` at the dotted `path` (list items by index)."""
    changed = copy.deepcopy(variables)
    target: Any = changed
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return changed


async def _fingerprint(conn: asyncpg.Connection) -> tuple[int, int, int]:
    tables = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    users = await conn.fetchval("SELECT count(*) FROM users")
    persons = await conn.fetchval("SELECT count(*) FROM persons")
    return int(tables), int(users), int(persons)


async def assert_injection_safe(
    api: Api,
    conn: asyncpg.Connection,
    operation: str,
    variables: dict[str, Any],
    string_paths: list[str],
    *,
    token: str | None = None,
) -> list[dict[str, Any]]:
    """Send `operation` with each hostile string in each of `string_paths`; returns the
    results for further checks."""
    before = await _fingerprint(conn)
    results = []
    for path in string_paths:
        for hostile in HOSTILE_STRINGS:
            result = await api.op(operation, _set(variables, path, hostile), token=token)
            codes = [e.get("extensions", {}).get("code") for e in result.get("errors", [])]
            assert "INTERNAL_SERVER_ERROR" not in codes, (operation, path, hostile, result)
            text = str(result.get("errors", ""))  # data may echo the input verbatim
            assert not any(leak in text for leak in LEAKS), (operation, path, hostile, result)
            results.append(result)
    assert await _fingerprint(conn) == before, f"{operation} changed the database's tables, users or people"
    return results
