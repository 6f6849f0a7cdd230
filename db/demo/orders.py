"""The demo's service orders: the categories, and about 300 orders over the past year in
every state, with ratings and timelines that match their states.

Everything is dated before the start of `demo.today` (county time), so two loads on one
day are identical. Open orders from earlier days are overdue; dispatched orders older
than their category's accept hours are escalated. The sample resident's household has
orders dispatched to the sample cadre in every state."""

from __future__ import annotations

import datetime
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from db.demo.load import Demo

PREFIX: Final = "FP"
ORDERS: Final = 300

# code, name, due hours, accept hours
CATEGORIES: Final = (
    ("REPAIR", "维修", 72, 24),
    ("CLEANING", "保洁", 48, 24),
    ("ELDERLY_CARE", "助老", 48, 12),
    ("MEDICAL", "就医陪护", 24, 12),
    ("POLICY", "政策咨询", 168, 72),
    ("DISPUTE", "矛盾调解", 168, 48),
    ("OTHER", "其他", 120, 48),
)

TITLES: Final = {
    "REPAIR": ["厨房水管漏水", "楼道灯不亮", "防盗门锁坏了", "卫生间下水堵塞", "窗户玻璃破损", "暖气不热"],
    "CLEANING": ["楼道杂物需清理", "单元门口垃圾堆放", "化粪池外溢", "屋顶积水清理"],
    "ELDERLY_CARE": ["独居老人代购药品", "帮老人打扫卫生", "陪老人理发", "老人助餐送饭"],
    "MEDICAL": ["陪同老人到县医院复查", "协助预约体检", "陪同办理慢病报销"],
    "POLICY": ["咨询低保申请条件", "咨询医保缴费", "咨询老旧小区改造政策", "咨询就业补贴"],
    "DISPUTE": ["邻里噪音纠纷", "楼上漏水引发纠纷", "停车位占用纠纷"],
    "OTHER": ["希望增设快递柜", "小区路灯建议", "孩子暑期托管咨询"],
}
RESOLUTIONS: Final = ["已上门处理完毕", "已联系相关单位解决", "已协调双方达成一致", "已陪同办理完成", "已更换配件"]
COMMENTS: Final = ["非常及时，感谢！", "服务很周到", "问题解决了", "来得有点晚", "态度很好", None]
RETURN_REASONS: Final = ["不在本地，无法上门", "超出能力范围，请另派", "时间冲突"]
CANCEL_REASONS: Final = ["已自行解决", "不需要了", None]

# final state -> weight
STATES: Final = (
    ("CLOSED", 46),
    ("COMPLETED", 10),
    ("ACCEPTED", 9),
    ("DISPATCHED", 9),
    ("SUBMITTED", 8),
    ("CANCELLED", 18),
)
RATINGS: Final = (5, 5, 5, 5, 4, 4, 4, 3, 2)


@dataclass
class Order:
    household: int
    community: int
    category: str
    title: str
    created: datetime.datetime
    placed_by: int
    placer_person: int | None
    status: str | None = None  # None until placed
    assignee: int | None = None
    unit: int | None = None
    dispatched_at: datetime.datetime | None = None
    due_at: datetime.datetime | None = None
    resolution: str | None = None
    rating: int | None = None
    comment: str | None = None
    number: str = ""
    events: list[tuple[str, str | None, str, datetime.datetime, int | None, int | None, str | None]] = field(
        default_factory=list
    )


