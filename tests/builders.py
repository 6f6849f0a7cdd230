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
    return w


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
