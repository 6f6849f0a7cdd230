"""The service foundation as a client meets it: health, readiness, authentication."""

from __future__ import annotations

import asyncpg

from tests.support import Api


async def test_healthz_and_readyz(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_anonymous_node_is_unauthenticated(api: Api) -> None:
    result = await api.post('{ node(id: "abc") { id } }')
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_readme_documents_every_setting() -> None:
    import re

    from tests.support import REPO

    names = set(re.findall(r'"((?:GONGJIAN_|DATABASE_)[A-Z_]+)"', (REPO / "gongjian" / "config.py").read_text()))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(names) >= 15
    assert not [n for n in sorted(names) if f"`{n}`" not in readme]


def test_dockerfile_essentials() -> None:
    from tests.support import REPO

    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    for needed in (
        "AS build",
        "slim",
        "--require-hashes -r requirements.lock",
        "USER gongjian",
        "HEALTHCHECK",
        "/readyz",
    ):
        assert needed in dockerfile, needed
    assert "DATABASE_URL" in dockerfile and "gongjian serve --host 0.0.0.0" in dockerfile


async def test_forged_cursors_beyond_bigint_are_bad_user_input_in_every_domain(
    api: Api, conn: asyncpg.Connection
) -> None:
    """A cursor's numbers go to SQL as bigint parameters: out of range is the client's error,
    not a 500, whichever list is paged."""
    from resolvers.pagination import encode_cursor
    from tests.builders import world

    w = await world(conn)
    token = api.token_for(w.users["admin"])
    forged = encode_cursor([2**63])
    for operation in ("Areas", "Organisations", "Resources", "Needs", "ServiceOrders", "Activities", "Findings"):
        result = await api.op(operation, {"after": forged}, token=token)
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (operation, result)
