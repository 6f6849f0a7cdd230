"""Demo step of the dual list: the units' resources, the communities' needs and exchanges.

Exactly 464 parking spaces (the report's figure) are opened to communities by several
units, none withdrawn or expired; one further parking offer was withdrawn and does not
count. Besides: venues, volunteer teams, expertise, goods and funds (one venue expired,
one volunteer offer withdrawn); needs in several communities and their compounds; and
exchanges in every state, with `remaining` and `fulfilled` agreeing with the ledger.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from db.demo.load import Demo

PARKING_SPACES: Final = 464
# parking offers: spaces per offer, 464 in all, spread over several units
PARKING_OFFERS: Final = (120, 80, 64, 56, 48, 40, 32, 24)

# (category, title, unit, quantity, days until the window ends or None)
OTHER_OFFERS: Final = (
    ("VENUE", "单位会议室（周末开放）", "场次", 20, 120),
    ("VENUE", "职工活动中心篮球场", "场次", 30, None),
    ("VENUE", "多功能报告厅", "场次", 8, 60),
    ("VENUE", "党员活动室", "场次", 24, None),
    ("VOLUNTEERS", "青年志愿服务队", "人次", 40, None),
    ("VOLUNTEERS", "党员先锋队周末志愿服务", "人次", 60, 90),
    ("VOLUNTEERS", "巾帼志愿服务队", "人次", 25, None),
    ("EXPERTISE", "法律咨询（每月一次）", "小时", 12, None),
    ("EXPERTISE", "义诊与健康讲座", "场次", 6, 180),
    ("EXPERTISE", "家电维修技能服务", "小时", 30, None),
    ("EXPERTISE", "心理疏导服务", "小时", 16, None),
    ("GOODS", "爱心粮油", "份", 200, 45),
    ("GOODS", "防汛物资（沙袋、雨衣）", "件", 150, None),
    ("GOODS", "旧衣物捐赠", "件", 80, None),
    ("FUNDS", "老旧小区微改造资金", "万元", 20, None),
    ("FUNDS", "困难家庭帮扶金", "万元", 5, None),
)

# (category, title, quantity): needs of communities and their compounds
NEEDS: Final = (
    ("PARKING", "小区夜间停车位紧张", 60),
    ("PARKING", "老旧小区车辆乱停放，需错时停车位", 40),
    ("PARKING", "学校接送家长临时停车", 20),
    ("VENUE", "居民议事会场地", 6),
    ("VENUE", "暑期青少年活动场地", 10),
    ("VOLUNTEERS", "独居老人探访志愿者", 30),
    ("VOLUNTEERS", "垃圾分类宣传志愿者", 20),
    ("EXPERTISE", "居民法律咨询", 8),
    ("EXPERTISE", "老年人健康体检", 4),
    ("GOODS", "困难家庭节日慰问物资", 60),
    ("GOODS", "防汛物资储备", 100),
    ("FUNDS", "楼道照明改造资金", 3),
    ("PARKING", "社区卫生服务站就诊停车", 15),
    ("VOLUNTEERS", "疫苗接种引导志愿者", 12),
)


@dataclass
class _Offer:
    id: int
    category: str
    remaining: int
    communities: list[int]
    provider: int


@dataclass
class _Need:
    id: int
    category: str
    community: int
    area: int
    shortfall: int
    fulfilled: int = 0
    exchanges: list[tuple[Any, ...]] = field(default_factory=list)


def _at(demo: Demo, days_ago: float, hour: int = 10) -> datetime.datetime:
    zone = zoneinfo.ZoneInfo("Asia/Shanghai")
    base = datetime.datetime.combine(demo.today, datetime.time(hour), tzinfo=zone)
    return base - datetime.timedelta(days=days_ago)


async def step(demo: Demo) -> None:
    conn = demo.conn
    rng = demo.rng
    ids: dict[str, Any] = demo.ids
    county: int = ids["county"]
    communities: list[int] = list(ids["communities"])
    main: int = ids["community"]
    units: list[int] = list(ids["units"])
    sample_unit: int = ids["sample"]["unit"]
    users: dict[str, int] = ids.get("users", {})
    staff_user, unit_user = users.get("staff"), users.get("unit")
    names = {
        r["id"]: r["name"] for r in await conn.fetch("SELECT id, name FROM organisations WHERE id = ANY($1)", units)
    }

    # providers: the sample unit first, then others drawn from the units
    others = [u for u in units if u != sample_unit]
    rng.shuffle(others)
    parking_units = [sample_unit, *others[: len(PARKING_OFFERS) - 1]]
    other_units = others[len(PARKING_OFFERS) - 1 :] or others

    def opened_to() -> list[int]:
        """The main community and up to two others (all of them when there are few)."""
        rest = [c for c in communities if c != main]
        return [main, *rng.sample(rest, min(len(rest), rng.randint(1, 2)))]

    offers: list[_Offer] = []
    rows: list[tuple[Any, ...]] = []
    for provider, spaces in zip(parking_units, PARKING_OFFERS, strict=True):
        rows.append((provider, f"{names.get(provider, '单位')}停车场错时共享车位", "PARKING", spaces, "个", None, None))
    rows.append((parking_units[1], "院内临时停车位（已收回）", "PARKING", 10, "个", None, _at(demo, 20)))
    for index, (category, title, unit, quantity, days) in enumerate(OTHER_OFFERS):
        provider = sample_unit if index % 5 == 0 else other_units[index % len(other_units)]
        until = _at(demo, -days, 18) if days is not None else None
        rows.append((provider, title, category, quantity, unit, until, None))
    # an expired venue and a withdrawn volunteer offer
    rows.append((other_units[0], "礼堂（去年开放）", "VENUE", 10, "场次", _at(demo, 30, 18), None))
    rows.append((other_units[-1], "周末义务巡逻队（已撤回）", "VOLUNTEERS", 15, "人次", None, _at(demo, 5)))

    for provider, title, category, quantity, unit, until, withdrawn in rows:
        created = _at(demo, rng.randint(40, 300))
        resource_id = await conn.fetchval(
            "INSERT INTO resources (county_id, provider_id, title, description, category, quantity, remaining, unit, "
            "available_until, withdrawn_at, withdrawn_by, created_at, created_by) "
            "VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            county,
            provider,
            title,
            f"{names.get(provider, '')}面向社区开放",
            category,
            quantity,
            unit,
            until,
            withdrawn,
            unit_user if withdrawn is not None else None,
            created,
            unit_user,
        )
        opened = opened_to()
        await conn.executemany(
            "INSERT INTO resource_communities (resource_id, community_id) VALUES ($1, $2)",
            [(resource_id, c) for c in opened],
        )
        available = withdrawn is None and (until is None or until > _at(demo, 0, 0))
        if available:
            offers.append(_Offer(resource_id, category, quantity, opened, provider))

    # needs: in the main community (the sample staff's) and the others, some at compound level
    compounds = await conn.fetch(
        "SELECT id, path[3] AS community FROM areas WHERE level = 'COMPOUND' AND county_id = $1 ORDER BY id", county
    )
    by_community: dict[int, list[int]] = {}
    for c in compounds:
        by_community.setdefault(c["community"], []).append(c["id"])
    needs: list[_Need] = []
    for index, (category, title, quantity) in enumerate(NEEDS):
        community = main if index % 2 == 0 else communities[index % len(communities)]
        inside = by_community.get(community, [])
        area = rng.choice(inside) if inside and index % 3 == 0 else community
        need_id = await conn.fetchval(
            "INSERT INTO needs (county_id, area_id, community_id, title, category, quantity, created_at, created_by) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            county,
            area,
            community,
            title,
            category,
            quantity,
            _at(demo, rng.randint(10, 60)),
            staff_user,
        )
        needs.append(_Need(need_id, category, community, area, quantity))

    # exchanges: for each need, up to two offers that fit; states rotate so that every one
    # appears (ALLOCATED, COMPLETED, CANCELLED)
    states = ("COMPLETED", "ALLOCATED", "CANCELLED", "COMPLETED")
    turn = 0
    exchanges: list[tuple[Any, ...]] = []
    for need in needs:
        fitting = [o for o in offers if o.category == need.category and need.community in o.communities]
        for offer in fitting[:2]:
            quantity = min(offer.remaining, need.shortfall - need.fulfilled, max(1, need.shortfall // 3))
            if quantity < 1:
                continue
            state = states[turn % len(states)]
            turn += 1
            allocated = _at(demo, rng.randint(2, 9))
            completed = allocated + datetime.timedelta(days=1) if state == "COMPLETED" else None
            cancelled = allocated + datetime.timedelta(hours=5) if state == "CANCELLED" else None
            if state != "CANCELLED":
                offer.remaining -= quantity
                need.fulfilled += quantity
            exchanges.append(
                (
                    county,
                    offer.id,
                    need.id,
                    offer.provider,
                    need.area,
                    quantity,
                    state,
                    allocated,
                    staff_user,
                    completed,
                    unit_user if completed else None,
                    cancelled,
                    staff_user if cancelled else None,
                    "计划调整，改期再办" if cancelled else None,
                )
            )
    await conn.executemany(
        "INSERT INTO exchanges (county_id, resource_id, need_id, provider_id, receiver_id, quantity, status, "
        "allocated_at, allocated_by, completed_at, completed_by, cancelled_at, cancelled_by, cancel_reason) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        exchanges,
    )
    await conn.executemany("UPDATE resources SET remaining = $2 WHERE id = $1", [(o.id, o.remaining) for o in offers])
    await conn.executemany("UPDATE needs SET fulfilled = $2 WHERE id = $1", [(n.id, n.fulfilled) for n in needs])
    # one need closed by staff before it was met
    closable = next((n for n in needs if n.fulfilled < n.shortfall), None)
    if closable is not None:
        await conn.execute(
            "UPDATE needs SET closed_at = $2, closed_by = $3 WHERE id = $1", closable.id, _at(demo, 1), staff_user
        )
    ids["duallist"] = {"parking_spaces": PARKING_SPACES, "needs": [n.id for n in needs]}
