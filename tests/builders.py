"""Small worlds for tests: insert areas, people, organisations and users directly.

Every helper returns the new row's id. Tests build only what they need, on the test's
rolled-back connection (or a committed database's pool connection).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


async def area(
    conn: asyncpg.Connection, level: str, name: str | None = None, parent: int | None = None, **extra: Any
) -> int:
    columns = ["level", "name", "parent_id", *extra]
    values = [level, name or f"{level.lower()}-{_n()}", parent, *extra.values()]
    if level == "COMPOUND" and "compound_kind" not in extra:
        columns.append("compound_kind")
        values.append("COMMERCIAL")
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    sql = f"INSERT INTO areas ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id"  # noqa: S608 - test columns
    return int(await conn.fetchval(sql, *values))


async def county_id_of(conn: asyncpg.Connection, area_id: int) -> int:
    return int(await conn.fetchval("SELECT county_id FROM areas WHERE id = $1", area_id))


async def organisation(
    conn: asyncpg.Connection,
    county: int,
    kind: str,
    name: str | None = None,
    *,
    area_id: int | None = None,
    parent: int | None = None,
) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO organisations (county_id, kind, name, area_id, parent_id) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING id",
            county,
            kind,
            name or f"{kind.lower()}-{_n()}",
            area_id,
            parent,
        )
    )


async def household(
    conn: asyncpg.Connection, building: int, label: str | None = None, *, unit: int | None = None
) -> int:
    county = await county_id_of(conn, building)
    return int(
        await conn.fetchval(
            "INSERT INTO households (county_id, area_id, building_id, label) VALUES ($1, $2, $3, $4) RETURNING id",
            county,
            unit or building,
            building,
            label or f"{_n()}室",
        )
    )


async def person(
    conn: asyncpg.Connection,
    county: int,
    name: str | None = None,
    *,
    household: int | None = None,
    phone: str | None = None,
    party_member: bool = False,
) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO persons (county_id, name, household_id, phone, party_member) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING id",
            county,
            name or f"居民{_n()}",
            household,
            phone,
            party_member,
        )
    )


async def post(conn: asyncpg.Connection, person_id: int, organisation_id: int, role: str = "成员") -> int:
    county = await conn.fetchval("SELECT county_id FROM organisations WHERE id = $1", organisation_id)
    return int(
        await conn.fetchval(
            "INSERT INTO posts (county_id, person_id, organisation_id, role, since) "
            "VALUES ($1, $2, $3, $4, DATE '2024-01-01') "
            "RETURNING id",
            county,
            person_id,
            organisation_id,
            role,
        )
    )


async def responsible(conn: asyncpg.Connection, area_id: int, person_id: int) -> None:
    county = await county_id_of(conn, area_id)
    await conn.execute(
        "INSERT INTO responsibilities (county_id, area_id, person_id) VALUES ($1, $2, $3)", county, area_id, person_id
    )


async def user(
    conn: asyncpg.Connection,
    county: int,
    *,
    person_id: int | None = None,
    grants: Sequence[tuple[str, int]] = (),
    username: str | None = None,
    password_hash: str = "not-a-hash",  # noqa: S107 - no user logs in with it
) -> int:
    """A user with (role, scope id) grants: the scope is an organisation for UNIT_ADMIN and
    CADRE, an area for the other roles."""
    user_id = int(
        await conn.fetchval(
            "INSERT INTO users (county_id, username, password_hash, person_id) VALUES ($1, $2, $3, $4) RETURNING id",
            county,
            username or f"user{_n()}",
            password_hash,
            person_id,
        )
    )
    for role, scope in grants:
        by_org = role in ("UNIT_ADMIN", "CADRE")
        await conn.execute(
            "INSERT INTO role_grants (county_id, user_id, role, area_id, organisation_id) VALUES ($1, $2, $3, $4, $5)",
            county,
            user_id,
            role,
            None if by_org else scope,
            scope if by_org else None,
        )
    return user_id


@dataclass
class World:
    """A small county: one community with a district, a compound, two buildings and three
    households; a unit with a cadre; users for every role of the contract's table."""

    county: int = 0
    town: int = 0
    community: int = 0
    other_community: int = 0
    district: int = 0
    compound: int = 0
    building: int = 0
    other_building: int = 0
    household: int = 0
    neighbour_household: int = 0
    unit: int = 0
    people: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)


