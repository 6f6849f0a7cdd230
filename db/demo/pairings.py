"""Demo step: 75 units adopt 218 compounds and buildings (every building covered), 830
cadres are paired with all 2,483 households, twelve months of visits with realistic gaps,
and dual registrations of both kinds."""

from __future__ import annotations

import calendar
import datetime
import random
from typing import Any, Final

from db.demo.load import Demo
from db.pool import Conn

ADOPTING_UNITS: Final = 75
ADOPTED_AREAS: Final = 218
SECOND_PAIRINGS: Final = 120
HISTORY_MONTHS: Final = 12
ENDED_ADOPTIONS: Final = 4
ENDED_PAIRINGS: Final = 60

BUILDING_COMPOUNDS: Final = "SELECT id, parent_id FROM areas WHERE id = ANY($1::bigint[]) ORDER BY id"
INSERT_ADOPTIONS: Final = """
INSERT INTO adoptions (county_id, unit_id, area_id, duties, since)
SELECT $1, t.unit_id, t.area_id, t.duties::text[], t.since
FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::date[]) AS t(unit_id, area_id, duties, since)
"""
INSERT_ENDED_ADOPTIONS: Final = """
INSERT INTO adoptions (county_id, unit_id, area_id, since, until)
SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::date[], $5::date[])
"""
INSERT_ENDED_PAIRINGS: Final = """
INSERT INTO pairings (county_id, cadre_id, household_id, since, until)
SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::date[], $5::date[])
"""
INSERT_PAIRINGS: Final = """
INSERT INTO pairings (county_id, cadre_id, household_id, since)
SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::date[])
RETURNING id, cadre_id, household_id, since
"""
HOME_COMMUNITIES: Final = """
SELECT p.id, c.id AS community_id
FROM persons p JOIN households h ON h.id = p.household_id JOIN areas b ON b.id = h.building_id
JOIN areas c ON c.id = ANY(b.path) AND c.level = 'COMMUNITY'
WHERE p.id = ANY($1::bigint[]) ORDER BY p.id
"""
INSERT_REGISTRATIONS: Final = """
INSERT INTO registrations (county_id, community_id, organisation_id, person_id, status, registered_at, decided_at)
SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::timestamptz[], $7::timestamptz[])
"""
COMMUNITY_OF_AREAS: Final = """
SELECT a.id, c.id AS community_id FROM areas a JOIN areas c ON c.id = ANY(a.path) AND c.level = 'COMMUNITY'
WHERE a.id = ANY($1::bigint[])
"""