async def step(demo: Demo) -> None:
    conn, rng, ids = demo.conn, demo.rng, demo.ids
    county: int = ids["county"]
    sample: dict[str, Any] = ids["sample"]
    users: dict[str, int] = ids["users"]
    zone = zoneinfo.ZoneInfo("Asia/Shanghai")
    # every event lies before the start of today: loads on one day are identical
    anchor = datetime.datetime.combine(demo.today, datetime.time(), zone)

    await conn.executemany(
        "INSERT INTO service_categories (code, name, due_hours, accept_hours) VALUES ($1, $2, $3, $4)", CATEGORIES
    )
    await conn.execute("INSERT INTO order_number_prefixes (county_id, prefix) VALUES ($1, $2)", county, PREFIX)
    limits = {code: (due, accept) for code, _, due, accept in CATEGORIES}

    community_of = {
        r["id"]: r["community"]
        for r in await conn.fetch(
            "SELECT h.id, b.path[3] AS community FROM households h JOIN areas b ON b.id = h.building_id "
            "WHERE h.county_id = $1",
            county,
        )
    }
    main = sample["community"]
    main_households = sorted(h for h, c in community_of.items() if c == main)
    other_households = sorted(h for h, c in community_of.items() if c != main)
    cadres: list[int] = ids["cadres"]
    units: list[int] = ids["units"]
    members: dict[int, list[int]] = {}
    for person, unit in sorted(ids["cadre_unit"].items()):
        members.setdefault(unit, []).append(person)

    staff_user, admin_user = users["staff"], users["admin"]
    staff_person = sample["staff"]

    def placer(household: int) -> tuple[int, int | None]:
        if household == sample["resident_household"]:
            return users["resident"], sample["resident"]
        if household == sample["neighbour_household"]:
            return users["neighbour"], sample["neighbour"]
        if community_of[household] == main:
            return staff_user, staff_person  # placed by staff on the household's behalf
        return admin_user, None

    def dispatcher(order: Order) -> tuple[int, int | None]:
        return (staff_user, staff_person) if order.community == main else (admin_user, None)

    def handler(order: Order) -> tuple[int | None, int | None]:
        """(user, person) of the one who accepts, completes or returns it."""
        person = order.assignee if order.assignee is not None else rng.choice(members.get(order.unit or 0, [None]))
        user = users["cadre"] if person == sample["cadre"] else None
        if order.unit == sample["unit"] and person is None:
            user = users["unit"]
        return user, person

    def later(at: datetime.datetime, low_hours: float, high_hours: float) -> datetime.datetime:
        return at + datetime.timedelta(hours=rng.uniform(low_hours, high_hours))

    def event(
        order: Order, action: str, to: str, at: datetime.datetime, who: tuple[int | None, int | None], note: str | None
    ) -> None:
        order.events.append((action, order.status, to, at, who[0], who[1], note))
        order.status = to

    def dispatch(order: Order, at: datetime.datetime, *, to_sample_cadre: bool = False) -> None:
        due_hours = limits[order.category][0]
        if to_sample_cadre:
            order.assignee, order.unit = sample["cadre"], None
        elif rng.random() < 0.25:
            order.assignee, order.unit = None, rng.choice(units)
        else:
            order.assignee, order.unit = rng.choice(cadres), None
        order.dispatched_at, order.due_at = at, at + datetime.timedelta(hours=due_hours)
        event(order, "DISPATCHED", "DISPATCHED", at, dispatcher(order), None)

    def play(order: Order, final: str, *, to_sample_cadre: bool = False) -> None:
        """Walk the order from SUBMITTED to `final`, each step a little later, all before the anchor."""
        event(order, "PLACED", "SUBMITTED", order.created, (order.placed_by, order.placer_person), None)
        at = order.created
        if final == "SUBMITTED":
            return
        # the sample cadre's cancelled order was dispatched first, so the cadre sees it
        if final == "CANCELLED" and not to_sample_cadre and rng.random() < 0.5:
            at = later(at, 1, 20)
            event(
                order, "CANCELLED", "CANCELLED", at, (order.placed_by, order.placer_person), rng.choice(CANCEL_REASONS)
            )
            return
        accept_hours = limits[order.category][1]
        at = later(at, 0.5, 12)
        dispatch(order, at, to_sample_cadre=to_sample_cadre)
        if rng.random() < 0.12:  # handed back once, then dispatched again
            at = later(at, 1, accept_hours)
            event(order, "RETURNED", "SUBMITTED", at, handler(order), rng.choice(RETURN_REASONS))
            order.assignee = order.unit = order.dispatched_at = order.due_at = None
            at = later(at, 0.5, 6)
            dispatch(order, at, to_sample_cadre=to_sample_cadre)
        if final == "DISPATCHED":
            return
        if final == "CANCELLED":
            at = later(at, 1, 20)
            who = dispatcher(order) if rng.random() < 0.5 else (order.placed_by, order.placer_person)
            event(order, "CANCELLED", "CANCELLED", at, who, rng.choice(CANCEL_REASONS))
            return
        # late acceptances happen: the order was escalated meanwhile
        at = later(at, 0.2, accept_hours * (1.6 if rng.random() < 0.15 else 0.9))
        event(order, "ACCEPTED", "ACCEPTED", at, handler(order), None)
        if final == "ACCEPTED":
            return
        assert order.due_at is not None
        overrun = 1.3 if rng.random() < 0.1 else 0.9
        at = later(at, 1, max(2.0, (order.due_at - at).total_seconds() / 3600 * overrun))
        order.resolution = rng.choice(RESOLUTIONS)
        event(order, "COMPLETED", "COMPLETED", at, handler(order), order.resolution)
        if final == "COMPLETED":
            return
        at = later(at, 1, 48)
        order.rating, order.comment = rng.choice(RATINGS), rng.choice(COMMENTS)
        event(order, "RATED", "CLOSED", at, (order.placed_by, order.placer_person), order.comment)

    def new_order(household: int, created: datetime.datetime) -> Order:
        category = rng.choices([c[0] for c in CATEGORIES], weights=[30, 14, 18, 8, 12, 8, 10])[0]
        placed_by, placer_person = placer(household)
        return Order(
            household=household,
            community=community_of[household],
            category=category,
            title=rng.choice(TITLES[category]),
            created=created,
            placed_by=placed_by,
            placer_person=placer_person,
        )

    def created_at(final: str) -> datetime.datetime:
        # closed and cancelled orders spread over the year; open ones are recent
        days = rng.uniform(1, 365) if final in ("CLOSED", "CANCELLED") else rng.expovariate(1 / 6) + 0.5
        return anchor - datetime.timedelta(days=min(days, 60 if final not in ("CLOSED", "CANCELLED") else 365))

    orders: list[Order] = []
    # the sample resident's household: one order in every state, dispatched to the sample cadre
    for final in ("CLOSED", "CLOSED", "COMPLETED", "ACCEPTED", "DISPATCHED", "SUBMITTED", "CANCELLED"):
        order = new_order(sample["resident_household"], created_at(final))
        play(order, final, to_sample_cadre=final != "SUBMITTED")
        orders.append(order)
    # the sample cadre's overdue order: accepted long ago and not completed
    order = new_order(sample["resident_household"], anchor - datetime.timedelta(days=9))
    play(order, "ACCEPTED", to_sample_cadre=True)
    orders.append(order)
    finals = [s for s, _ in STATES]
    weights = [w for _, w in STATES]
    while len(orders) < ORDERS:
        pool = main_households if rng.random() < 0.7 or not other_households else other_households
        final = rng.choices(finals, weights=weights)[0]
        order = new_order(rng.choice(pool), created_at(final))
        play(order, final)
        orders.append(order)

    # chains that ran past the anchor move back in time as a whole
    for order in orders:
        overshoot = order.events[-1][3] - (anchor - datetime.timedelta(minutes=rng.uniform(5, 120)))
        if overshoot > datetime.timedelta():
            order.created -= overshoot
            order.events = [(a, b, c, at - overshoot, u, p, n) for a, b, c, at, u, p, n in order.events]
            if order.dispatched_at is not None and order.due_at is not None:
                order.dispatched_at -= overshoot
                order.due_at -= overshoot

    # numbers: per local day of placing, in the order placed
    orders.sort(key=lambda o: o.created)
    per_day: Counter[datetime.date] = Counter()
    for order in orders:
        day = order.created.astimezone(zone).date()
        per_day[day] += 1
        order.number = f"{PREFIX}-{day:%Y%m%d}-{per_day[day]:04d}"
    await conn.executemany(
        "INSERT INTO order_number_counters (county_id, day, last) VALUES ($1, $2, $3)",
        [(county, day, last) for day, last in sorted(per_day.items())],
    )

    rows = await conn.fetch(
        """
        INSERT INTO service_orders (county_id, number, household_id, community_id, title, description, category,
                                    status, assignee_id, assignee_unit_id, due_at, dispatched_at, resolution, rating,
                                    rating_comment, placed_by, created_at, updated_at)
        SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[],
                                 $8::text[], $9::bigint[], $10::bigint[], $11::timestamptz[], $12::timestamptz[],
                                 $13::text[], $14::int[], $15::text[], $16::bigint[], $17::timestamptz[],
                                 $18::timestamptz[])
        RETURNING id, number
        """,
        county,
        [o.number for o in orders],
        [o.household for o in orders],
        [o.community for o in orders],
        [o.title for o in orders],
        [None for _ in orders],
        [o.category for o in orders],
        [o.status for o in orders],  # every order is placed: never None here
        [o.assignee for o in orders],
        [o.unit for o in orders],
        [o.due_at for o in orders],
        [o.dispatched_at for o in orders],
        [o.resolution for o in orders],
        [o.rating for o in orders],
        [o.comment for o in orders],
        [o.placed_by for o in orders],
        [o.created for o in orders],
        [o.events[-1][3] for o in orders],
    )
    id_of = {r["number"]: r["id"] for r in rows}
    await conn.raw.copy_records_to_table(
        "order_events",
        columns=[
            "county_id",
            "order_id",
            "at",
            "action",
            "from_status",
            "to_status",
            "actor_user_id",
            "actor_person_id",
            "note",
        ],
        records=[
            (county, id_of[o.number], at, action, before, after, user, person, note)
            for o in orders
            for action, before, after, at, user, person, note in o.events
        ],
    )
    ids["orders"] = [id_of[o.number] for o in orders]
