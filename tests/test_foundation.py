"""The service foundation as a client meets it: health, readiness, authentication."""

from __future__ import annotations

from tests.support import Api


async def test_healthz_and_readyz(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_anonymous_node_is_unauthenticated(api: Api) -> None:
    result = await api.post('{ node(id: "abc") { id } }')
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