async def world(conn: asyncpg.Connection) -> World:
    w = World()
    w.county = await area(conn, "COUNTY", f"测试县{_n()}")
    w.town = await area(conn, "TOWN", "袁家庄街道", w.county)
    w.community = await area(conn, "COMMUNITY", "东岳殿社区", w.town)
    w.other_community = await area(conn, "COMMUNITY", "椒溪河社区", w.town)
    w.district = await area(conn, "DISTRICT", "第一片区", w.community)
    w.compound = await area(conn, "COMPOUND", "滨河小区", w.district, address="佛坪县袁家庄街道滨河路12号")
    w.building = await area(conn, "BUILDING", "1号楼", w.compound)
    w.other_building = await area(conn, "BUILDING", "2号楼", w.compound)
    w.household = await household(conn, w.building, "1单元101")
    w.neighbour_household = await household(conn, w.other_building, "1单元202")
    w.unit = await organisation(conn, w.county, "GOVERNMENT_UNIT", f"县财政局{_n()}")
    p = w.people
    p["staff"] = await person(conn, w.county, "王社工", phone="13800000001")
    p["head"] = await person(conn, w.county, "李楼长", household=w.household, phone="13800000002")
    p["cadre"] = await person(conn, w.county, "张干部", phone="13800000003", party_member=True)
    p["resident"] = await person(conn, w.county, "赵居民", household=w.household, phone="13800000004")
    p["neighbour"] = await person(conn, w.county, "钱邻居", household=w.neighbour_household, phone="13800000005")
    p["unit"] = await person(conn, w.county, "孙单位", phone="13800000006")
    await post(conn, p["cadre"], w.unit, "科员")
    await post(conn, p["unit"], w.unit, "办公室主任")
    await responsible(conn, w.building, p["head"])
    u = w.users
    u["admin"] = await user(conn, w.county, grants=[("COUNTY_ADMIN", w.county)])
    u["staff"] = await user(conn, w.county, person_id=p["staff"], grants=[("COMMUNITY_STAFF", w.community)])
    u["head"] = await user(conn, w.county, person_id=p["head"], grants=[("BUILDING_HEAD", w.building)])
    u["cadre"] = await user(conn, w.county, person_id=p["cadre"], grants=[("CADRE", w.unit)])
    u["resident"] = await user(conn, w.county, person_id=p["resident"], grants=[("RESIDENT", w.building)])
    u["neighbour"] = await user(conn, w.county, person_id=p["neighbour"], grants=[("RESIDENT", w.other_building)])
    u["unit"] = await user(conn, w.county, person_id=p["unit"], grants=[("UNIT_ADMIN", w.unit)])
    await conn.execute(
        "INSERT INTO pairings (county_id, cadre_id, household_id, since) VALUES ($1, $2, $3, DATE '2024-01-01')",
        w.county,
        p["cadre"],
        w.household,
    )
    # the cadre's dual registration (双报到) with the community is confirmed: orders may go to them
    await conn.execute(
        "INSERT INTO registrations (county_id, community_id, person_id, status, decided_at) "
        "VALUES ($1, $2, $3, 'CONFIRMED', now())",
        w.county,
        w.community,
        p["cadre"],
    )
    return w


# --- identity ---------------------------------------------------------------------------

SAMPLE_PASSWORD = "correct horse battery staple"
_sample_hash: list[str] = []


def sample_password_hash() -> str:
    """One argon2id hash of SAMPLE_PASSWORD, made once per run (hashing is slow on purpose)."""
    if not _sample_hash:
        from gongjian.passwords import hash_password

        _sample_hash.append(hash_password(SAMPLE_PASSWORD))
    return _sample_hash[0]


async def with_passwords(conn: asyncpg.Connection, w: World) -> dict[str, str]:
    """Give every user of the world SAMPLE_PASSWORD and a username equal to its key
    (suffixed to stay unique); returns key -> username."""
    names: dict[str, str] = {}
    for key, user_id in w.users.items():
        names[key] = f"{key}{w.county}"
        await conn.execute(
            "UPDATE users SET username = $2, password_hash = $3 WHERE id = $1",
            user_id,
            names[key],
            sample_password_hash(),
        )
    return names


