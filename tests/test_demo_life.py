"""The demo's community life: the figures of DOMAIN.md and every state represented."""

from __future__ import annotations

import datetime
import random

import asyncpg

from db.demo import areas, life, load
from db.pool import Conn
from gongjian import clock
from tests import builders
from tests.support import ZONE

FIGURES = """
SELECT
  (SELECT count(*) FROM activities WHERE ends_at < now() AND starts_at >= '2021-01-01') AS ended_since_2021,
  (SELECT count(*) FROM activities WHERE starts_at > now()) AS upcoming,
  (SELECT count(DISTINCT kind) FROM activities) AS activity_kinds,
  (SELECT count(*) FROM activities a WHERE a.signup_count <>
     (SELECT count(*) FROM signups s WHERE s.activity_id = a.id AND s.cancelled_at IS NULL)) AS wrong_counts,
  (SELECT count(*) FROM activities a WHERE NOT EXISTS (SELECT 1 FROM activity_hosts h WHERE h.activity_id = a.id))
     AS without_host,
  (SELECT count(*) FROM signups WHERE attended) AS attended,
  (SELECT count(DISTINCT kind) FROM meetings WHERE status = 'HELD') AS kinds_held,
  (SELECT count(*) FROM meetings WHERE status = 'SCHEDULED') AS scheduled,
  (SELECT count(*) FROM resolutions WHERE follow_up_order_id IS NOT NULL) AS follow_ups,
  (SELECT count(DISTINCT compound_id) FROM renovations WHERE status = 'COMPLETED') AS renovated,
  (SELECT count(*) FROM renovations WHERE status <> 'COMPLETED') AS renovations_under_way,
  (SELECT count(*) FROM findings WHERE category = 'ILLEGAL_STRUCTURE' AND rectified_at IS NOT NULL)
     AS removed_structures,
  (SELECT count(*) FROM findings WHERE category IN ('ILLEGAL_STRUCTURE', 'BILLBOARD') AND rectified_at IS NOT NULL)
     AS removed_structures_and_billboards,
  (SELECT count(*) FROM findings WHERE rectified_at IS NULL AND deadline >= (now() AT TIME ZONE 'Asia/Shanghai')::date)
     AS open,
  (SELECT count(*) FROM findings WHERE rectified_at IS NULL AND deadline < (now() AT TIME ZONE 'Asia/Shanghai')::date)
     AS overdue,
  (SELECT count(*) FROM findings WHERE rectified_at > now()) AS rectified_in_future
"""


async def test_demo_step_reproduces_the_figures(conn: asyncpg.Connection) -> None:
    today = clock.today(ZONE)
    demo = load.Demo(conn=Conn(conn), rng=random.Random(load.SEED), password="x" * 8, today=today)
    await areas.step(demo)
    # what the identity and orders steps provide: the staff account and the service categories
    await builders.service_categories(conn)
    staff = await builders.user(conn, demo.ids["county"], person_id=demo.ids["sample"]["staff"], username="staff")
    demo.ids["users"] = {"staff": staff}
    await life.step(demo)
    row = await conn.fetchrow(FIGURES)
    assert row is not None
    f = dict(row)
    assert f["ended_since_2021"] >= 40 and f["upcoming"] >= 1
    assert f["activity_kinds"] == 6
    assert f["wrong_counts"] == 0 and f["without_host"] == 0 and f["attended"] > 0
    assert f["kinds_held"] == 4 and f["scheduled"] >= 1 and f["follow_ups"] >= 1
    assert f["renovated"] == 45 and f["renovations_under_way"] > 0
    assert f["removed_structures"] >= 30 and f["removed_structures_and_billboards"] >= 30
    assert f["open"] > 0 and f["overdue"] > 0 and f["rectified_in_future"] == 0
    # the report's 45 renovated compounds are since 2021; older projects come on top of them
    renovated = await conn.fetchrow(
        "SELECT count(DISTINCT compound_id) FILTER (WHERE year >= 2021) AS since_2021, "
        "count(*) FILTER (WHERE year < 2021) AS before FROM renovations WHERE status = 'COMPLETED'"
    )
    assert renovated is not None and renovated["since_2021"] == 45 and renovated["before"] > 0
    sample = demo.ids["sample"]
    hours = await conn.fetchval(
        "SELECT sum(hours) FROM signups WHERE person_id = $1 AND attended AND cancelled_at IS NULL", sample["resident"]
    )
    assert hours > 0


FESTIVALS = """
SELECT a.title, (a.starts_at AT TIME ZONE 'Asia/Shanghai')::date AS day FROM activities a
WHERE a.title ~ '年夜饭|迎新春|端午|中秋|重阳|七一|国庆' ORDER BY a.id
"""
# responsible people of every level, with their age this year
RESPONSIBLE_AGES = """
SELECT a.level, $1::int - p.birth_year AS age
FROM responsibilities r JOIN areas a ON a.id = r.area_id JOIN persons p ON p.id = r.person_id
WHERE r.until IS NULL AND p.birth_year IS NOT NULL
"""


async def test_demo_festivals_fall_on_their_days_and_responsible_people_are_adults(
    conn: asyncpg.Connection,
) -> None:
    today = clock.today(ZONE)
    demo = load.Demo(conn=Conn(conn), rng=random.Random(load.SEED), password="x" * 8, today=today)
    await areas.step(demo)
    await builders.service_categories(conn)
    staff = await builders.user(conn, demo.ids["county"], person_id=demo.ids["sample"]["staff"], username="staff")
    demo.ids["users"] = {"staff": staff}
    await life.step(demo)
    festivals = await conn.fetch(FESTIVALS)
    assert festivals, "the demo holds festival activities"
    for r in festivals:
        assert life.festival_day(r["title"], r["day"].year) == r["day"], (r["title"], r["day"])
    dinners = [r["day"] for r in festivals if "年夜饭" in r["title"]]
    for day in dinners:  # on New Year's Eve (除夕), the day before the Spring Festival
        assert day + datetime.timedelta(days=1) == datetime.date(day.year, *life.SPRING_FESTIVAL[day.year])
    minors = [r["level"] for r in await conn.fetch(RESPONSIBLE_AGES, today.year) if r["age"] < 18]
    assert minors == []
    cadres = await conn.fetchval(
        "SELECT count(*) FROM persons p WHERE p.id = ANY($1::bigint[]) AND $2::int - p.birth_year < 18",
        demo.ids["cadres"],
        today.year,
    )
    assert cadres == 0
