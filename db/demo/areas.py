"""The demo county's area tree, organisations and people (佛坪县).

Figures of DOMAIN.md for this domain: one community general branch with 3 party branches
and 6 districts, 15 compound functional branches, 162 buildings each with its own head,
2,483 households with 2-4 residents each, 78 units each with its own party branch, 830
cadres (party members holding a post in a unit). Other communities exist (needs and orders
spread over several) but hold no party branch or district of their own.

Rows get ids drawn from their identity sequences first, then go in with one
`INSERT ... SELECT FROM unnest(...)` per table (areas level by level, for the path trigger).
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from db.demo import names
from db.pool import Conn

if TYPE_CHECKING:
    from db.demo.load import Demo

ADULT: Final = 18  # responsible people and cadres are adults
BUILDINGS: Final = 162
HOUSEHOLDS: Final = 2483
CADRES: Final = 830
FUNCTIONAL_BRANCHES: Final = 15
COUNTY_CODE: Final = "610730"

NEXT_IDS: Final = "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)"

INSERT_AREAS: Final = """
INSERT INTO areas (id, county_id, parent_id, level, name, code, compound_kind, address, management_plan)
OVERRIDING SYSTEM VALUE
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::text[])
"""
INSERT_ORGANISATIONS: Final = """
INSERT INTO organisations (id, county_id, parent_id, kind, name, code, area_id)
OVERRIDING SYSTEM VALUE
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[])
"""
SET_PROPERTY_MANAGERS: Final = """
UPDATE areas a SET property_manager_id = m.organisation_id
FROM unnest($1::bigint[], $2::bigint[]) AS m (area_id, organisation_id) WHERE a.id = m.area_id
"""
INSERT_HOUSEHOLDS: Final = """
INSERT INTO households (id, county_id, area_id, building_id, label, code)
OVERRIDING SYSTEM VALUE
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[])
"""
INSERT_PERSONS: Final = """
INSERT INTO persons (id, county_id, name, phone, id_number, gender, birth_year, household_id, party_member, tags, code)
OVERRIDING SYSTEM VALUE
SELECT p.id, p.county_id, p.name, p.phone, p.id_number, p.gender, p.birth_year, p.household_id, p.party_member,
       string_to_array(p.tags, ','), p.code
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[],
            $9::boolean[], $10::text[], $11::text[])
     AS p (id, county_id, name, phone, id_number, gender, birth_year, household_id, party_member, tags, code)
