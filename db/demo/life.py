"""The demo county's community life: 40+ joint volunteer activities since 2021 with sign-ups
and check-ins, meetings of every kind with minutes and resolutions (some followed up by
service orders), inspection findings in every state, and old-compound renovations.

Figures of DOMAIN.md for this domain: 40+ volunteer activities since 2021 (here 46 ended,
plus upcoming ones); 45 old compounds renovated (COMPLETED), plus some planned or under way;
30+ illegal structures and large outdoor billboards removed (here 34 ILLEGAL_STRUCTURE and 8
BILLBOARD findings rectified)."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from db import orders
from db.pool import Conn

if TYPE_CHECKING:
    from db.demo.load import Demo

ZONE: Final = zoneinfo.ZoneInfo("Asia/Shanghai")
ENDED_ACTIVITIES: Final = 46
UPCOMING_ACTIVITIES: Final = 4
RENOVATED: Final = 45  # compounds whose renovation was completed since 2021
EARLIER_PHASES: Final = 12  # of those, with a first phase completed in 2018-2020
REMOVED_STRUCTURES: Final = 34
REMOVED_BILLBOARDS: Final = 8

TITLES: Final = {
    "CHARITY_MEAL": ("重阳节爱心餐", "独居老人爱心午餐", "端午节爱心粽子宴", "春节爱心年夜饭"),
    "PERFORMANCE": ("迎新春文艺汇演", "庆七一文艺汇演", "中秋邻里文艺晚会", "国庆广场文艺演出", "邻里和谐文艺汇演"),
    "FREE_CLINIC": ("县医院专家进社区义诊", "中医药健康义诊", "眼科义诊进小区", "口腔健康义诊"),
    "POLICY_OUTREACH": ("党的二十大精神宣讲", "医保政策宣讲", "反诈宣传进小区", "民法典宣讲"),
    "CLEAN_UP": ("小区环境卫生大整治", "椒溪河河道清理", "楼道杂物清理", "背街小巷环境整治"),
    "EPIDEMIC_SUPPORT": ("核酸检测志愿服务", "疫苗接种引导服务", "疫情防控卡点值守", "居家人员物资配送"),
}
KINDS: Final = tuple(TITLES)

# Festivals by the day they fall on (the lunar ones differ year by year): an activity named
# for a festival takes place on it, or on the eve of the Spring Festival for its dinner.
SPRING_FESTIVAL: Final = {
    2021: (2, 12),
    2022: (2, 1),
    2023: (1, 22),
    2024: (2, 10),
    2025: (1, 29),
    2026: (2, 17),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
}
DRAGON_BOAT: Final = {
    2021: (6, 14),
    2022: (6, 3),
    2023: (6, 22),
    2024: (6, 10),
    2025: (5, 31),
    2026: (6, 19),
    2027: (6, 9),
    2028: (5, 28),
    2029: (6, 16),
    2030: (6, 5),
}
MID_AUTUMN: Final = {
    2021: (9, 21),
    2022: (9, 10),
    2023: (9, 29),
    2024: (9, 17),
    2025: (10, 6),
    2026: (9, 25),
    2027: (9, 15),
    2028: (10, 3),
    2029: (9, 22),
    2030: (9, 12),
}
DOUBLE_NINTH: Final = {
    2021: (10, 14),
    2022: (10, 4),
    2023: (10, 23),
    2024: (10, 11),
    2025: (10, 29),
    2026: (10, 18),
    2027: (10, 8),
    2028: (10, 26),
    2029: (10, 16),
    2030: (10, 5),
}


def festival_day(title: str, year: int) -> datetime.date | None:
    """The day an activity named for a festival takes place in `year`; None for other titles."""

    def of(table: dict[int, tuple[int, int]], shift: int = 0) -> datetime.date | None:
        found = table.get(year)
        return datetime.date(year, *found) + datetime.timedelta(days=shift) if found else None

    if "年夜饭" in title:
        return of(SPRING_FESTIVAL, -1)  # New Year's Eve (除夕)
    if "迎新春" in title:
        return of(SPRING_FESTIVAL, -7)
    if "端午" in title:
        return of(DRAGON_BOAT)
    if "中秋" in title:
        return of(MID_AUTUMN)
    if "重阳" in title:
        return of(DOUBLE_NINTH)
    if "七一" in title:
        return datetime.date(year, 6, 30)
    if "国庆" in title:
        return datetime.date(year, 9, 30)
    return None


def festival_date(title: str, day: datetime.date, first: datetime.date, last: datetime.date) -> datetime.date:
    """`day`, moved to the festival an activity's title names: in the same year, else the
    nearest year that keeps it from `first` to `last` (a title without a festival keeps `day`)."""
    if festival_day(title, day.year) is None:
        return day
    for year in sorted(range(first.year, last.year + 1), key=lambda y: abs(y - day.year)):
        found = festival_day(title, year)
        if found is not None and first <= found <= last:
            return found
    return day


MEETING_TITLES: Final = {
    "RESIDENTS_REVIEW": ("群众评议会：物业服务满意度评议", "群众评议会：年度惠民实事评议", "群众评议会：低保评议"),
    "PROPERTY_MANAGEMENT": ("物业管理会：停车秩序整治", "物业管理会：二次供水改造", "物业管理会：物业费收缴"),
    "OWNER_COMMITTEE": ("业委会：维修基金使用", "业委会：电梯加装表决", "业委会：公共收益公示"),
    "JOINT_UNIT": ("单位联席会：包抓小区工作推进", "单位联席会：双报到工作部署", "单位联席会：共驻共建项目对接"),
}
RESOLUTIONS: Final = (
    ("楼道堆放杂物限期清理", True),
    ("为独居老人安排定期上门探访", True),
    ("更换单元门禁及楼道照明", True),
    ("规划增设非机动车充电棚", False),
    ("公示维修基金使用明细", False),
    ("协调包抓单位开放停车位", False),
)
FINDINGS: Final = {
    "ILLEGAL_STRUCTURE": ("{b}号楼顶违章搭建彩钢棚", "{b}号楼一层私自扩建院落", "{b}号楼北侧违建储物间"),
    "BILLBOARD": ("临街大型户外广告牌存在安全隐患", "{b}号楼外墙违规悬挂广告牌"),
    "DISORDERLY_PARKING": ("消防通道车辆乱停乱放", "{b}号楼前电动车乱停"),
    "PILING": ("{b}号楼楼道堆放杂物", "单元门口堆放建筑垃圾"),
    "OVERHEAD_CABLES": ("{b}号楼外墙飞线充电", "小区入口线缆杂乱"),
    "RUBBISH": ("垃圾桶满溢未及时清运", "绿化带内积存生活垃圾"),
    "SEWAGE": ("{b}号楼化粪池外溢", "雨污管道堵塞污水外流"),
    "OTHER": ("健身器材损坏未修复",),
}
RENOVATION_TITLES: Final = (
    "{n}老旧小区综合改造",
    "{n}雨污分流及管网改造",
    "{n}外墙保温及屋面防水改造",
    "{n}道路硬化及绿化提升",
)

NEXT_IDS: Final = "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)"
INSERT_ACTIVITIES: Final = """
INSERT INTO activities (id, county_id, community_id, title, kind, starts_at, ends_at, capacity, signup_count,
                        created_at, created_by)