def _month_start(day: datetime.date, back: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 - back
    return datetime.date(index // 12, index % 12 + 1, 1)


def _month_end(start: datetime.date) -> datetime.date:
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def _half(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    if day.month <= 6:
        return datetime.date(day.year, 1, 1), datetime.date(day.year, 6, 30)
    return datetime.date(day.year, 7, 1), datetime.date(day.year, 12, 31)


def _day_between(rng: random.Random, first: datetime.date, last: datetime.date) -> datetime.date:
    return first + datetime.timedelta(days=rng.randint(0, (last - first).days))


async def _adoptions(demo: Demo, conn: Conn) -> None:
    """All compounds are adopted, so every building is covered; the rest of the 218 are
    buildings adopted directly (often by a second unit)."""
    ids, rng, sample = demo.ids, demo.rng, demo.ids["sample"]
    compounds = list(ids["compounds"])
    parents = {r["id"]: r["parent_id"] for r in await conn.fetch(BUILDING_COMPOUNDS, ids["buildings"])}
    assert len(compounds) <= ADOPTED_AREAS <= len(compounds) + len(parents)
    units = list(ids["units"])[:ADOPTING_UNITS]
    assert sample["unit"] in units and len(units) == ADOPTING_UNITS
    units.remove(sample["unit"])
    rng.shuffle(units)
    units.insert(0, sample["unit"])  # the sample unit adopts the sample resident's compound
    home_compound = parents[sample["resident_building"]]
    compounds.remove(home_compound)
    rng.shuffle(compounds)
    buildings = sorted(parents)
    rng.shuffle(buildings)
    areas = [home_compound, *compounds, *buildings[: ADOPTED_AREAS - len(compounds) - 1]]
    duty_sets = [
        "{ASSIST_MANAGEMENT,PUBLIC_SERVICE,MOBILISATION}",
        "{ASSIST_MANAGEMENT,PUBLIC_SERVICE}",
        "{PUBLIC_SERVICE,MOBILISATION}",
    ]
    await conn.execute(
        INSERT_ADOPTIONS,
        ids["county"],
        [units[i % len(units)] for i in range(len(areas))],
        areas,
        [duty_sets[0] if rng.random() < 0.7 else rng.choice(duty_sets[1:]) for _ in areas],
        [demo.today - datetime.timedelta(days=rng.randint(400, 1200)) for _ in areas],
    )
    # history: adoptions of buildings that ended (their compounds stay adopted)
    ended = buildings[ADOPTED_AREAS - len(compounds) - 1 :][:ENDED_ADOPTIONS]
    await conn.execute(
        INSERT_ENDED_ADOPTIONS,
        ids["county"],
        [rng.choice(units) for _ in ended],
        ended,
        [demo.today - datetime.timedelta(days=rng.randint(900, 1500)) for _ in ended],
        [demo.today - datetime.timedelta(days=rng.randint(100, 800)) for _ in ended],
    )


async def _pairings(demo: Demo, conn: Conn) -> list[tuple[int, int, int, datetime.date]]:
    """Every household paired, every cadre pairing at least one; the sample cadre with the
    sample resident's household and not the neighbour's."""
    ids, rng, sample = demo.ids, demo.rng, demo.ids["sample"]
    households = [
        h for h in ids["households"] if h not in (sample["resident_household"], sample["neighbour_household"])
    ]
    rng.shuffle(households)
    others = [c for c in ids["cadres"] if c != sample["cadre"]]
    rng.shuffle(others)
    cycle = [*others, sample["cadre"]]
    pairs = [(sample["cadre"], sample["resident_household"]), (others[0], sample["neighbour_household"])]
    pairs += [(cycle[(i + 1) % len(cycle)], h) for i, h in enumerate(households)]
    taken = set(pairs)
    target = len(pairs) + SECOND_PAIRINGS
    while len(pairs) < target:
        pair = (rng.choice(others), rng.choice(households))
        if pair not in taken:
            taken.add(pair)
            pairs.append(pair)

    def since() -> datetime.date:
        if rng.random() < 0.1:  # recent pairings: their history is short
            return demo.today - datetime.timedelta(days=rng.randint(20, 180))
        return demo.today - datetime.timedelta(days=rng.randint(400, 1000))

    starts = [since() for _ in pairs]
    starts[0] = demo.today - datetime.timedelta(days=700)
    rows = await conn.fetch(INSERT_PAIRINGS, ids["county"], [c for c, _ in pairs], [h for _, h in pairs], starts)
    # history: pairings that ended before the current ones (a cadre moved on)
    earlier = rng.sample(households, ENDED_PAIRINGS)
    await conn.execute(
        INSERT_ENDED_PAIRINGS,
        ids["county"],
        [rng.choice(others) for _ in earlier],
        earlier,
        [demo.today - datetime.timedelta(days=rng.randint(1300, 1800)) for _ in earlier],
        [demo.today - datetime.timedelta(days=rng.randint(1000, 1250)) for _ in earlier],
    )
    return [(r["id"], r["cadre_id"], r["household_id"], r["since"]) for r in rows]


def _elapsed(first: datetime.date, last: datetime.date, today: datetime.date) -> float:
    """How far the period [first, last] has gone on `today`: 1/length on its first day,
    1.0 on its last (and after it)."""
    return min(1.0, ((today - first).days + 1) / ((last - first).days + 1))


def _done_share(keen: float, first: datetime.date, last: datetime.date, today: datetime.date) -> float:
    """The chance that a cadre of diligence `keen` has met an obligation of the period
    [first, last] by `today`. A past period: `keen`. The current one: from about a sixth of
    `keen` on its first day (some cadres visit on the 1st) up to `keen` on its last, so on
    every day of the year each obligation kind has both MET and DUE pairings."""
    return keen * (0.15 + 0.85 * _elapsed(first, last, today))


def _visits(demo: Demo, pairings: list[tuple[int, int, int, datetime.date]]) -> list[tuple[Any, ...]]:
    """Twelve months of history: each cadre keeps up with a diligence of their own, so some
    obligations are DUE; the current month, half-year and year are done in proportion to
    how far they have gone (`_done_share`)."""
    rng, today, county = demo.rng, demo.today, demo.ids["county"]
    sample_cadre, sample_household = demo.ids["sample"]["cadre"], demo.ids["sample"]["resident_household"]
    window = _month_start(today, HISTORY_MONTHS - 1)
    diligence: dict[int, float] = {}
    rows: list[tuple[Any, ...]] = []
    notes = {
        "HOME_VISIT": ["入户走访，了解家庭近况", "上门看望老人，检查用电安全", "走访了解就业需求"],
        "HEART_TO_HEART": ["谈心谈话，倾听意见建议", "与户主谈心，了解邻里关系"],
        "GOOD_DEED": ["协助办理医保报销", "帮助修缮漏水屋顶", "联系就业岗位", "代办低保年审"],
    }

    def add(pairing: int, kind: str, first: datetime.date, last: datetime.date) -> None:
        if first <= last:
            rows.append((county, pairing, kind, _day_between(rng, first, last), rng.choice(notes[kind])))

    for pairing, cadre, household, since in pairings:
        keen = diligence.setdefault(cadre, rng.choice([0.97, 0.93, 0.9, 0.85, 0.75, 0.55]))
        sample = cadre == sample_cadre and household == sample_household
        start = max(since, window)
        for back in range(HISTORY_MONTHS - 1, -1, -1):
            month = _month_start(today, back)
            chance = _done_share(keen, month, _month_end(month), today)
            if sample and back == 0:
                chance = 0.0  # the sample cadre still owes this month's home visit
            if rng.random() < chance:
                add(pairing, "HOME_VISIT", max(month, start), min(_month_end(month), today))
        halves = sorted({_half(start), _half(today), _half(_month_start(today, 6))})
        for first, last in halves:
            if sample or rng.random() < _done_share(keen, first, last, today):
                add(pairing, "HEART_TO_HEART", max(first, start), min(last, today))
        for year in sorted({start.year, today.year}):
            first, last = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
            if sample or rng.random() < _done_share(keen, first, last, today):
                add(pairing, "GOOD_DEED", max(first, start), min(last, today))
    return rows


async def _registrations(demo: Demo, conn: Conn) -> None:
    """Units' party branches with the community of an area they adopt; party members with
    their home community. Most are confirmed, some still pending."""
    ids, rng = demo.ids, demo.rng
    county, sample = ids["county"], ids["sample"]
    now = datetime.datetime.combine(demo.today, datetime.time(10), tzinfo=datetime.UTC)
    adopted = await conn.fetch("SELECT unit_id, area_id FROM adoptions WHERE county_id = $1 ORDER BY id", county)
    community_of = {
        r["id"]: r["community_id"] for r in await conn.fetch(COMMUNITY_OF_AREAS, [r["area_id"] for r in adopted])
    }
    branches: dict[int, int] = ids.get("unit_party_branches", {})
    served: dict[tuple[int, int], None] = {}
    for r in adopted:
        if r["unit_id"] in branches:
            served[(branches[r["unit_id"]], community_of[r["area_id"]])] = None
    organisation_rows = [(community, branch, None) for branch, community in served]
    members = sorted(ids["party_members"])
    chosen = sorted(rng.sample(members, min(len(members), 400)))
    homes = await conn.fetch(HOME_COMMUNITIES, chosen)
    person_rows = [(r["community_id"], None, r["id"]) for r in homes]
    # the sample cadre takes the sample community's orders: registered there, confirmed
    if not any(r[2] == sample["cadre"] and r[0] == sample["community"] for r in person_rows):
        person_rows.append((sample["community"], None, sample["cadre"]))
    rows = organisation_rows + person_rows
    statuses, registered, decided = [], [], []
    for community, branch, person in rows:
        at = now - datetime.timedelta(days=rng.randint(1, 600), hours=rng.randint(0, 8))
        sample_branch = (
            branch is not None and branch == branches.get(sample["unit"]) and community == sample["community"]
        ) or (person == sample["cadre"] and community == sample["community"])
        pending = not sample_branch and (rng.random() < 0.12 or (now - at).days < 7)
        statuses.append("PENDING" if pending else "CONFIRMED")
        registered.append(at)
        decided.append(None if pending else at + datetime.timedelta(days=rng.randint(1, 6)))
    await conn.execute(
        INSERT_REGISTRATIONS,
        county,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        statuses,
        registered,
        decided,
    )


async def step(demo: Demo) -> None:
    conn = demo.conn
    await _adoptions(demo, conn)
    pairings = await _pairings(demo, conn)
    demo.ids["pairings"] = [p[0] for p in pairings]
    visits = _visits(demo, pairings)
    await conn.raw.copy_records_to_table(
        "visits", records=visits, columns=["county_id", "pairing_id", "kind", "occurred_on", "notes"]
    )
    await _registrations(demo, conn)