"""
INSERT_POSTS: Final = """
INSERT INTO posts (county_id, person_id, organisation_id, role, since)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::date[])
"""
INSERT_RESPONSIBILITIES: Final = """
INSERT INTO responsibilities (county_id, area_id, person_id, since)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::timestamptz[])
"""


@dataclass
class Area:
    id: int
    parent: int | None
    level: str
    name: str
    kind: str | None = None
    address: str | None = None
    plan: str | None = None
    code: str | None = None
    community: int = 0


@dataclass
class Person:
    id: int
    name: str
    phone: str | None
    id_number: str
    gender: str
    birth_year: int
    household: int | None
    party_member: bool
    tags: str


@dataclass
class Household:
    id: int
    area: int
    building: int
    label: str
    members: list[int] = field(default_factory=list)


class Generator:
    """Deterministic people: names, phones and ID numbers from the seeded generator."""

    def __init__(self, rng: random.Random, today: datetime.date) -> None:
        self.rng = rng
        self.today = today
        self.id_numbers: set[str] = set()
        self.surname_weights = [1.0 / (i + 4) for i in range(len(names.SURNAMES))]

    def name(self, gender: str) -> str:
        surname = self.rng.choices(names.SURNAMES, weights=self.surname_weights)[0]
        pool = names.GIVEN_MALE if gender == "MALE" else names.GIVEN_FEMALE
        given = "".join(self.rng.choice(pool) for _ in range(self.rng.choice((1, 2, 2, 2))))
        return surname + given

    def phone(self) -> str:
        prefix = self.rng.choice(("133", "135", "137", "138", "139", "150", "151", "152", "158", "180", "187", "191"))
        return prefix + f"{self.rng.randrange(10**8):08d}"

    def id_number(self, birth_year: int, gender: str) -> str:
        day = datetime.date(birth_year, 1, 1) + datetime.timedelta(days=self.rng.randrange(365))
        sequence = self.rng.randrange(500) * 2 + (1 if gender == "MALE" else 0)
        while True:
            body = f"{COUNTY_CODE}{day:%Y%m%d}{sequence % 1000:03d}"
            number = body + _check_digit(body)
            if number not in self.id_numbers:
                self.id_numbers.add(number)
                return number
            sequence += 2

    def person(
        self,
        pid: int,
        household: int | None,
        *,
        age: tuple[int, int] = (18, 80),
        party: float = 0.0,
        gender: str | None = None,
        surname: str | None = None,
    ) -> Person:
        gender = gender or self.rng.choice(("FEMALE", "MALE"))
        years = self.rng.randint(*age)
        birth_year = self.today.year - years
        tags = self.rng.choice(names.TAGS) if self.rng.random() < 0.06 else ""
        name = self.name(gender)
        if surname:
            name = surname + name[1:]
        phone = self.phone() if years >= 14 else None
        return Person(
            id=pid,
            name=name,
            phone=phone,
            id_number=self.id_number(birth_year, gender),
            gender=gender,
            birth_year=birth_year,
            household=household,
            party_member=self.rng.random() < party,
            tags=tags,
        )


def _check_digit(body: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(body, weights, strict=True))
    return "10X98765432"[total % 11]


async def _ids(conn: Conn, table: str, n: int) -> list[int]:
    return [r[0] for r in await conn.fetch(NEXT_IDS, table, n)] if n else []


def _spread(rng: random.Random, total: int, weights: Sequence[float], minimum: int) -> list[int]:
    """`total` split over len(weights) bins, each at least `minimum`, the rest by weight."""
    counts = [minimum] * len(weights)
    for i in rng.choices(range(len(weights)), weights=weights, k=total - minimum * len(weights)):
        counts[i] += 1
    return counts


class Builder:
    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.rng = demo.rng
        self.gen = Generator(demo.rng, demo.today)
        self.areas: list[Area] = []
        self.orgs: list[tuple[int, int | None, str, str, int | None]] = []  # id, parent, kind, name, area
        self.persons: list[Person] = []
        self.households: list[Household] = []
        self.posts: list[tuple[int, int, str, datetime.date]] = []
        self.responsible: dict[int, int] = {}

    def since(self, low: int = 60, high: int = 1500) -> datetime.date:
        return self.demo.today - datetime.timedelta(days=self.rng.randint(low, high))

    def post(self, person: int, org: int, role: str) -> None:
        self.posts.append((person, org, role, self.since()))


async def step(demo: Demo) -> None:
    b = Builder(demo)
    rng = b.rng
    conn = demo.conn

    # --- the area tree -------------------------------------------------------------------
    area_ids = iter(await _ids(conn, "areas", 1 + 3 + 4 + 6 + 60 + BUILDINGS + 200))
    county = Area(next(area_ids), None, "COUNTY", "佛坪县", code=COUNTY_CODE)
    towns = [
        Area(next(area_ids), county.id, "TOWN", n, code=f"{COUNTY_CODE}{i + 1:03d}") for i, n in enumerate(names.TOWNS)
    ]
    communities = [
        Area(next(area_ids), towns[t].id, "COMMUNITY", n, code=f"{COUNTY_CODE}{t + 1:03d}{i + 1:03d}")
        for i, (t, n) in enumerate(names.COMMUNITIES)
    ]
    for c in communities:
        c.community = c.id
    main = communities[0]
    districts = [
        Area(next(area_ids), main.id, "DISTRICT", f"第{'一二三四五六'[i]}片区", community=main.id) for i in range(6)
    ]
    # compounds: 42 in the main community (7 per district), 6 in each other community
    kinds = (
        [("COMMERCIAL", n) for n in names.COMMERCIAL_COMPOUNDS]
        + [("STAFF_HOUSING", n) for n in names.STAFF_HOUSING]
        + [("SELF_BUILT", n) for n in names.SELF_BUILT]
    )
    main_kinds = kinds[:20] + kinds[28:40] + kinds[44:54]
    other_kinds = kinds[20:28] + kinds[40:44] + kinds[54:60]
    rng.shuffle(main_kinds)
    rng.shuffle(other_kinds)
    compounds: list[Area] = []
    for i, (kind, name) in enumerate(main_kinds):
        parent = districts[i % 6]
        compounds.append(_compound(b, next(area_ids), parent.id, main.id, kind, name, towns[0].name))
    for i, (kind, name) in enumerate(other_kinds):
        c = communities[1 + i % 3]
        town = towns[next(t for t, n in names.COMMUNITIES if n == c.name)].name
        compounds.append(_compound(b, next(area_ids), c.id, c.id, kind, name, town))

    # buildings: at least one per compound, the rest weighted by kind (commercial compounds are big)
    weight = {"COMMERCIAL": 4.0, "STAFF_HOUSING": 1.5, "SELF_BUILT": 0.6}
    per_compound = _spread(rng, BUILDINGS, [weight[c.kind or ""] for c in compounds], 1)
    buildings: list[Area] = []
    for c, n in zip(compounds, per_compound, strict=True):
        for j in range(n):
            label = f"{j + 1}号楼" if c.kind != "SELF_BUILT" else f"{j + 1}号院"
            buildings.append(Area(next(area_ids), c.id, "BUILDING", label, community=c.community))
    kind_of = {c.id: c.kind for c in compounds}
    per_building = _spread(
        rng, HOUSEHOLDS, [3.0 if kind_of[x.parent or 0] != "SELF_BUILT" else 0.5 for x in buildings], 3
    )
    # stairwell units (单元) in the bigger commercial buildings
    stairwells: dict[int, list[Area]] = {}
    for x, n in zip(buildings, per_building, strict=True):
        if kind_of[x.parent or 0] == "COMMERCIAL" and n >= 16:
            stairwells[x.id] = [
                Area(next(area_ids), x.id, "UNIT", f"{u + 1}单元", community=x.community) for u in range(2)
            ]
    units_areas = [u for us in stairwells.values() for u in us]
    b.areas = [county, *towns, *communities, *districts, *compounds, *buildings, *units_areas]
    for level_rows in (
        [county],
        towns,
        communities,
        districts,
        compounds,
        buildings,
        units_areas,
    ):
        await _insert_areas(conn, county.id, level_rows)

    # --- households and residents ------------------------------------------------------------
    household_ids = iter(await _ids(conn, "households", HOUSEHOLDS))
    by_building: dict[int, list[Household]] = {}
    for x, n in zip(buildings, per_building, strict=True):
        wells = stairwells.get(x.id)
        rows = by_building.setdefault(x.id, [])
        for k in range(n):
            if wells:
                well = k % 2
                index = k // 2
                area = wells[well].id
                label = f"{x.name}{well + 1}单元{index // 2 + 1}0{index % 2 + 1}"
            elif kind_of[x.parent or 0] == "SELF_BUILT":
                area = x.id
                label = f"{x.name}{k + 1}户"
            else:
                area = x.id
                label = f"{x.name}{k // 2 + 1}0{k % 2 + 1}"
            rows.append(Household(next(household_ids), area, x.id, label))
    households = [h for x in buildings for h in by_building[x.id]]
    b.households = households
    sizes = [rng.choice((2, 2, 3, 3, 3, 4)) for _ in households]
    resident_ids = iter(await _ids(conn, "persons", sum(sizes)))
    for h, size in zip(households, sizes, strict=True):
        for m in range(size):
            age = (30, 80) if m == 0 else ((25, 75) if m == 1 else (3, 30))
            # children carry the surname of the household's first member
            surname = b.persons[-m].name[0] if m >= 2 else None
            p = b.gen.person(next(resident_ids), h.id, age=age, party=0.14 if m < 2 else 0.02, surname=surname)
            h.members.append(p.id)
            b.persons.append(p)
    residents = list(b.persons)
    person_of = {p.id: p for p in residents}

    # --- responsible people: building heads are residents of their building -----------------
    building_heads: dict[int, int] = {}
    for x in buildings:
        building_heads[x.id] = by_building[x.id][0].members[0]
        b.responsible[x.id] = building_heads[x.id]
    for x_id, wells in stairwells.items():
        homes = by_building[x_id]
        for w, stairwell in enumerate(wells):
            in_well = [h for h in homes if h.area == stairwell.id]
            # an adult of the household: its youngest member of 18 or older
            members = in_well[1 if w == 0 else 0].members
            b.responsible[stairwell.id] = next(
                m for m in reversed(members) if demo.today.year - person_of[m].birth_year >= ADULT
            )

    def resident_of(area_ids_: set[int], taken: set[int]) -> int:
        for h in households:
            if h.building in area_ids_ or h.area in area_ids_:
                for m in h.members[1:]:
                    if m not in taken and person_of[m].birth_year <= demo.today.year - 25:
                        taken.add(m)
                        return m
        raise AssertionError("no resident left to appoint")

    taken = set(building_heads.values()) | set(b.responsible.values())
    buildings_under: dict[int, set[int]] = {}
    for x in buildings:
        c_area = next(c for c in compounds if c.id == x.parent)
        for a in (c_area.id, c_area.parent or 0, c_area.community):
            buildings_under.setdefault(a, set()).add(x.id)
    for c in compounds:
        b.responsible[c.id] = resident_of(buildings_under[c.id], taken)
    for d in districts:
        b.responsible[d.id] = resident_of(buildings_under[d.id], taken)
    for c in communities:
        b.responsible[c.id] = resident_of(buildings_under[c.id], taken)
    # county and town leaders live in the county but outside these compounds
    officials: list[Person] = []
    official_ids = iter(await _ids(conn, "persons", 1 + len(towns)))
    for led in (county, *towns):
        leader = b.gen.person(next(official_ids), None, age=(40, 58), party=1.0)
        officials.append(leader)
        b.responsible[led.id] = leader.id
    b.persons.extend(officials)

    # --- organisations of the communities ---------------------------------------------------
    org_total = 4 * 2 + 3 + FUNCTIONAL_BRANCHES + 40 + len(names.PROPERTY_COMPANIES) + 2 * len(names.UNITS)
    org_ids = iter(await _ids(conn, "organisations", org_total))

    def org(parent: int | None, kind: str, name: str, area: int | None) -> int:
        oid = next(org_ids)
        b.orgs.append((oid, parent, kind, name, area))
        return oid

    general: dict[int, int] = {}
    committees: dict[int, int] = {}
    for c in communities:
        general[c.id] = org(None, "GENERAL_BRANCH", f"{c.name}党总支部委员会", c.id)
        committees[c.id] = org(None, "RESIDENTS_COMMITTEE", f"{c.name}居民委员会", c.id)
    branches = [org(general[main.id], "PARTY_BRANCH", f"{main.name}第{'一二三'[i]}党支部", main.id) for i in range(3)]
    main_commercial = [c for c in compounds if c.community == main.id and c.kind == "COMMERCIAL"]
    functional = {
        c.id: org(general[main.id], "FUNCTIONAL_BRANCH", f"{c.name}功能型党支部", c.id)
        for c in main_commercial[:FUNCTIONAL_BRANCHES]
    }
    owner_committees = {
        c.id: org(None, "OWNER_COMMITTEE", f"{c.name}业主委员会", c.id) for c in compounds if c.kind == "COMMERCIAL"
    }
    companies = [org(None, "PROPERTY_COMPANY", n, None) for n in names.PROPERTY_COMPANIES]
    managers: list[tuple[int, int]] = []
    for c in compounds:
        if c.kind == "COMMERCIAL":
            managers.append((c.id, companies[rng.randrange(len(companies) - 1)]))
        elif c.kind == "STAFF_HOUSING":
            managers.append((c.id, companies[-1]))
    units: list[int] = []
    unit_branch: dict[int, int] = {}
    for kind, name in names.UNITS:
        uid = org(None, kind, name, None)
        units.append(uid)
        unit_branch[uid] = org(uid, "PARTY_BRANCH", f"{name}党支部", None)

    # posts of the community organisations, held by residents of the community
    community_of_building = {x.id: x.community for x in buildings}
    compound_of_building = {x.id: x.parent or 0 for x in buildings}
    community_of_compound = {c.id: c.community for c in compounds}
    community_people: dict[int, list[int]] = {}
    for h in households:
        community_people.setdefault(community_of_building[h.building], []).extend(h.members)
    party_residents = [p.id for p in residents if p.party_member]
    main_party = [m for m in community_people[main.id] if person_of[m].party_member]
    for c in communities:
        b.post(b.responsible[c.id], general[c.id], "书记")
        b.post(b.responsible[c.id], committees[c.id], "主任")
        person_of[b.responsible[c.id]].party_member = True
    cursor = 0
    for i, branch in enumerate(branches):
        for role in ("书记", "组织委员", "宣传委员", "党员", "党员", "党员"):
            b.post(main_party[cursor], branch, role)
            cursor += 1
        b.post(main_party[i], general[main.id], "委员")
    compound_of_household = {h.id: compound_of_building[h.building] for h in households}
    for cid, fb in functional.items():
        in_compound = [m for m in main_party if compound_of_household[person_of[m].household or 0] == cid]
        members = in_compound[:3] or main_party[cursor : cursor + 3]
        for role, m in zip(("书记", "委员", "党员"), members, strict=False):
            b.post(m, fb, role)
    for cid, oc in owner_committees.items():
        in_compound = [
            m for h in households if h.building in buildings_under[cid] for m in h.members[:1] if m not in taken
        ]
        for role, m in zip(("主任", "副主任", "委员"), in_compound, strict=False):
            b.post(m, oc, role)
    for c in communities:
        others = [m for m in community_people[c.id][5::7] if m not in taken][:4]
        for role, m in zip(("副主任", "委员", "委员", "社区专职工作者"), others, strict=False):
            b.post(m, committees[c.id], role)
    # cross-appointments (交叉任职): owner committee chairs of the main community who also sit
    # on the general branch or the residents' committee
    main_committees = {oc for cid, oc in owner_committees.items() if community_of_compound[cid] == main.id}
    on_committees = {p for p, o, _, _ in b.posts if o in (general[main.id], committees[main.id])}
    chairs = [p for p, o, role, _ in b.posts if role == "主任" and o in main_committees and p not in on_committees]
    for k, chair in enumerate(chairs[:3]):
        person_of[chair].party_member = True
        b.post(chair, general[main.id] if k % 2 == 0 else committees[main.id], "委员")

    # property company managers live elsewhere
    manager_ids = iter(await _ids(conn, "persons", len(companies) + len(units) + CADRES))
    for oid in companies:
        p = b.gen.person(next(manager_ids), None, age=(30, 55))
        b.persons.append(p)
        b.post(p.id, oid, "经理")

    # --- units: an administrator and the cadres -----------------------------------------------
    unit_admins: dict[int, int] = {}
    for uid in units:
        p = b.gen.person(next(manager_ids), None, age=(28, 55))
        p.party_member = False
        b.persons.append(p)
        unit_admins[uid] = p.id
        b.post(p.id, uid, "办公室主任")
    # some cadres live in the county's households (party members of working age), the others elsewhere
    post_holders = taken | {p for p, _, _, _ in b.posts}
    living_here = [
        m for m in party_residents if m not in post_holders and 25 <= demo.today.year - person_of[m].birth_year <= 58
    ]
    living_here = living_here[:300]
    cadres: list[int] = list(living_here)
    while len(cadres) < CADRES:
        p = b.gen.person(next(manager_ids), None, age=(24, 58), party=1.0)
        b.persons.append(p)
        cadres.append(p.id)
    rng.shuffle(cadres)
    cadre_unit: dict[int, int] = {}
    for i, pid in enumerate(cadres):
        uid = units[i % len(units)]
        cadre_unit[pid] = uid
        b.post(pid, uid, rng.choice(names.UNIT_POSTS))
    for uid in units:
        first = next(p for p in cadres if cadre_unit[p] == uid)
        b.post(first, unit_branch[uid], "书记")
    for p in b.persons:
        if p.id in cadre_unit:
            p.party_member = True

    # --- the sample people of the contract README ----------------------------------------------
    main_buildings = [x for x in buildings if x.community == main.id]
    resident_building = next(x for x in main_buildings if x.id in stairwells)
    homes = by_building[resident_building.id]
    resident_household = homes[1]
    resident = resident_household.members[0]
    neighbour_building = next(
        x for x in main_buildings if x.parent != resident_building.parent and x.id not in stairwells
    )
    neighbour_household = by_building[neighbour_building.id][1]
    neighbour = neighbour_household.members[0]
    staff = next(p for p, o, role, _ in b.posts if o == committees[main.id] and role == "社区专职工作者")
    sample_unit = units[0]
    cadre = next(p for p in cadres if cadre_unit[p] == sample_unit and person_of.get(p) is None)
    for pid in (resident, neighbour):
        # sample residents are not cadres, so their roles stay as the table says
        assert pid not in cadre_unit

    await _write(conn, county.id, b, managers)

    demo.ids.update(
        county=county.id,
        towns=[t.id for t in towns],
        communities=[c.id for c in communities],
        community=main.id,
        districts=[d.id for d in districts],
        compounds=[c.id for c in compounds],
        buildings=[x.id for x in buildings],
        units_areas=[u.id for u in units_areas],
        households=[h.id for h in households],
        units=units,
        unit_party_branches=unit_branch,
        cadres=sorted(cadres),
        cadre_unit=cadre_unit,
        residents=[p.id for p in residents],
        building_heads=building_heads,
        party_members=sorted(p.id for p in b.persons if p.party_member and p.household is not None),
        general_branch=general[main.id],
        residents_committees=committees,
        sample={
            "staff": staff,
            "head": building_heads[resident_building.id],
            "cadre": cadre,
            "resident": resident,
            "neighbour": neighbour,
            "unit_admin": unit_admins[sample_unit],
            "unit": sample_unit,
            "resident_household": resident_household.id,
            "neighbour_household": neighbour_household.id,
            "resident_building": resident_building.id,
            "neighbour_building": neighbour_building.id,
            "community": main.id,
        },
    )


def _compound(b: Builder, aid: int, parent: int, community: int, kind: str, name: str, town: str) -> Area:
    road = b.rng.choice(names.ROADS)
    address = f"佛坪县{town}{road}{b.rng.randint(1, 188)}号"
    plan = f"{name}一区一策：停车规范、垃圾分类、楼道清理，每月联合巡查一次。" if kind != "SELF_BUILT" else None
    return Area(aid, parent, "COMPOUND", name, kind=kind, address=address, plan=plan, community=community)


async def _insert_areas(conn: Conn, county: int, rows: list[Area]) -> None:
    if not rows:
        return
    await conn.execute(
        INSERT_AREAS,
        [a.id for a in rows],
        [county for _ in rows],
        [a.parent for a in rows],
        [a.level for a in rows],
        [a.name for a in rows],
        [a.code for a in rows],
        [a.kind for a in rows],
        [a.address for a in rows],
        [a.plan for a in rows],
    )


def _columns(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)]


async def _write(conn: Conn, county: int, b: Builder, managers: list[tuple[int, int]]) -> None:
    orgs = [(oid, county, parent, kind, name, None, area) for oid, parent, kind, name, area in b.orgs]
    await conn.execute(INSERT_ORGANISATIONS, *_columns(orgs))
    await conn.execute(SET_PROPERTY_MANAGERS, *_columns(managers))
    households = [(h.id, county, h.area, h.building, h.label, None) for h in b.households]
    await conn.execute(INSERT_HOUSEHOLDS, *_columns(households))
    persons = [
        (
            p.id,
            county,
            p.name,
            p.phone,
            p.id_number,
            p.gender,
            p.birth_year,
            p.household,
            p.party_member,
            p.tags,
            None,
        )
        for p in sorted(b.persons, key=lambda x: x.id)
    ]
    await conn.execute(INSERT_PERSONS, *_columns(persons))
    posts = [(county, p, o, role, since) for p, o, role, since in b.posts]
    await conn.execute(INSERT_POSTS, *_columns(posts))
    start = datetime.datetime.combine(b.demo.today, datetime.time(9), tzinfo=datetime.UTC)
    responsibilities = [
        (county, area, person, start - datetime.timedelta(days=b.rng.randint(90, 900)))
        for area, person in sorted(b.responsible.items())
    ]
    await conn.execute(INSERT_RESPONSIBILITIES, *_columns(responsibilities))
