"""Statistics for a period (StatisticsForPeriod): the figures about events count only what
happened from `from` to `to` inclusive, in the county's calendar."""

from __future__ import annotations

import asyncpg

from resolvers import ids
from tests import builders as b
from tests.support import Api

PERIOD = {"from": "2024-01-01", "to": "2024-12-31"}


async def _at(conn: asyncpg.Connection, sql: str, *args: object) -> None:
    await conn.execute(sql, *args)


async def test_events_count_within_the_period_in_county_time(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    # activities ending on the last evening of 2023 and on New Year's Eve 2024, Beijing time
    for ends in ("2023-12-31 23:30+08", "2024-12-31 23:30+08", "2025-01-01 00:30+08"):
        activity = await b.activity(conn, w.county, w.community, [w.unit])
        await conn.execute(
            "UPDATE activities SET starts_at = $2::text::timestamptz - interval '2 hours', "
            "ends_at = $2::text::timestamptz WHERE id = $1",
            activity,
            ends,
        )
    for status, year in (("COMPLETED", 2020), ("COMPLETED", 2024), ("IN_PROGRESS", 2024)):
        compound = await b.area(conn, "COMPOUND", None, w.district)
        await b.renovation(conn, compound, status=status, year=year)
    removed = await b.finding(conn, w.compound, category="ILLEGAL_STRUCTURE", rectified_days_after_deadline=0)
    await conn.execute("UPDATE findings SET rectified_at = '2024-06-01 10:00+08' WHERE id = $1", removed)
    # orders: placed in 2023 and completed and rated (5) in 2024; placed and rated (3) in 2025
    old = await b.service_order(conn, w, title="旧单")
    new = await b.service_order(conn, w, title="新单")
    for order, placed, done, score in ((old, "2023-12-20", "2024-01-05", 5), (new, "2025-01-02", "2025-01-03", 3)):
        await conn.execute(
            "UPDATE service_orders SET created_at = $2::text::timestamptz, status = 'CLOSED', rating = $3, "
            "assignee_id = $4 WHERE id = $1",
            order,
            placed + " 09:00+08",
            score,
            w.people["cadre"],
        )
        for action, status in (("COMPLETED", "COMPLETED"), ("RATED", "CLOSED")):
            await conn.execute(
                "INSERT INTO order_events (county_id, order_id, at, action, to_status) "
                "VALUES ($1, $2, $3::text::timestamptz, $4, $5)",
                w.county,
                order,
                done + " 10:00+08",
                action,
                status,
            )
    county = ids.encode("County", w.county)
    admin = api.token_for(w.users["admin"])
    in_2024 = await api.op("StatisticsForPeriod", {"areaId": county, **PERIOD}, token=admin)
    assert in_2024["data"]["statistics"] == {
        "activitiesHeld": 1,
        "renovatedCompounds": 1,
        "illegalStructuresRemoved": 1,
        "ordersPlaced": 0,
        "ordersCompleted": 1,
        "averageRating": 5.0,
    }
    all_time = await api.op("Statistics", {"areaId": county}, token=admin)
    figures = all_time["data"]["statistics"]
    assert (figures["activitiesHeld"], figures["renovatedCompounds"], figures["ordersPlaced"]) == (3, 2, 2)
    assert (figures["ordersCompleted"], figures["averageRating"]) == (2, 4.0)


async def test_a_period_must_run_forwards_and_be_whole(api: Api, conn: asyncpg.Connection) -> None:
    w = await b.world(conn)
    admin = api.token_for(w.users["admin"])
    county = ids.encode("County", w.county)
    backwards = await api.op(
        "StatisticsForPeriod", {"areaId": county, "from": "2024-02-01", "to": "2024-01-31"}, token=admin
    )
    assert backwards["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    half = await api.post(
        'query($a: ID!) { statistics(areaId: $a, from: "2024-01-01") { ordersPlaced } }', {"a": county}, token=admin
    )
    assert half["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    one_day = await api.op(
        "StatisticsForPeriod", {"areaId": county, "from": "2024-01-01", "to": "2024-01-01"}, token=admin
    )
    assert one_day["data"]["statistics"]["ordersPlaced"] == 0
    refused = await api.op(
        "StatisticsForPeriod", {"areaId": county, **PERIOD}, token=api.token_for(w.users["resident"])
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