async def api_token(conn: asyncpg.Connection, organisation_id: int, created_by: int, secret: str) -> int:
    """An API token of the organisation whose secret is `secret` (stored hashed)."""
    import hashlib

    county = await conn.fetchval("SELECT county_id FROM organisations WHERE id = $1", organisation_id)
    return int(
        await conn.fetchval(
            "INSERT INTO api_tokens (county_id, organisation_id, name, token_hash, created_by) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING id",
            county,
            organisation_id,
            f"token-{_n()}",
            hashlib.sha256(secret.encode()).hexdigest(),
            created_by,
        )
    )


# --- service orders ---------------------------------------------------------------

SERVICE_CATEGORIES = (
    ("REPAIR", "维修", 48, 4),
    ("CLEANING", "保洁", 24, 4),
    ("ELDERLY_CARE", "助老", 24, 2),
    ("OTHER", "其他", 72, 8),
)


async def service_categories(conn: asyncpg.Connection) -> None:
    """The categories the order tests use (REPAIR, CLEANING, ELDERLY_CARE, OTHER)."""
    await conn.executemany(
        "INSERT INTO service_categories (code, name, due_hours, accept_hours) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (code) DO NOTHING",
        SERVICE_CATEGORIES,
    )


async def service_order(
    conn: asyncpg.Connection,
    w: World,
    *,
    household: int | None = None,
    category: str = "REPAIR",
    title: str = "水管漏水",
    placed_by: str = "resident",
) -> int:
    """A SUBMITTED order of the world's household (or `household`), placed through
    db.orders.create_order; its id."""
    from db.orders import create_order
    from db.pool import Conn

    await service_categories(conn)
    household = household or w.household
    community = await conn.fetchval(
        "SELECT b.path[3] FROM households h JOIN areas b ON b.id = h.building_id WHERE h.id = $1", household
    )
    row = await create_order(
        Conn(conn),
        county_id=w.county,
        household_id=household,
        community_id=int(community),
        title=title,
        description=None,
        category=category,
        placed_by=w.users[placed_by],
        actor_person_id=w.people.get(placed_by),
    )
    return row.id


# --- areas domain -----------------------------------------------------------------------------


async def buildings_in(conn: asyncpg.Connection, compound: int, n: int, *, with_heads: bool = True) -> list[int]:
    """`n` buildings in a compound (one statement), each with a household and a head living there."""
    county = await county_id_of(conn, compound)
    tag = _n()
    ids = [
        int(r["id"])
        for r in await conn.fetch(
            "INSERT INTO areas (level, parent_id, name) SELECT 'BUILDING', $1, $2 || '-' || g || '号楼' "
            "FROM generate_series(1, $3) g RETURNING id",
            compound,
            f"b{tag}",
            n,
        )
    ]
    if with_heads:
        await conn.execute(
            "WITH h AS (INSERT INTO households (county_id, area_id, building_id, label) "
            "  SELECT $1, b, b, '101' FROM unnest($2::bigint[]) b RETURNING id, building_id), "
            "p AS (INSERT INTO persons (county_id, name, household_id, phone) "
            "  SELECT $1, '楼长' || h.building_id, h.id, '13900000000' FROM h RETURNING id, household_id) "
            "INSERT INTO responsibilities (county_id, area_id, person_id) "
            "SELECT $1, h.building_id, p.id FROM p JOIN h ON h.id = p.household_id",
            county,
            ids,
        )
    return ids


async def households_in(conn: asyncpg.Connection, building: int, n: int, *, residents: int = 2) -> list[int]:
    """`n` households in a building, each with `residents` people with phones (two statements)."""
    county = await county_id_of(conn, building)
    tag = _n()
    ids = [
        int(r["id"])
        for r in await conn.fetch(
            "INSERT INTO households (county_id, area_id, building_id, label) "
            "SELECT $1, $2, $2, $3 || '-' || g FROM generate_series(1, $4) g RETURNING id",
            county,
            building,
            f"h{tag}",
            n,
        )
    ]
    await conn.execute(
        "INSERT INTO persons (county_id, name, household_id, phone) "
        "SELECT $1, '居民' || h || '-' || g, h, '1370000' || lpad(g::text, 4, '0') "
        "FROM unnest($2::bigint[]) h, generate_series(1, $3) g",
        county,
        ids,
        residents,
    )
    return ids


