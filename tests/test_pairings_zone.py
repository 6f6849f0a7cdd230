"""The county's time zone is configuration: the calendar follows it, not UTC nor Shanghai."""

from __future__ import annotations

import datetime

import asyncpg
import pytest

from gongjian import clock
from gongjian.config import Settings
from resolvers import ids
from tests import builders as b
from tests.conftest import TEST_SECRET
from tests.support import Api


@pytest.fixture
def settings() -> Settings:
    return Settings(secret=TEST_SECRET, timezone="America/Los_Angeles")


async def test_calendar_follows_the_configured_zone(
    api: Api, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 2024-03-01 05:00 UTC it is still 29 February (a leap day) in Los Angeles."""
    monkeypatch.setattr(clock, "now", lambda: datetime.datetime(2024, 3, 1, 5, 0, tzinfo=datetime.UTC))
    w = await b.world(conn)
    pairing = await b.pairing_of(conn, w.people["cadre"], w.household)
    token = api.token_for(w.users["cadre"])
    visit = {"pairingId": ids.encode("Pairing", pairing), "kind": "HOME_VISIT", "occurredOn": "2024-03-01"}
    future = await api.op("RecordVisit", visit, token=token)
    assert future["data"]["recordVisit"]["userErrors"][0]["code"] == "INVALID"
    today = await api.op("RecordVisit", {**visit, "occurredOn": "2024-02-29"}, token=token)
    assert today["data"]["recordVisit"]["userErrors"] == []
    data = await api.ok(
        "query($id: ID!) { node(id: $id) { ... on Pairing { obligations { kind periodStart periodEnd done } } } }",
        {"id": ids.encode("Pairing", pairing)},
        token=token,
    )
    assert data["node"]["obligations"][0] == {
        "kind": "HOME_VISIT",
        "periodStart": "2024-02-01",
        "periodEnd": "2024-02-29",
        "done": 1,
    }
