"""Helpers for driving the API as a client does."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from gongjian import tokens

REPO = Path(__file__).resolve().parent.parent
# the county time zone of the test settings and of the demo
ZONE = "Asia/Shanghai"
CONTRACT = Path.cwd().parent / "shared" / "contract"
if not CONTRACT.exists():
    # a git worktree may sit deeper than ../ (e.g. /work/wt/<name> beside /work/shared)
    CONTRACT = next(
        (p / "shared" / "contract" for p in REPO.parents if (p / "shared" / "contract").is_dir()),
        REPO.parent / "shared" / "contract",
    )


@functools.cache
def contract_operations() -> dict[str, str]:
    """Every operation of the client contract, by name, with the text of its file (read
    once per run: callers must not change the dict)."""
    from graphql import OperationDefinitionNode, parse, print_ast

    operations: dict[str, str] = {}
    for path in sorted(CONTRACT.glob("*.graphql")):
        for definition in parse(path.read_text(encoding="utf-8")).definitions:
            assert isinstance(definition, OperationDefinitionNode) and definition.name is not None
            operations[definition.name.value] = print_ast(definition)
    return operations


@dataclass
class Api:
    """A client of the app. It asks for English messages (`Accept-Language: en`), which the
    tests compare with; the Chinese default is tested in tests/test_languages.py."""

    client: httpx.AsyncClient
    secret: str
    language: str | None = field(default="en", kw_only=True)

    def token_for(self, user_id: int, lifetime: int = 3600) -> str:
        return tokens.sign(self.secret, user_id, lifetime)[0]

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if self.language:
            headers["Accept-Language"] = self.language
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name:
            body["operationName"] = operation_name
        response = await self.client.post("/graphql", json=body, headers=headers)
        assert response.status_code in (200, 400), response.text
        result: dict[str, Any] = response.json()
        return result

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The `data` of a request that must succeed without GraphQL errors."""
        result = await self.post(query, variables, token=token)
        assert "errors" not in result, result["errors"]
        data: dict[str, Any] = result["data"]
        return data

    async def op(
        self, name: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """Send a contract operation by name, exactly as the clients do."""
        return await self.post(contract_operations()[name], variables, token=token)


def without_faketime(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without libfaketime (`./dev test --at`): for a process that must run on the real
    clock, a PostgreSQL whose timers a test needs or a browser that is not ours."""
    kept = {k: v for k, v in env.items() if not k.startswith("FAKETIME")}
    preload = " ".join(lib for lib in env.get("LD_PRELOAD", "").split() if "faketime" not in lib)
    kept.pop("LD_PRELOAD", None)
    if preload:
        kept["LD_PRELOAD"] = preload
    return kept


@asynccontextmanager
async def own_connection(committed_db: Mapping[str, Any]) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own to a `committed_db` database (outside the app's pool)."""
    conn = await asyncpg.connect(committed_db["url"])
    try:
        yield conn
    finally:
        await conn.close()