OVERRIDING SYSTEM VALUE
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[],
                     $7::timestamptz[], $8::int[], $9::int[], $10::timestamptz[], $11::bigint[])
"""
INSERT_HOSTS: Final = """
INSERT INTO activity_hosts (activity_id, organisation_id) SELECT * FROM unnest($1::bigint[], $2::bigint[])
"""
INSERT_SIGNUPS: Final = """
INSERT INTO signups (county_id, activity_id, person_id, signed_up_at, cancelled_at, attended, hours)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::boolean[],
                     $7::numeric[])
"""
INSERT_MEETING: Final = """
INSERT INTO meetings (county_id, community_id, kind, title, starts_at, status, minutes, created_at, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
"""
INSERT_MEETING_ORGANISATIONS: Final = """
INSERT INTO meeting_organisations (meeting_id, organisation_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING
"""
INSERT_RESOLUTION: Final = """
INSERT INTO resolutions (county_id, meeting_id, position, text, follow_up_order_id) VALUES ($1, $2, $3, $4, $5)
"""
INSERT_FINDINGS: Final = """
INSERT INTO findings (county_id, compound_id, category, description, deadline, reported_at, reported_by,
                      rectified_at, rectification_note)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::date[], $6::timestamptz[], $7::bigint[],
                     $8::timestamptz[], $9::text[])
"""
INSERT_RENOVATIONS: Final = """
INSERT INTO renovations (county_id, compound_id, title, status, year, created_at)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::timestamptz[])
"""


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else []


@dataclass
class _World:
    county: int
    community: int
    communities: list[int]
    units: list[int]
    committees: dict[int, int]
    general_branch: int | None
    people: list[int]
    sample: dict[str, int]
    staff_user: int | None
    compounds: list[tuple[int, str, int, str]] = field(default_factory=list)  # id, name, community, kind


async def step(demo: Demo) -> None:
    conn = demo.conn
    ids = demo.ids
    users: dict[str, int] = ids.get("users", {})
    w = _World(
        county=ids["county"],
        community=ids["community"],
        communities=list(ids["communities"]),
        units=list(ids["units"]),
        committees=dict(ids.get("residents_committees", {})),
        general_branch=ids.get("general_branch"),
        people=sorted(set(ids["residents"]) | set(ids["party_members"])),
        sample=dict(ids["sample"]),
        staff_user=users.get("staff"),
    )
    rows = await conn.fetch(
        "SELECT id, name, path[3] AS community, compound_kind FROM areas WHERE county_id = $1 AND level = 'COMPOUND' "
        "ORDER BY id",
        w.county,
    )
    w.compounds = [(r["id"], r["name"], r["community"], r["compound_kind"]) for r in rows]
    await _activities(demo, w)
    await _meetings(demo, w)
    await _findings(demo, w)
    await _renovations(demo, w)


async def _activities(demo: Demo, w: _World) -> None:
    rng, conn, today = demo.rng, demo.conn, demo.today
    first_day = datetime.date(2021, 3, 6)
    span = (today - datetime.timedelta(days=3) - first_day).days
    days = [first_day + datetime.timedelta(days=span * i // (ENDED_ACTIVITIES - 1)) for i in range(ENDED_ACTIVITIES)]
    days += [today + datetime.timedelta(days=3 + 5 * i) for i in range(UPCOMING_ACTIVITIES)]
    activity_ids = [r[0] for r in await conn.fetch(NEXT_IDS, "activities", len(days))]
    others = [c for c in w.communities if c != w.community]
    activities: list[tuple[Any, ...]] = []
    hosts: list[tuple[int, int]] = []
    signups: list[tuple[Any, ...]] = []
    last_day = today - datetime.timedelta(days=3)
    for i, (pk, planned) in enumerate(zip(activity_ids, days, strict=True)):
        kind = KINDS[i % len(KINDS)]
        if kind == "EPIDEMIC_SUPPORT" and planned > datetime.date(2022, 12, 31):
            kind = "CLEAN_UP"
        upcoming = i >= ENDED_ACTIVITIES
        # festivals fall on their real days: an ended activity moves to its festival; a coming
        # one (its day is near) takes a title of no festival
        titles = [t for t in TITLES[kind] if not upcoming or festival_day(t, planned.year) is None]
        title = rng.choice(titles)  # every kind has titles of no festival
        day = planned if upcoming else festival_date(title, planned, first_day, last_day)
        community = w.community if i % 4 != 3 or not others else others[i // 4 % len(others)]
        hour = 9 if i % 2 == 0 else 14
        duration = rng.choice((2, 2.5, 3, 4))
        starts = _at(day, hour)
        ends = starts + datetime.timedelta(hours=duration)
        capacity = rng.choice((None, 30, 40, 50, 80))
        units = rng.sample(w.units, rng.randint(1, 2))
        if i % 5 == 0 and w.sample["unit"] not in units:
            units.append(w.sample["unit"])
        host_ids = units + ([w.committees[community]] if community in w.committees else [])
        hosts += [(pk, h) for h in dict.fromkeys(host_ids)]
        wanted = min(capacity or 60, rng.randint(8, 26) if upcoming else rng.randint(15, 45))
        people = rng.sample(w.people, wanted)
        if community == w.community and (i % 3 == 0 or upcoming):
            for who in ("resident", "cadre", "head"):
                if w.sample[who] not in people:
                    people[rng.randrange(len(people))] = w.sample[who]
        people = list(dict.fromkeys(people))
        active = 0
        for n, person in enumerate(people):
            signed = starts - datetime.timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 20))
            cancelled = n % 11 == 10 and person not in w.sample.values()
            attended = not upcoming and not cancelled and (rng.random() < 0.88 or person in w.sample.values())
            signups.append(
                (
                    w.county,
                    pk,
                    person,
                    signed,
                    signed + datetime.timedelta(hours=6) if cancelled else None,
                    attended,
                    Decimal(str(duration)) if attended else None,
                )
            )
            active += 0 if cancelled else 1
        created = starts - datetime.timedelta(days=14)
        activities.append((pk, w.county, community, title, kind, starts, ends, capacity, active, created, w.staff_user))
    await conn.execute(INSERT_ACTIVITIES, *_columns(activities))
    await conn.execute(INSERT_HOSTS, *_columns(hosts))
    await conn.execute(INSERT_SIGNUPS, *_columns(signups))


async def _participants(conn: Conn, w: _World, kind: str, community: int) -> list[int]:
    committee = [w.committees[community]] if community in w.committees else []
    branch = [w.general_branch] if w.general_branch is not None and community == w.community else []
    if kind == "RESIDENTS_REVIEW":
        return committee + branch
    if kind == "PROPERTY_MANAGEMENT":
        companies = await conn.fetch(
            "SELECT id FROM organisations WHERE county_id = $1 AND kind = 'PROPERTY_COMPANY' ORDER BY id LIMIT 2",
            w.county,
        )
        return committee + [r["id"] for r in companies]
    if kind == "OWNER_COMMITTEE":
        committees = await conn.fetch(
            "SELECT o.id, a.property_manager_id FROM organisations o JOIN areas a ON a.id = o.area_id "
            "WHERE o.kind = 'OWNER_COMMITTEE' AND $1 = ANY(a.path) ORDER BY o.id LIMIT 1",
            community,
        )
        found = [v for r in committees for v in (r["id"], r["property_manager_id"]) if v is not None]
        return committee + found
    return branch + committee + w.units[:4] + [w.sample["unit"]]


async def _meetings(demo: Demo, w: _World) -> None:
    rng, conn, today = demo.rng, demo.conn, demo.today
    can_follow_up = w.staff_user is not None and await orders.category(conn, "OTHER") is not None
    households = await conn.fetch(
        "SELECT h.id FROM households h JOIN areas b ON b.id = h.building_id WHERE $1 = ANY(b.path) ORDER BY h.id",
        w.community,
    )
    homes = [r["id"] for r in households]
    plan: list[tuple[int, str, str, datetime.date, bool]] = []
    for k, (kind, titles) in enumerate(MEETING_TITLES.items()):
        for n, title in enumerate(titles):
            held_on = today - datetime.timedelta(days=90 + 240 * n + 20 * k)
            plan.append((w.community, kind, title, held_on, True))
        plan.append(
            (
                w.community,
                kind,
                f"{titles[0].split('：')[0]}：下季度工作安排",
                today + datetime.timedelta(days=7 + k),
                False,
            )
        )
    for c in w.communities:
        if c != w.community:
            plan.append(
                (c, "RESIDENTS_REVIEW", "群众评议会：年度惠民实事评议", today - datetime.timedelta(days=60), True)
            )
    staff_person = w.sample["staff"]
    for community, kind, title, day, held in plan:
        starts = _at(day, 19, 30)
        minutes = f"{title.split('：')[-1]}。到会{rng.randint(12, 40)}人，经讨论形成决议如下。" if held else None
        pk = await conn.fetchval(
            INSERT_MEETING,
            w.county,
            community,
            kind,
            title,
            starts,
            "HELD" if held else "SCHEDULED",
            minutes,
            starts - datetime.timedelta(days=10),
            w.staff_user,
        )
        await conn.execute(INSERT_MEETING_ORGANISATIONS, pk, await _participants(conn, w, kind, community))
        if not held:
            continue
        for position, (text, follows) in enumerate(rng.sample(RESOLUTIONS, rng.randint(2, 3))):
            order_id = None
            if follows and can_follow_up and community == w.community and homes:
                assert w.staff_user is not None
                order = await orders.create_order(
                    conn,
                    county_id=w.county,
                    household_id=rng.choice(homes),
                    community_id=community,
                    title=text,
                    description=f"{title}决议：{text}",
                    category="OTHER",
                    placed_by=w.staff_user,
                    actor_person_id=staff_person,
                    note=f"会议决议跟进（{title}）",
                    placed_at=starts + datetime.timedelta(hours=2),
                )
                order_id = order.id
            await conn.execute(INSERT_RESOLUTION, w.county, pk, position, text, order_id)


async def _findings(demo: Demo, w: _World) -> None:
    rng, conn, today = demo.rng, demo.conn, demo.today
    main = [c for c in w.compounds if c[2] == w.community] or w.compounds
    rows: list[tuple[Any, ...]] = []

    def add(category: str, reported: datetime.date, deadline: datetime.date, rectified: datetime.date | None) -> None:
        compound = rng.choice(main)
        text = rng.choice(FINDINGS[category]).format(b=rng.randint(1, 8))
        note = None
        if rectified is not None:
            note = "已拆除" if category in ("ILLEGAL_STRUCTURE", "BILLBOARD") else "已整改到位"
        rows.append(
            (
                w.county,
                compound[0],
                category,
                f"{compound[1]}：{text}",
                deadline,
                _at(reported, 10),
                w.staff_user,
                _at(rectified, 16) if rectified is not None else None,
                note,
            )
        )

    first_day = datetime.date(2021, 4, 1)
    span = (today - datetime.timedelta(days=60) - first_day).days
    removed = ["ILLEGAL_STRUCTURE"] * REMOVED_STRUCTURES + ["BILLBOARD"] * REMOVED_BILLBOARDS
    removed += ["DISORDERLY_PARKING", "PILING", "OVERHEAD_CABLES", "RUBBISH", "SEWAGE", "OTHER"] * 2
    for i, category in enumerate(removed):
        reported = first_day + datetime.timedelta(days=span * i // len(removed))
        deadline = reported + datetime.timedelta(days=rng.choice((15, 30, 45)))
        # most are rectified in time; every fifth only after its deadline (and so was published)
        late = i % 5 == 4
        rectified = (
            deadline + datetime.timedelta(days=rng.randint(3, 20))
            if late
            else deadline - datetime.timedelta(days=rng.randint(1, 10))
        )
        add(category, reported, deadline, min(rectified, today - datetime.timedelta(days=1)))
    for i, category in enumerate(
        ("PILING", "OVERHEAD_CABLES", "ILLEGAL_STRUCTURE", "RUBBISH", "DISORDERLY_PARKING", "BILLBOARD")
    ):
        add(category, today - datetime.timedelta(days=5 + i), today + datetime.timedelta(days=3 + 4 * i), None)
    for i, category in enumerate(("SEWAGE", "ILLEGAL_STRUCTURE", "PILING", "DISORDERLY_PARKING", "OVERHEAD_CABLES")):
        add(category, today - datetime.timedelta(days=40 + 7 * i), today - datetime.timedelta(days=2 + 5 * i), None)
    await conn.execute(INSERT_FINDINGS, *_columns(rows))


async def _renovations(demo: Demo, w: _World) -> None:
    rng, conn, today = demo.rng, demo.conn, demo.today
    old_first = sorted(w.compounds, key=lambda c: (c[3] == "COMMERCIAL", c[0]))
    chosen = old_first[: RENOVATED + 7]
    rows: list[tuple[Any, ...]] = []
    for i, (pk, name, _community, _kind) in enumerate(chosen):
        title = rng.choice(RENOVATION_TITLES).format(n=name)
        if i < RENOVATED:
            # the report's 45 are since 2021; the first dozen had an earlier phase before that
            year = 2021 + i * max(1, today.year - 2021) // RENOVATED
            status = "COMPLETED"
            if i < EARLIER_PHASES:
                earlier = 2018 + i % 3
                rows.append(
                    (w.county, pk, f"{name}一期改造", "COMPLETED", earlier, _at(datetime.date(earlier, 3, 1), 9))
                )
        elif i < RENOVATED + 4:
            year, status = today.year, "IN_PROGRESS"
        else:
            year, status = today.year + 1, "PLANNED"
        rows.append((w.county, pk, title, status, year, _at(datetime.date(min(year, today.year), 3, 1), 9)))
    await conn.execute(INSERT_RENOVATIONS, *_columns(rows))
