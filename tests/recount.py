"""The reports' figures recounted from the raw rows, as the reports counted them before the
counts were kept (0030_report_counts.sql): the oracle the kept counts are compared with."""

from __future__ import annotations

import datetime
from typing import Any, Final

import asyncpg

from db import pairings as db
from resolvers.pairings import period_starts

RECOUNT_COVERAGE: Final = """
WITH sub AS (
    SELECT id, level, parent_id FROM areas WHERE path @> ARRAY[$1::bigint]
), b AS (
    SELECT id, parent_id FROM sub WHERE level = 'BUILDING'
), h AS (
    SELECT hh.id FROM households hh JOIN sub ON sub.id = hh.area_id
)
SELECT
    (SELECT count(*) FROM b) AS buildings,
    (SELECT count(*) FROM b WHERE EXISTS (
        SELECT 1 FROM responsibilities r WHERE r.area_id = b.id AND r.until IS NULL)) AS buildings_with_head,
    (SELECT count(*) FROM b WHERE EXISTS (
        SELECT 1 FROM adoptions a WHERE a.area_id IN (b.id, b.parent_id) AND a.until IS NULL)) AS adopted_buildings,
    (SELECT count(*) FROM h) AS households,
    (SELECT count(*) FROM h WHERE EXISTS (
        SELECT 1 FROM pairings p WHERE p.household_id = h.id AND p.until IS NULL)) AS paired_households
"""

_COMPLIANCE_BASE: Final = """
WITH p AS (
    SELECT pr.id,
           coalesce(bool_or(v.kind = 'HOME_VISIT' AND v.occurred_on >= $3), false) AS home_visit,
           coalesce(bool_or(v.kind = 'HEART_TO_HEART' AND v.occurred_on >= $4), false) AS heart_to_heart,
           coalesce(bool_or(v.kind = 'GOOD_DEED'), false) AS good_deed
    FROM pairings pr
    JOIN households h ON h.id = pr.household_id
    JOIN areas a ON a.id = h.area_id
    LEFT JOIN visits v ON v.pairing_id = pr.id AND v.occurred_on <= $2 AND (
        (v.kind = 'HOME_VISIT' AND v.occurred_on >= $3)
        OR (v.kind = 'HEART_TO_HEART' AND v.occurred_on >= $4)
        OR (v.kind = 'GOOD_DEED' AND v.occurred_on >= $5))
    WHERE a.path @> ARRAY[$1::bigint] AND pr.since <= $2 AND (pr.until IS NULL OR pr.until >= $2)
    GROUP BY pr.id
)
"""
RECOUNT_COMPLIANCE: Final = (
    _COMPLIANCE_BASE
    + """
SELECT count(*) AS pairings,
       count(*) FILTER (WHERE home_visit) AS home_visit_met,
       count(*) FILTER (WHERE heart_to_heart) AS heart_to_heart_met,
       count(*) FILTER (WHERE good_deed) AS good_deed_met,
       count(*) FILTER (WHERE NOT (home_visit AND heart_to_heart AND good_deed)) AS due
FROM p
"""
)

RECOUNT_STATISTICS: Final = f"""
WITH sub AS MATERIALIZED (
    SELECT id, level FROM areas WHERE path @> ARRAY[$1::bigint]
), communities AS MATERIALIZED (
    SELECT id FROM sub WHERE level = 'COMMUNITY'
    UNION
    SELECT c.id FROM areas self JOIN areas c ON c.id = ANY(self.path) AND c.level = 'COMMUNITY' WHERE self.id = $1
), h AS MATERIALIZED (
    SELECT hh.id FROM households hh JOIN sub ON sub.id = hh.area_id
), pr AS MATERIALIZED (
    SELECT p.cadre_id, p.household_id FROM pairings p JOIN h ON h.id = p.household_id WHERE p.until IS NULL
), ad AS MATERIALIZED (
    SELECT a.unit_id, a.area_id FROM adoptions a JOIN sub ON sub.id = a.area_id WHERE a.until IS NULL
), so AS MATERIALIZED (
    {db.ORDER_TIMES}
    FROM service_orders o JOIN h ON h.id = o.household_id
)
SELECT
    (SELECT count(*) FROM organisations o JOIN sub ON sub.id = o.area_id
     WHERE o.kind = 'PARTY_BRANCH') AS party_branches,
    (SELECT count(*) FROM organisations o JOIN sub ON sub.id = o.area_id
     WHERE o.kind = 'FUNCTIONAL_BRANCH') AS functional_branches,
    (SELECT count(DISTINCT r.person_id) FROM responsibilities r JOIN sub ON sub.id = r.area_id
     WHERE sub.level = 'BUILDING' AND r.until IS NULL) AS building_heads,
    (SELECT count(*) FROM h) AS households,
    (SELECT count(*) FROM persons pe JOIN h ON h.id = pe.household_id) AS residents,
    (SELECT count(DISTINCT unit_id) FROM ad) AS adopting_units,
    (SELECT count(DISTINCT area_id) FROM ad) AS adopted_areas,
    (SELECT count(DISTINCT cadre_id) FROM pr) AS paired_cadres,
    (SELECT count(DISTINCT household_id) FROM pr) AS paired_households,
    (SELECT count(DISTINCT rn.compound_id) FROM renovations rn JOIN sub ON sub.id = rn.compound_id
     WHERE rn.status = 'COMPLETED' AND rn.year BETWEEN coalesce($4::integer, rn.year) AND coalesce($5::integer, rn.year)
    ) AS renovated_compounds,
    (SELECT count(*) FROM findings f JOIN sub ON sub.id = f.compound_id
     WHERE f.category = 'ILLEGAL_STRUCTURE' AND f.rectified_at IS NOT NULL
       AND tstzrange($2::timestamptz, $3::timestamptz) @> f.rectified_at
    ) AS illegal_structures_removed,
    {db.COMMUNITY_AND_ORDER_FIGURES}
"""  # noqa: S608 - constant SQL fragments


async def figures(
    conn: asyncpg.Connection, sqls: tuple[str, str, str], area: int, as_of: datetime.date
) -> dict[str, Any]:
    """Coverage, compliance at `as_of` and statistics of an area by the three statements."""
    coverage, compliance, statistics = sqls
    found: dict[str, Any] = {}
    async with conn.transaction():
        await conn.execute(db.CUSTOM_PLAN)
        for name, sql, args in (
            ("coverage", coverage, (area,)),
            ("compliance", compliance, (area, as_of, *period_starts(as_of))),
            ("statistics", statistics, (area, None, None, None, None)),
        ):
            row = await conn.fetchrow(sql, *args)
            assert row is not None
            found.update({f"{name}.{k}": v for k, v in row.items()})
    return found


RECOUNTED: Final = (RECOUNT_COVERAGE, RECOUNT_COMPLIANCE, RECOUNT_STATISTICS)
KEPT: Final = (db.COVERAGE, db.COMPLIANCE, db.STATISTICS)


async def differences(conn: asyncpg.Connection, area: int, as_of: datetime.date) -> dict[str, tuple[Any, Any]]:
    """The figures of an area whose kept count differs from the recount: (kept, recounted)."""
    kept = await figures(conn, KEPT, area, as_of)
    recounted = await figures(conn, RECOUNTED, area, as_of)
    return {k: (kept[k], recounted[k]) for k in recounted if kept[k] != recounted[k]}