async def adoption(conn: asyncpg.Connection, unit: int, area_id: int, since: str = "2024-03-01") -> int:
    county = await county_id_of(conn, area_id)
    return int(
        await conn.fetchval(
            "INSERT INTO adoptions (county_id, unit_id, area_id, since) VALUES ($1, $2, $3, $4::text::date) "
            "RETURNING id",
            county,
            unit,
            area_id,
            since,
        )
    )


# ---- community life: activities, findings, meetings, renovations ----------------------------


async def activity(
    conn: asyncpg.Connection,
    county: int,
    community: int,
    hosts: Sequence[int],
    *,
    title: str = "爱心餐",
    kind: str = "CHARITY_MEAL",
    starts_in_days: float = 7,
    hours: float = 3,
    capacity: int | None = None,
) -> int:
    """An activity starting `starts_in_days` from now (negative: in the past), lasting `hours`."""
    activity_id = int(
        await conn.fetchval(
            "INSERT INTO activities (county_id, community_id, title, kind, starts_at, ends_at, capacity) "
            "VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::float8 * 86400), "
            "now() + make_interval(secs => $5::float8 * 86400 + $6::float8 * 3600), $7) RETURNING id",
            county,
            community,
            title,
            kind,
            starts_in_days,
            hours,
            capacity,
        )
    )
    await conn.execute(
        "INSERT INTO activity_hosts (activity_id, organisation_id) SELECT $1, unnest($2::bigint[])",
        activity_id,
        list(hosts),
    )
    return activity_id


async def finding(
    conn: asyncpg.Connection,
    compound: int,
    *,
    category: str = "PILING",
    description: str = "楼道堆放杂物",
    deadline_in_days: int = 7,
    rectified_days_after_deadline: int | None = None,
) -> int:
    """A finding whose deadline is `deadline_in_days` from today (county time, Asia/Shanghai);
    rectified that many days after the deadline when `rectified_days_after_deadline` is given."""
    county = await county_id_of(conn, compound)
    return int(
        await conn.fetchval(
            "INSERT INTO findings (county_id, compound_id, category, description, deadline, rectified_at, "
            "rectification_note) "
            "SELECT $1, $2, $3, $4, d, "
            "CASE WHEN $6::int IS NULL THEN NULL ELSE ((d + $6::int)::timestamp + time '12:00') "
            "AT TIME ZONE 'Asia/Shanghai' END, "
            "CASE WHEN $6::int IS NULL THEN NULL ELSE '已整改' END "
            "FROM (SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date + $5::int AS d) x RETURNING id",
            county,
            compound,
            category,
            description,
            deadline_in_days,
            rectified_days_after_deadline,
        )
    )


async def meeting(
    conn: asyncpg.Connection,
    community: int,
    *,
    kind: str = "RESIDENTS_REVIEW",
    title: str = "群众评议会",
    status: str = "SCHEDULED",
    starts_in_hours: float = -1,
) -> int:
    """A meeting of the community starting `starts_in_hours` from now (by default it began an
    hour ago, so that its minutes may be recorded)."""
    county = await county_id_of(conn, community)
    return int(
        await conn.fetchval(
            "INSERT INTO meetings (county_id, community_id, kind, title, starts_at, status, minutes) "
            "VALUES ($1, $2, $3, $4, now() + make_interval(secs => $6::float8 * 3600), $5, "
            "CASE WHEN $5 = 'HELD' THEN '会议纪要' END) "
            "RETURNING id",
            county,
            community,
            kind,
            title,
            status,
            starts_in_hours,
        )
    )


async def renovation(
    conn: asyncpg.Connection, compound: int, *, status: str = "PLANNED", year: int = 2026, title: str = "老旧小区改造"
) -> int:
    county = await county_id_of(conn, compound)
    return int(
        await conn.fetchval(
            "INSERT INTO renovations (county_id, compound_id, title, status, year) VALUES ($1, $2, $3, $4, $5) "
            "RETURNING id",
            county,
            compound,
            title,
            status,
            year,
        )
    )


# --- pairings domain ---------------------------------------------------------------------------


async def pairing_of(conn: asyncpg.Connection, cadre: int, household: int) -> int:
    """The id of the active pairing of a cadre and a household."""
    return int(
        await conn.fetchval(
            "SELECT id FROM pairings WHERE cadre_id = $1 AND household_id = $2 AND until IS NULL", cadre, household
        )
    )


async def pairing(conn: asyncpg.Connection, cadre: int, household: int, since: str = "2024-01-01") -> int:
    county = await conn.fetchval("SELECT county_id FROM households WHERE id = $1", household)
    return int(
        await conn.fetchval(
            "INSERT INTO pairings (county_id, cadre_id, household_id, since) VALUES ($1, $2, $3, $4::text::date) "
            "RETURNING id",
            county,
            cadre,
            household,
            since,
        )
    )


async def visit(conn: asyncpg.Connection, pairing_id: int, kind: str, occurred_on: str) -> int:
    county = await conn.fetchval("SELECT county_id FROM pairings WHERE id = $1", pairing_id)
    return int(
        await conn.fetchval(
            "INSERT INTO visits (county_id, pairing_id, kind, occurred_on) VALUES ($1, $2, $3, $4::text::date) "
            "RETURNING id",
            county,
            pairing_id,
            kind,
            occurred_on,
        )
    )


async def cadre(conn: asyncpg.Connection, county: int, unit: int, name: str | None = None) -> int:
    """A party member with an active post in `unit`."""
    person_id = await person(conn, county, name or f"干部{_n()}", party_member=True)
    await post(conn, person_id, unit, "干部")
    return person_id


# --- dual list ----------------------------------------------------------------------------


async def resource(
    conn: asyncpg.Connection,
    provider: int,
    communities: Sequence[int],
    *,
    category: str = "PARKING",
    quantity: int = 10,
    title: str | None = None,
    unit: str = "个",
    available_until: Any = None,
    withdrawn: bool = False,
) -> int:
    """A resource of `provider` open to `communities`, nothing allocated yet."""
    county = await conn.fetchval("SELECT county_id FROM organisations WHERE id = $1", provider)
    resource_id = int(
        await conn.fetchval(
            "INSERT INTO resources (county_id, provider_id, title, category, quantity, remaining, unit, "
            "available_until, withdrawn_at) VALUES ($1, $2, $3, $4, $5, $5, $6, $7, "
            "CASE WHEN $8 THEN now() END) RETURNING id",
            county,
            provider,
            title or f"资源{_n()}",
            category,
            quantity,
            unit,
            available_until,
            withdrawn,
        )
    )
    await conn.executemany(
        "INSERT INTO resource_communities (resource_id, community_id) VALUES ($1, $2)",
        [(resource_id, c) for c in communities],
    )
    return resource_id


async def need(
    conn: asyncpg.Connection, area_id: int, *, category: str = "PARKING", quantity: int = 5, title: str | None = None
) -> int:
    """A need published for `area_id` (a community or an area inside one)."""
    return int(
        await conn.fetchval(
            "INSERT INTO needs (county_id, area_id, community_id, title, category, quantity) "
            "SELECT a.county_id, a.id, a.path[3], $2, $3, $4 FROM areas a WHERE a.id = $1 RETURNING id",
            area_id,
            title or f"需求{_n()}",
            category,
            quantity,
        )
    )


async def exchange(conn: asyncpg.Connection, resource_id: int, need_id: int, quantity: int = 1) -> int:
    """An ALLOCATED exchange, with the resource's remaining and the need's fulfilled moved
    as `allocate` would."""
    await conn.execute("UPDATE resources SET remaining = remaining - $2 WHERE id = $1", resource_id, quantity)
    await conn.execute("UPDATE needs SET fulfilled = fulfilled + $2 WHERE id = $1", need_id, quantity)
    return int(
        await conn.fetchval(
            "INSERT INTO exchanges (county_id, resource_id, need_id, provider_id, receiver_id, quantity) "
            "SELECT r.county_id, r.id, n.id, r.provider_id, n.area_id, $3 FROM resources r, needs n "
            "WHERE r.id = $1 AND n.id = $2 RETURNING id",
            resource_id,
            need_id,
            quantity,
        )
    )


# --- notifications ---------------------------------------------------------------------------


async def notification(conn: asyncpg.Connection, user_id: int, kind: str = "ORDER_OVERDUE") -> int:
    """A notification in the user's inbox, about the user's own account."""
    return int(
        await conn.fetchval(
            "INSERT INTO notifications (county_id, user_id, kind, reason, subject_type, subject_id, params) "
            "SELECT county_id, id, $2, 'test:' || $3, 'User', id, '{}' FROM users WHERE id = $1 RETURNING id",
            user_id,
            kind,
            str(_n()),
        )
    )
